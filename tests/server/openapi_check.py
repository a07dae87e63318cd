"""Checks answers against schema/openapi.yaml: the status must be documented for the
operation, and a JSON body must fit the documented schema (JSON Schema 2020-12)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SPEC_PATH = Path(__file__).resolve().parents[2] / "schema" / "openapi.yaml"


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


@cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template.strip("/"))
        routes.append((re.compile(f"^{pattern}$"), template))
    # Literal segments first: "flow-runs/x/logs/download" before a wider template.
    routes.sort(key=lambda r: -r[1].count("/") * 100 + r[1].count("{"))
    return routes


def operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """(template, operation) of ``method path`` (path relative to /api/flows/)."""
    path = path.split("?")[0].strip("/")
    for pattern, template in _routes():
        if pattern.match(path):
            ops = spec()["paths"][template]
            op = ops.get(method.lower())
            assert op is not None, f"{method} {template} is not in openapi.yaml"
            return template, op
    raise AssertionError(f"no path of openapi.yaml matches {path!r}")


def _resolve(obj: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in obj:
        ref = obj["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = spec()
        for part in ref[2:].split("/"):
            node = node[part]
        obj = node
    return obj


def check(method: str, path: str, status: int, content_type: str, body: Any) -> None:
    template, op = operation(method, path)
    responses = op["responses"]
    assert str(status) in responses, (
        f"{method} {template} answered {status}, which openapi.yaml does not document"
    )
    response = _resolve(responses[str(status)])
    content = response.get("content")
    if not content:
        assert body in (None, b"", ""), f"{method} {template} {status} should have no body"
        return
    if "application/json" not in content:
        assert content_type.split(";")[0] in content, (method, template, content_type)
        return
    assert content_type.startswith("application/json"), (method, template, content_type)
    schema = content["application/json"]["schema"]
    root = {"allOf": [schema], "components": spec()["components"]}
    errors = list(Draft202012Validator(root).iter_errors(body))
    assert not errors, (
        f"{method} {template} {status}: {errors[0].message} at {list(errors[0].path)}"
    )


def check_event(message: Any) -> None:
    root = {"$ref": "#/components/schemas/Event", "components": spec()["components"]}
    errors = list(Draft202012Validator(root).iter_errors(message))
    assert not errors, f"event: {errors[0].message} at {list(errors[0].path)}"
