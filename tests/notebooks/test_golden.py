"""Golden DAGs: each notebook's FlowSpec document, checked in beside it.

A change to the conversion shows up here as a diff of the JSON. When the change is meant,
regenerate the files and review them like code::

    JUPYTER_FLOWS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/notebooks/test_golden.py
    node_modules/.bin/prettier --write schema/flow-spec.schema.json
"""

from __future__ import annotations

import json
import os
import typing
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from jupyter_flows.notebooks import FlowSpec, inspect_path
from jupyter_flows.spec.flow_spec import document_schema

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "notebooks"
SCHEMA_FILE = ROOT / "schema" / "flow-spec.schema.json"
UPDATE = os.environ.get("JUPYTER_FLOWS_UPDATE_GOLDEN") == "1"

# (golden name, file, options)
CASES: list[tuple[str, Path, dict[str, Any]]] = [
    *((p.stem, p, {}) for p in sorted(DATA.glob("*.ipynb")) if p.stem != "unpicklable"),
    ("unpicklable", DATA / "unpicklable.ipynb", {"engine": "tasks"}),
    ("example-sales-report", ROOT / "examples" / "sales-report.ipynb", {}),
    ("example-sales-report.selection", ROOT / "examples" / "sales-report.ipynb", {"cells": [9]}),
    ("example-word_stats", ROOT / "examples" / "word_stats.py", {}),
]


def golden_document(path: Path, **options: Any) -> str:
    """The inspect document, with the path as it would be given from the repository root."""
    spec = inspect_path(path, **options)
    relative = path.relative_to(ROOT).as_posix()
    return spec.model_copy(
        update={"source": spec.source.model_copy(update={"path": relative})}
    ).to_json()


@pytest.mark.parametrize(("name", "path", "options"), [pytest.param(*c, id=c[0]) for c in CASES])
def test_golden_dag(name: str, path: Path, options: dict[str, Any]) -> None:
    golden = DATA / f"{name}.dag.json"
    text = golden_document(path, **options)
    if UPDATE:
        golden.write_text(text)
    assert golden.exists(), f"no {golden.name}: run with JUPYTER_FLOWS_UPDATE_GOLDEN=1"
    assert text == golden.read_text()


def test_every_test_notebook_has_a_golden_dag() -> None:
    goldens = {p.name.removesuffix(".dag.json") for p in DATA.glob("*.dag.json")}
    assert goldens == {name for name, _, _ in CASES}


def test_the_checked_in_schema_is_current() -> None:
    """Every model and field of spec.py is in the file (compared by name, so that a newer
    pydantic writing the same schema a little differently does not fail the suite)."""
    if UPDATE and json.loads(SCHEMA_FILE.read_text() or "null") != document_schema():
        SCHEMA_FILE.write_text(json.dumps(document_schema(), indent=2) + "\n")
    checked_in = json.loads(SCHEMA_FILE.read_text())
    models = {FlowSpec, *(_nested_models(FlowSpec))}
    assert set(checked_in["$defs"]) == {m.__name__ for m in models if m is not FlowSpec}
    for model in models:
        schema = checked_in if model is FlowSpec else checked_in["$defs"][model.__name__]
        assert list(schema["properties"]) == list(model.model_fields), model.__name__
        required = [n for n, f in model.model_fields.items() if f.is_required()]
        assert schema.get("required", []) == required, model.__name__


def _nested_models(model: type[BaseModel]) -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    for field in model.model_fields.values():
        for arg in [field.annotation, *typing.get_args(field.annotation)]:
            for inner in [arg, *typing.get_args(arg)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in found:
                    found |= {inner, *_nested_models(inner)}
    return found


@pytest.mark.parametrize("golden", sorted(DATA.glob("*.dag.json")), ids=lambda p: p.name)
def test_golden_documents_fit_the_schema(golden: Path) -> None:
    document = json.loads(golden.read_text())
    Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(document)
    FlowSpec.model_validate(document)  # and read back into the model
