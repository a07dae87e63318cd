"""The run's environment: the lock as requirements, and why a build failed, in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_flows.agent.environment import failure_reason, requirements
from jupyter_flows.spec.resource_spec import ResourceSpec


def spec_of(*packages: dict) -> ResourceSpec:
    return ResourceSpec({"image": {"python": {"version": "3.11.7"}, "packages": list(packages)}})


def test_the_lock_as_requirements(tmp_path: Path) -> None:
    local = tmp_path / "mylib"
    local.mkdir()
    lines = requirements(
        spec_of(
            {"name": "pip", "version": "24.0"},
            {"name": "pandas", "version": "2.2.3"},
            {
                "name": "mylib",
                "version": "0.1",
                "origin": {"kind": "editable", "url": f"file://{local}"},
            },
            {
                "name": "gone",
                "version": "1.0",
                "origin": {"kind": "local", "url": "file:///nowhere"},
            },
            {
                "name": "tool",
                "version": "3.0",
                "origin": {
                    "kind": "vcs",
                    "url": "https://g.example/t.git",
                    "vcs": "git",
                    "commit": "abc",
                },
            },
        )
    )
    assert lines == [
        "gone==1.0",
        f"-e {local}",
        "pandas==2.2.3",
        "tool @ git+https://g.example/t.git@abc",
    ]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            [
                "Looking in links: /wheels",
                "ERROR: Could not find a version that satisfies the requirement tinypkg==9.9 "
                "(from versions: 1.0, 2.0)",
                "ERROR: No matching distribution found for tinypkg==9.9",
            ],
            "the package tinypkg==9.9 failed to install",
        ),
        (
            [
                "  × No solution found when resolving dependencies:",
                "  ╰─▶ Because there is no version of tinypkg==9.9 and you require "
                "tinypkg==9.9, we can conclude that your requirements are unsatisfiable.",
            ],
            "the package tinypkg==9.9 failed to install",
        ),
        (["something odd", "error: disk full"], "error: disk full"),
    ],
)
def test_a_failed_build_names_the_package(output: list[str], expected: str) -> None:
    assert failure_reason(output) == expected
