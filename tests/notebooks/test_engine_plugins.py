"""Notebook engines and task runners from another package, found through entry points."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.engine import runners
from jupyter_flows.notebooks import engines
from jupyter_flows.notebooks.engines import NotebookRunError, get_engine
from jupyter_flows.notebooks.engines import base as engines_base
from jupyter_flows.notebooks.engines.base import NotebookDocument
from jupyter_flows.spec.flow_spec import FlowSpec
from tests.notebooks.engines_helpers import run
from tests.plugins import PACKAGE, install_plugins


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo plugins installed, and the registries copies for this test."""
    registry = engines.NOTEBOOK_ENGINES.copy()
    monkeypatch.setattr(engines, "NOTEBOOK_ENGINES", registry)
    monkeypatch.setattr(engines_base, "NOTEBOOK_ENGINES", registry)
    monkeypatch.setattr(runners, "TASK_RUNNERS", runners.TASK_RUNNERS.copy())
    return install_plugins(tmp_path / "plugins", monkeypatch)


def _notebook() -> dict[str, Any]:
    sources = [
        ("n = 2", ["parameters"]),
        ("total = n * 21", []),
        (
            "from jupyter_flows import get_run_logger\nget_run_logger().info('total is %d', total)",
            [],
        ),
    ]
    cells = [
        {
            "cell_type": "code",
            "id": f"c{i}",
            "metadata": {"tags": tags},
            "source": source,
            "outputs": [],
            "execution_count": None,
        }
        for i, (source, tags) in enumerate(sources)
    ]
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def test_a_notebook_runs_on_a_third_party_engine(plugins: Path, tmp_path: Path) -> None:
    document = NotebookDocument.load(_notebook())
    spec = document.inspect(None, "kernel")
    got = run(document, tmp_path, {"n": 3}, spec=spec, engine="inline")
    assert got.result.is_completed(), got.result.state.message
    assert got.result.engine == "inline"
    keys = list(got.result.task_runs)
    assert set(got.result.task_states().values()) == {"Completed"}
    assert got.logs(keys[-1]) == ["total is 63"]
    assert get_engine("inline").__module__ == f"{PACKAGE}.engine"


def test_the_tasks_engine_runs_cells_on_a_third_party_runner_named_in_the_run(
    plugins: Path, tmp_path: Path
) -> None:
    got = run(_notebook(), tmp_path, engine="tasks", task_runner="recording")
    assert got.result.is_completed(), got.result.state.message
    assert got.logs(list(got.result.task_runs)[-1], 20) == ["total is 42"]
    submitted = sys.modules[f"{PACKAGE}.runner"].SUBMITTED
    assert len(submitted) == 3


def test_unknown_and_broken_plugins_are_notebook_run_errors(plugins: Path, tmp_path: Path) -> None:
    with pytest.raises(NotebookRunError, match="unknown notebook engine 'nope'; known: inline, "):
        get_engine("nope")
    with pytest.raises(NotebookRunError, match="unknown task runner 'spark'; known: .*recording"):
        run(_notebook(), tmp_path, engine="tasks", task_runner="spark")
    engines.register_engine("broken", f"{PACKAGE}.broken:Engine")
    with pytest.raises(NotebookRunError, match="notebook engine 'broken' .*cannot be loaded"):
        get_engine("broken")


def test_a_third_party_engine_is_the_flow_specs_engine_and_reads_back(
    plugins: Path, tmp_path: Path
) -> None:
    """Registering names the engine in the FlowSpec; the run process reads it back."""
    document = NotebookDocument.load(_notebook())
    spec = document.inspect(None, "inline")
    assert spec.engine == "inline"
    content = spec.to_content()
    assert content["task_runner"]["engine"] == "inline"
    back = FlowSpec.from_content(content, entrypoint="nb.ipynb#sha256=" + "0" * 64)
    assert back.engine == back.notebook_engine == "inline"
    got = run(document, tmp_path, {"n": 5}, spec=spec)
    assert got.result.engine == "inline" and got.result.is_completed()


def test_an_engine_no_package_registers_is_refused_with_the_known_ones(plugins: Path) -> None:
    document = NotebookDocument.load(_notebook())
    with pytest.raises(NotebookRunError, match="unknown notebook engine 'spark'; known: inline, "):
        document.inspect(None, "spark")
