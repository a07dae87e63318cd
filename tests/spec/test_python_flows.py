"""A .py file of @flow functions → the body of POST flows."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jsonschema
import pytest

from jupyter_flows.spec.python_flows import FlowFileError, registration

TWO_FLOWS = """
from typing import Literal

from jupyter_flows import flow, task


class Opaque:
    pass


@task
def extract(n: int) -> list[int]:
    return list(range(n))


@task(name="sum-up")
def total(values: list[int]) -> int:
    return sum(values)


@flow(description="Sums the first n numbers.")
def etl(n: int, scale: float = 1.0, mode: Literal["fast", "slow"] = "fast") -> int:
    return total(extract(n))


@flow(name="other-flow")
def other(thing: Opaque, label="x"):
    return None
"""


def write(tmp_path: Path, text: str, name: str = "pipeline.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_body_describes_the_flow_its_tasks_and_its_parameters(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_FLOWS)
    body = registration(path, flow="etl")
    assert body["name"] == "etl"
    assert body["description"] == "Sums the first n numbers."
    assert body["entrypoint"] == f"{path.as_posix()}:etl"
    content = body["content"]
    assert [(t["key"], t["name"]) for t in content["tasks"]] == [
        ("pipeline.extract", "extract"),
        ("pipeline.total", "sum-up"),
    ]
    assert all(len(t["code_hash"]) == 64 for t in content["tasks"])
    assert content["edges"] == [] and content["run_config"] == {}
    assert content["task_runner"] == "threads" and content["resource_spec_hash"] is None
    schema = content["parameter_schema"]
    assert schema["required"] == ["n"]
    assert schema["properties"]["n"]["type"] == "integer"
    assert schema["properties"]["scale"]["default"] == 1.0
    assert schema["properties"]["mode"]["enum"] == ["fast", "slow"]
    jsonschema.validate({"n": 3, "mode": "slow"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"n": "three"}, schema)
    with pytest.raises(jsonschema.ValidationError):  # no **kwargs: no other parameter
        jsonschema.validate({"n": 3, "nope": 1}, schema)


def test_a_flow_with_kwargs_takes_any_other_parameter(tmp_path: Path) -> None:
    path = tmp_path / "open_flow.py"
    path.write_text(
        "from jupyter_flows import flow\n\n\n@flow\ndef open_ended(n: int, **extra) -> int:\n"
        "    return n\n"
    )
    schema = registration(path)["content"]["parameter_schema"]
    assert "additionalProperties" not in schema
    jsonschema.validate({"n": 3, "anything": [1, 2]}, schema)


def test_the_same_file_gives_the_same_content(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_FLOWS)
    assert registration(path, flow="etl") == registration(path, flow="etl")


def test_a_flow_is_chosen_by_function_or_flow_name(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_FLOWS)
    assert registration(path, flow="other")["name"] == "other-flow"
    by_name = registration(path, flow="other-flow", name="renamed", project="team")
    assert by_name["name"] == "renamed" and by_name["project"] == "team"
    assert by_name["entrypoint"].endswith("pipeline.py:other")


def test_a_type_json_schema_cannot_describe_accepts_anything(tmp_path: Path) -> None:
    schema = registration(write(tmp_path, TWO_FLOWS), flow="other")["content"]["parameter_schema"]
    assert schema["required"] == ["thing"]
    assert "type" not in schema["properties"]["thing"]
    jsonschema.validate({"thing": {"any": "value"}, "label": "y"}, schema)


@pytest.mark.parametrize(
    ("text", "flow", "message"),
    [
        (TWO_FLOWS, None, "several flows (etl, other): pick one with --flow"),
        (TWO_FLOWS, "missing", "no flow named 'missing'; it has etl, other"),
        ("x = 1\n", None, "no @flow functions found"),
        ("import not_a_module_anywhere\n", None, "failed to import: ModuleNotFoundError"),
    ],
)
def test_files_that_cannot_be_registered_say_why(
    tmp_path: Path, text: str, flow: str | None, message: str
) -> None:
    with pytest.raises(FlowFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        registration(write(tmp_path, text), flow=flow)


def test_a_missing_or_non_python_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FlowFileError, match="no such file"):
        registration(tmp_path / "nope.py")
    with pytest.raises(FlowFileError, match="ending in .py"):
        registration(write(tmp_path, "x = 1", name="notes.txt"))
