"""The role table (docs/roles.md), checked row by row against a running server.

Every operation of schema/openapi.yaml must have a row, and each row is tried with each
role: a user key, the server's Jupyter token, the agent key of the agent that holds the
run (or is the agent) the operation names, the agent key of another agent, and no key.
✓ means the server did not refuse the caller (any answer but 401 and 403: the operation's
own answer to what it was asked); 403 and 401 must be exactly those.

User keys and the token are sent to ids that do not exist (a DELETE must not destroy the
world the agent keys are tried in): being let in shows as a 404 or 400, never a 401/403.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

# API keys on: what these tests are about.
pytestmark = pytest.mark.api_keys

ROOT = Path(__file__).resolve().parents[2]
ROLES = (
    "user key",
    "Jupyter token",
    "agent key of the holding agent",
    "agent key of another agent",
    "no key",
)
METHODS = ("get", "post", "put", "patch", "delete")


def role_table() -> dict[str, dict[str, str]]:
    """``"METHOD /path"`` → {role: "✓" | "403" | "401"}, read from docs/roles.md."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] | None = None
    for line in (ROOT / "docs" / "roles.md").read_text().splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if header is None:
            header = cells
            continue
        if set(cells[0]) <= {"-"}:
            continue
        operation = cells[0].strip("`")
        rows[operation] = {role: cells[header.index(role)] for role in ROLES}
    return rows


def operations() -> list[tuple[str, str, str]]:
    """(METHOD, path template, operationId) of every operation in openapi.yaml."""
    spec = yaml.safe_load((ROOT / "schema" / "openapi.yaml").read_text())
    return [
        (method.upper(), path, op["operationId"])
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_the_table_has_a_row_for_every_operation_and_nothing_else() -> None:
    table = role_table()
    documented = {f"{method} {path}" for method, path, _ in operations()}
    assert set(table) == documented
    for operation, row in table.items():
        assert set(row.values()) <= {"✓", "403", "401"}, operation
        assert row["user key"] == row["Jupyter token"] == "✓", operation
        assert row["no key"] == "401", operation


async def _world(api: Any) -> dict[str, Any]:
    """A run claimed by agent "holder" (registered with key A), agent "other" (key B)."""

    async def key(name: str, role: str) -> tuple[str, str]:
        made = (await api("POST", "api-keys", {"name": name, "role": role}, expect=201)).body
        return made["id"], made["token"]

    _, a_token = await key("a", "agent")
    _, b_token = await key("b", "agent")
    _, u_token = await key("u", "user")
    spare_id, _ = await key("spare", "user")
    a = {"Authorization": f"Bearer {a_token}"}
    b = {"Authorization": f"Bearer {b_token}"}
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": "d", "work_queue": "q1"}
    deployment = (await api("POST", "deployments", body, expect=201)).body
    path = f"deployments/{deployment['id']}/runs"
    run = (await api("POST", path, {"parameters": {"n": 1}}, expect=201)).body
    body = {"name": "holder", "work_queue": "q1"}
    holder = (await api("POST", "agents", body, headers=a, expect=201)).body
    body = {"name": "other", "work_queue": "q2"}  # serves another queue
    await api("POST", "agents", body, headers=b, expect=201)
    claim = {"agent_id": holder["id"]}
    claimed = (await api("POST", "work-queues/q1/claim", claim, headers=a, expect=200)).body
    assert claimed["id"] == run["id"]
    lease = {k: claimed["lease"][k] for k in ("flow_run_id", "attempt", "token")}
    task = {"flow_run_id": run["id"], "task_key": "load"}
    task_run = (await api("POST", "task-runs", task, expect=201)).body
    artifact_id = str(uuid.uuid4())
    artifact = {
        "id": artifact_id,
        "flow_run_id": run["id"],
        "type": "table",
        "data": {"columns": ["a"], "rows": [[1]]},
    }
    await api("POST", "ingest", {"artifacts": [artifact]}, expect=200)
    path = f"deployments/{deployment['id']}/backfills"  # after the claim: it makes a run
    backfill = (await api("POST", path, {"parameter": "n", "values": [2]}, expect=201)).body
    line = {
        "flow_run_id": run["id"],
        "timestamp": "2026-01-01T00:00:00+00:00",
        "message": "probe",
    }
    return {
        "headers": {
            "user key": {"Authorization": f"Bearer {u_token}"},
            "Jupyter token": None,
            "agent key of the holding agent": a,
            "agent key of another agent": b,
            "no key": {"Authorization": ""},
        },
        "ids": {
            "flow_id": version["flow_id"],
            "version_id": version["id"],
            "deployment_id": deployment["id"],
            "backfill_id": backfill["id"],
            "flow_run_id": run["id"],
            "task_run_id": task_run["id"],
            "artifact_id": artifact_id,
            "name": "q1",
            "agent_id": holder["id"],
            "key_id": spare_id,
        },
        "bodies": {
            "claimRun": {"agent_id": holder["id"], "wait": 0},
            "ingest": {"logs": [line], "lease": lease},
            "createLogs": [line],
            "createTaskRun": {"flow_run_id": run["id"], "task_key": "probe"},
            "setFlowRunState": {"type": "PENDING", "message": "probe", "lease": lease},
            "getRunCredentials": {"lease": lease},
            "setTaskRunState": {"type": "PENDING"},
            "registerAgent": {"name": "holder", "work_queue": "q1"},
            "agentHeartbeat": {"leases": [lease]},
            "createAgentLogs": [],
        },
    }


def _path(template: str, ids: dict[str, str] | None) -> str:
    def value(match: re.Match[str]) -> str:
        return ids[match.group(1)] if ids is not None else f"nope-{match.group(1)}"

    return re.sub(r"\{([^}]+)\}", value, template).strip("/")


async def test_every_operation_for_every_role(jp_fetch: Any, api: Any) -> None:
    world = await _world(api)
    table = role_table()
    seen: dict[tuple[str, str], int] = {}
    # The agent keys (on the real ids) first, the holder last of them; then the others.
    order = [ROLES[3], ROLES[4], ROLES[2], ROLES[0], ROLES[1]]
    for role in order:
        for method, template, operation_id in operations():
            real = role.startswith("agent key")
            path = _path(template, world["ids"] if real else None)
            body: Any = world["bodies"].get(operation_id, {}) if real else {}
            kwargs: dict[str, Any] = {"method": method, "raise_error": False}
            if method in ("POST", "PATCH", "PUT"):
                kwargs["body"] = json.dumps(body)
            headers = world["headers"][role]
            if headers is not None:
                kwargs["headers"] = headers
            response = await jp_fetch("api", "flows", *path.split("/"), **kwargs)
            seen[(f"{method} {template}", role)] = response.code
    wrong = []
    for (operation, role), status in sorted(seen.items()):
        expected = table[operation][role]
        ok = status not in (401, 403) if expected == "✓" else status == int(expected)
        if not ok:
            wrong.append(f"{operation} as {role}: {status}, the table says {expected}")
    assert wrong == []
