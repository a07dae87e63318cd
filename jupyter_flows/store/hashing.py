"""Flow version identity: canonical content, its hash, and what changed between two.

A flow version's content is a JSON document with exactly these fields::

    {
      "kind": "module" | "notebook" | "script",  # left out by contents made before kinds
      "tasks": [{"key": "load", "code_hash": "ab12…", …any other task settings}],
      "edges": [["load", "train"]],           # upstream key, downstream key
      "parameters": {JSON Schema of the flow's parameters},
      "task_runner": "threads" | {…} | None,
      "run_config": {…},                      # infrastructure settings
      "resource_spec_hash": "…" | None,
      "resource_spec": {…},                   # the ResourceSpec; left out when none
    }

Task order and edge order do not matter (both are sorted); object keys are sorted by the
canonical JSON. So two registrations of the same flow give the same id however their
producer happened to order things.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

CONTENT_FIELDS = (
    "kind",
    "tasks",
    "edges",
    "parameters",
    "task_runner",
    "run_config",
    "resource_spec_hash",
    "resource_spec",
)


class InvalidContent(ValueError):
    """A flow version's content is not of the documented shape."""


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal data gives equal text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_content(content: Mapping[str, Any]) -> dict[str, Any]:
    """Check the shape of ``content`` and return it in canonical order with defaults filled."""
    unknown = set(content) - set(CONTENT_FIELDS)
    if unknown:
        raise InvalidContent(f"unknown flow version fields: {', '.join(sorted(unknown))}")
    tasks_in = content.get("tasks") or []
    if not isinstance(tasks_in, list):
        raise InvalidContent("tasks must be a list")
    tasks: dict[str, dict[str, Any]] = {}
    for task in tasks_in:
        if not isinstance(task, Mapping):
            raise InvalidContent("each task must be an object")
        key, code_hash = task.get("key"), task.get("code_hash")
        if not isinstance(key, str) or not key:
            raise InvalidContent("each task needs a non-empty string 'key'")
        if not isinstance(code_hash, str):
            raise InvalidContent(f"task {key!r} needs a string 'code_hash'")
        if key in tasks:
            raise InvalidContent(f"duplicate task key {key!r}")
        tasks[key] = dict(task)
    edges: set[tuple[str, str]] = set()
    for edge in content.get("edges") or []:
        if not (isinstance(edge, (list, tuple)) and len(edge) == 2):
            raise InvalidContent(f"an edge is a pair [upstream, downstream], got {edge!r}")
        upstream, downstream = edge
        for end in (upstream, downstream):
            if end not in tasks:
                raise InvalidContent(f"edge {list(edge)!r} names an unknown task {end!r}")
        edges.add((upstream, downstream))
    parameters = content.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise InvalidContent("parameters must be a JSON Schema object")
    spec_hash = content.get("resource_spec_hash")
    if spec_hash is not None and not isinstance(spec_hash, str):
        raise InvalidContent("resource_spec_hash must be a string or null")
    kind = content.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise InvalidContent("kind must be a string or null")
    # A content without a kind hashes as it did before kinds were written down.
    normalized: dict[str, Any] = {} if kind is None else {"kind": kind}
    normalized |= {
        "tasks": [tasks[key] for key in sorted(tasks)],
        "edges": [list(edge) for edge in sorted(edges)],
        "parameters": dict(parameters),
        "task_runner": content.get("task_runner"),
        "run_config": content.get("run_config") or {},
        "resource_spec_hash": spec_hash,
    }
    resource_spec = content.get("resource_spec")
    if resource_spec is not None:  # absent: the content hashes as before specs existed
        if not isinstance(resource_spec, Mapping):
            raise InvalidContent("resource_spec must be an object or null")
        normalized["resource_spec"] = dict(resource_spec)
    # Round-trip through canonical JSON: rejects what JSON cannot hold (NaN, sets, objects)
    # and makes the stored document exactly what was hashed.
    try:
        result: dict[str, Any] = json.loads(canonical_json(normalized))
    except (TypeError, ValueError) as exc:
        raise InvalidContent(f"flow version content is not plain JSON: {exc}") from None
    return result


def flow_version_id(project: str, name: str, content: Mapping[str, Any]) -> str:
    """The id of a flow version: sha256 hex of its canonical content.

    The flow's project and name are hashed with it, so two flows that happen to hold equal
    content stay two versions (with two histories) rather than sharing one row.
    """
    normalized = normalize_content(content)
    return sha256_hex(canonical_json({"flow": [project, name], "content": normalized}))


def diff_contents(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` (both normalised), as a small JSON document.

    ``tasks.changed`` lists ``{"key", "fields"}``: ``"code_hash"`` in fields means the
    task's code changed; any other field is a setting.
    """
    old_tasks = {t["key"]: t for t in old["tasks"]}
    new_tasks = {t["key"]: t for t in new["tasks"]}
    changed_tasks = []
    for key in sorted(old_tasks.keys() & new_tasks.keys()):
        before, after = old_tasks[key], new_tasks[key]
        fields = sorted(f for f in before.keys() | after.keys() if before.get(f) != after.get(f))
        if fields:
            changed_tasks.append({"key": key, "fields": fields})
    old_edges = {tuple(e) for e in old["edges"]}
    new_edges = {tuple(e) for e in new["edges"]}
    return {
        "tasks": {
            "added": sorted(new_tasks.keys() - old_tasks.keys()),
            "removed": sorted(old_tasks.keys() - new_tasks.keys()),
            "changed": changed_tasks,
        },
        "edges": {
            "added": [list(e) for e in sorted(new_edges - old_edges)],
            "removed": [list(e) for e in sorted(old_edges - new_edges)],
        },
        "parameters": _diff_schema(old["parameters"], new["parameters"]),
        "task_runner_changed": old["task_runner"] != new["task_runner"],
        "run_config_changed": old["run_config"] != new["run_config"],
        "resource_spec": (
            None
            if old["resource_spec_hash"] == new["resource_spec_hash"]
            else {"from": old["resource_spec_hash"], "to": new["resource_spec_hash"]}
        ),
    }


def _diff_schema(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[str]]:
    """Parameters added, removed or changed, by name (from the schemas' ``properties``)."""
    old_props = dict(old.get("properties") or {})
    new_props = dict(new.get("properties") or {})
    old_required, new_required = set(old.get("required") or []), set(new.get("required") or [])
    changed = [
        name
        for name in sorted(old_props.keys() & new_props.keys())
        if old_props[name] != new_props[name] or (name in old_required) != (name in new_required)
    ]
    rest_old = {k: v for k, v in old.items() if k not in ("properties", "required")}
    rest_new = {k: v for k, v in new.items() if k not in ("properties", "required")}
    if rest_old != rest_new:
        changed.append("*")  # a schema-wide setting (additionalProperties, title, …)
    return {
        "added": sorted(new_props.keys() - old_props.keys()),
        "removed": sorted(old_props.keys() - new_props.keys()),
        "changed": changed,
    }
