"""FlowSpec: one description for every kind of flow, and back from a registered content."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.notebooks import inspect_path, inspect_script
from jupyter_flows.spec.flow_spec import (
    FlowKind,
    FlowSpec,
    FlowSpecError,
    kind_of,
    notebook_entrypoint,
    parse_entrypoint,
)
from jupyter_flows.spec.python_flows import registration
from jupyter_flows.store.hashing import canonical_json, flow_version_id, sha256_hex

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DIGEST = "ab" * 32
PERCENT = "# %%\nx = 1\n\n# %%\ny = x + 1\n"


@pytest.mark.parametrize(
    ("spec", "kind", "engine"),
    [
        (lambda: inspect_path(EXAMPLES / "sales-report.ipynb"), FlowKind.NOTEBOOK, "kernel"),
        (
            lambda: inspect_path(EXAMPLES / "sales-report.ipynb", engine="tasks"),
            FlowKind.NOTEBOOK,
            "tasks",
        ),
        (lambda: inspect_path(EXAMPLES / "word_stats.py"), FlowKind.SCRIPT, "kernel"),
        (lambda: inspect_script(PERCENT, path="steps.py"), FlowKind.SCRIPT, "kernel"),
        (lambda: inspect_path(EXAMPLES / "etl_flow.py"), FlowKind.MODULE, None),
    ],
    ids=["notebook", "notebook-tasks", "script", "percent-script", "module"],
)
def test_every_converter_says_what_kind_of_flow_it_made(
    spec: Any, kind: FlowKind, engine: str | None
) -> None:
    made: FlowSpec = spec()
    assert (made.kind, made.notebook_engine) == (kind, engine)
    content = made.to_content()
    assert content["kind"] == kind.value
    assert "kind" not in made.to_document()  # the inspect document keeps format version 1


def test_a_module_registration_is_its_flow_spec_content() -> None:
    body = registration(EXAMPLES / "etl_flow.py")
    spec = inspect_path(EXAMPLES / "etl_flow.py")
    assert body["content"] == spec.to_content(run_config=body["content"]["run_config"])
    assert body["content"]["kind"] == "module"
    assert body["entrypoint"] == spec.entrypoint


@pytest.mark.parametrize(
    ("spec", "entrypoint"),
    [
        (
            lambda: inspect_path(EXAMPLES / "sales-report.ipynb", engine="tasks"),
            notebook_entrypoint("reports/sales-report.ipynb", DIGEST),
        ),
        (
            lambda: inspect_path(EXAMPLES / "word_stats.py"),
            notebook_entrypoint("word_stats.py", DIGEST),
        ),
        (lambda: inspect_path(EXAMPLES / "etl_flow.py"), "examples/etl_flow.py:etl"),
    ],
    ids=["notebook", "script", "module"],
)
def test_from_content_reads_back_what_to_content_wrote(spec: Any, entrypoint: str) -> None:
    made: FlowSpec = spec()
    content = made.to_content(run_config={"retries": 2}, resource_spec_hash="r1")
    back = FlowSpec.from_content(content, entrypoint=entrypoint)
    assert back.to_content(run_config={"retries": 2}, resource_spec_hash="r1") == content
    assert (back.kind, back.engine, back.task_runner) == (made.kind, made.engine, made.task_runner)
    assert [(t.key, t.code_hash, t.cell_ids) for t in back.tasks] == [
        (t.key, t.code_hash, t.cell_ids) for t in made.tasks
    ]
    assert back.source.path and entrypoint.startswith(back.source.path)
    assert back.name == Path(back.source.path).stem


@pytest.mark.parametrize(
    ("task_runner", "entrypoint", "kind"),
    [
        ("threads", "etl.py:etl", FlowKind.MODULE),
        (None, None, FlowKind.MODULE),
        ({"max_workers": 4}, "etl.py:etl", FlowKind.MODULE),
        ({"engine": "kernel"}, notebook_entrypoint("report.ipynb", DIGEST), FlowKind.NOTEBOOK),
        ({"engine": "tasks", "runner": "threads"}, None, FlowKind.NOTEBOOK),
        ({"engine": "kernel"}, notebook_entrypoint("report.py", DIGEST), FlowKind.SCRIPT),
    ],
)
def test_a_content_registered_before_kinds_is_read_by_the_rule_of_its_time(
    task_runner: Any, entrypoint: str | None, kind: FlowKind
) -> None:
    content = {"tasks": [{"key": "a", "code_hash": "h"}], "task_runner": task_runner}
    assert FlowSpec.from_content(content, entrypoint=entrypoint).kind is kind
    assert kind_of(content, entrypoint) is kind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"kind": "pipeline"}, "unknown flow kind 'pipeline'; known: module, notebook, script"),
        ({"kind": "notebook", "task_runner": "threads"}, "names its notebook engine"),
        ({"kind": "script", "task_runner": {"engine": "flow"}}, "names its notebook engine"),
        ({"kind": "notebook", "task_runner": {}}, "names its notebook engine"),
        ({"kind": "module", "tasks": [{"name": "keyless"}]}, "does not describe a flow"),
        # Any engine name a package may register is read (the agent that runs it knows them
        # all); a name no registry could hold is not.
        (
            {"kind": "notebook", "task_runner": {"engine": "no such/name"}},
            "does not describe a flow",
        ),
    ],
)
def test_a_content_that_describes_no_flow_is_refused(content: dict[str, Any], message: str) -> None:
    with pytest.raises(FlowSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FlowSpec.from_content(content)


def test_entrypoints_of_notebooks_and_modules() -> None:
    assert parse_entrypoint(notebook_entrypoint("a/b.ipynb", DIGEST)) == ("a/b.ipynb", DIGEST)
    assert parse_entrypoint("etl.py:etl") is None and parse_entrypoint(None) is None


def test_a_content_without_a_kind_keeps_the_id_it_had_before_kinds() -> None:
    """Versions stored before kinds were written down are found again by their content."""
    content = {
        "tasks": [{"key": "a", "code_hash": "h"}],
        "edges": [],
        "parameters": {},
        "task_runner": "threads",
        "run_config": {},
        "resource_spec_hash": None,
    }
    before = sha256_hex(canonical_json({"flow": ["default", "etl"], "content": content}))
    assert flow_version_id("default", "etl", content) == before
    with_kind = flow_version_id("default", "etl", {**content, "kind": "module"})
    assert with_kind != before


def test_a_module_run_reads_its_kind_without_pydantic() -> None:
    """A run's process decides what to load before anything else; for a module's @flow it
    never needs pydantic (its import would be most of the time to the flow's first line)."""
    code = (
        "import json, sys\n"
        "import jupyter_flows.agent.execute, jupyter_flows.spec.python_flows\n"
        "from jupyter_flows.spec.flow_kind import kind_of\n"
        "assert kind_of({'kind': 'module'}).value == 'module'\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "pydantic" not in json.loads(out)
