"""Credentials through the REST API: values encrypted at rest, never read back, handed only
to the attempt of a run that references them, masked in what that attempt reports."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from jupyter_flows.credentials import Keyring
from jupyter_flows.engine.run_env import CREDENTIALS_KEY
from jupyter_flows.server.context import SETTINGS_KEY
from tests.pg import find_pg_bin
from tests.server.conftest import T0

# API keys on: what these tests are about.
pytestmark = pytest.mark.api_keys

SECRET = "hunter2-Xq9!zz/+="


def _context(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings[SETTINGS_KEY]


async def _store(api: Any, name: str = "db-password", value: str = SECRET, **extra: Any) -> Any:
    return await api("POST", "credentials", {"name": name, "value": value, **extra})


async def _claimed_run(api: Any, credentials: list[Any]) -> tuple[dict[str, Any], Any, Any]:
    """A run of a flow whose run config references ``credentials``, claimed by an agent of
    an agent key; returns (run, lease, that key's headers)."""
    made = (await api("POST", "api-keys", {"name": "a", "role": "agent"}, expect=201)).body
    headers = {"Authorization": f"Bearer {made['token']}"}
    version = await api.register(run_config={"credentials": credentials})
    body = {"flow_id": version["flow_id"], "name": "d", "work_queue": "q1"}
    deployment = (await api("POST", "deployments", body, expect=201)).body
    path = f"deployments/{deployment['id']}/runs"
    run = (await api("POST", path, {"parameters": {"n": 1}}, expect=201)).body
    agent = await api("POST", "agents", {"name": "h", "work_queue": "q1"}, headers=headers)
    claim = {"agent_id": agent.body["id"]}
    claimed = (await api("POST", "work-queues/q1/claim", claim, headers=headers, expect=200)).body
    lease = {k: claimed["lease"][k] for k in ("flow_run_id", "attempt", "token")}
    return run, lease, headers


async def test_create_list_delete_never_show_the_value(api: Any) -> None:
    made = await _store(api)
    assert made.status == 201, made.body
    assert made.body["name"] == "db-password" and made.body["env"] == "DB_PASSWORD"
    assert made.headers["Location"].endswith("credentials/db-password")
    assert (await _store(api)).error == "conflict"
    replaced = await _store(api, value="another-value", replace=True, env="PGPASSWORD")
    assert replaced.status == 200 and replaced.body["env"] == "PGPASSWORD"
    listed = await api("GET", "credentials", expect=200)
    assert [c["name"] for c in listed.body["items"]] == ["db-password"]
    assert SECRET not in str(listed.body) and "another-value" not in str(listed.body)
    await api("DELETE", "credentials/db-password", expect=204)
    assert (await api("DELETE", "credentials/db-password")).status == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"name": "Bad_Name", "value": SECRET}, "lowercase letters, digits and dashes"),
        ({"name": "-x", "value": SECRET}, "lowercase letters, digits and dashes"),
        ({"name": "ok", "value": SECRET, "env": "1X"}, "not an environment variable"),
        ({"name": "rotate-key", "value": SECRET}, "reserved"),
        ({"name": "ok", "value": "abc"}, "at least 4"),
        ({"name": "ok", "value": SECRET, "env": "JUPYTER_FLOWS_API_KEY"}, "platform"),
    ],
)
async def test_bad_input_is_refused_with_the_reason(api: Any, body: Any, says: str) -> None:
    answer = await api("POST", "credentials", body)
    assert answer.status == 400 and answer.error == "invalid_input"
    assert says in answer.body["message"]


async def test_an_agent_key_manages_no_credentials(api: Any) -> None:
    made = (await api("POST", "api-keys", {"name": "a", "role": "agent"}, expect=201)).body
    headers = {"Authorization": f"Bearer {made['token']}"}
    body = {"name": "x-y", "value": SECRET}
    assert (await api("POST", "credentials", body, headers=headers)).status == 403
    assert (await api("GET", "credentials", headers=headers)).status == 403
    assert (await api("POST", "credentials/rotate-key", {}, headers=headers)).status == 403


async def test_the_holder_reads_only_the_values_its_run_references(api: Any) -> None:
    await _store(api)
    await _store(api, "unrelated", "not-for-this-run")
    run, lease, holder = await _claimed_run(api, ["db-password", {"name": "s3", "secret": "k"}])
    path = f"flow-runs/{run['id']}/credentials"
    answer = await api("POST", path, {"lease": lease}, headers=holder, expect=200)
    assert answer.body["items"] == [{"name": "db-password", "env": "DB_PASSWORD", "value": SECRET}]
    assert answer.body["missing"] == []
    assert answer.headers["Cache-Control"] == "no-store"
    # Another agent key: 403, with the lease or without.
    other = (await api("POST", "api-keys", {"name": "b", "role": "agent"}, expect=201)).body
    headers = {"Authorization": f"Bearer {other['token']}"}
    refused = await api("POST", path, {"lease": lease}, headers=headers)
    assert refused.status == 403 and SECRET not in str(refused.body)
    # The holder with a stale lease, and anyone without one: no value.
    stale = {**lease, "token": "x" * 20}
    assert (await api("POST", path, {"lease": stale}, headers=holder)).error == "stale_attempt"
    assert (await api("POST", path, {})).status == 400
    # No read of the API shows the value.
    for read in (f"flow-runs/{run['id']}", "credentials", f"flow-runs/{run['id']}/logs"):
        assert SECRET not in str((await api("GET", read)).body)


async def test_a_credential_the_store_lacks_is_named(api: Any) -> None:
    await _store(api)
    run, lease, holder = await _claimed_run(api, ["db-password", "not-stored"])
    answer = await api("POST", f"flow-runs/{run['id']}/credentials", {"lease": lease})
    assert answer.status == 200 and answer.body["missing"] == ["not-stored"]
    assert [item["name"] for item in answer.body["items"]] == ["db-password"]


async def test_what_the_attempt_sends_is_redacted_on_arrival(api: Any) -> None:
    await _store(api)
    run, lease, holder = await _claimed_run(api, ["db-password"])
    encoded = base64.b64encode(f"user:{SECRET}".encode()).decode()
    lines = [
        {"flow_run_id": run["id"], "timestamp": T0, "message": f"connecting with {SECRET}"},
        {"flow_run_id": run["id"], "timestamp": T0, "message": f"Basic {encoded}"},
    ]
    state = {
        "kind": "flow_run",
        "run_id": run["id"],
        "type": "RUNNING",
        "message": f"using {SECRET}",
        "timestamp": T0,
    }
    body = {"logs": lines, "states": [state], "lease": lease}
    await api("POST", "ingest", body, headers=holder, expect=200)
    logs = (await api("GET", f"flow-runs/{run['id']}/logs", expect=200)).body
    messages = [line["message"] for line in logs["items"]]
    assert "connecting with ***" in messages
    assert all(SECRET not in m and encoded not in m for m in messages), messages
    states = (await api("GET", f"flow-runs/{run['id']}/states", expect=200)).body
    assert all(SECRET not in str(s) for s in states)


async def test_job_logs_are_redacted_on_arrival(api: Any) -> None:
    await _store(api)
    run, lease, holder = await _claimed_run(api, ["db-password"])
    line = {"flow_run_id": run["id"], "timestamp": T0, "message": f"echo {SECRET}"}
    await api("POST", "logs", [line], headers=holder, expect=201)
    logs = (await api("GET", f"flow-runs/{run['id']}/logs", expect=200)).body
    assert [item["message"] for item in logs["items"]] == ["echo ***"]


async def test_a_wrong_key_is_a_clear_error_never_garbage(
    api: Any, jp_serverapp: Any, tmp_path: Path
) -> None:
    await _store(api)
    run, lease, holder = await _claimed_run(api, ["db-password"])
    context = _context(jp_serverapp)
    from cryptography.fernet import Fernet

    context.keyring = Keyring({CREDENTIALS_KEY: Fernet.generate_key().decode()})
    answer = await api("POST", f"flow-runs/{run['id']}/credentials", {"lease": lease})
    assert answer.status == 500 and answer.error == "credentials_key"
    assert "db-password" in answer.body["message"] and "key" in answer.body["message"]
    assert SECRET not in str(answer.body)
    # A rotation with a key from the environment is refused, and changes nothing.
    assert (await api("POST", "credentials/rotate-key", {})).status == 409


async def test_rotate_key_reencrypts_every_value(api: Any, jp_serverapp: Any) -> None:
    await _store(api)
    await _store(api, "second", "second-value")
    run, lease, holder = await _claimed_run(api, ["db-password", "second"])
    context = _context(jp_serverapp)
    before = context.keyring.cipher().keys
    answer = await api("POST", "credentials/rotate-key", {}, expect=200)
    assert answer.body == {"rotated": 2}
    after = context.keyring.cipher().keys
    assert len(after) == 1 and after[0] not in before
    read = await api("POST", f"flow-runs/{run['id']}/credentials", {"lease": lease}, expect=200)
    assert {c["value"] for c in read.body["items"]} == {SECRET, "second-value"}
    # The old key reads none of them now.
    context.keyring = Keyring({CREDENTIALS_KEY: before[0].decode()})
    stale = await api("POST", f"flow-runs/{run['id']}/credentials", {"lease": lease})
    assert stale.error == "credentials_key"


async def test_the_key_file_is_0600_and_no_store_holds_plaintext(
    api: Any, jp_serverapp: Any, flows_db_url: str, backend: str
) -> None:
    await _store(api)
    run, lease, holder = await _claimed_run(api, ["db-password"])
    line = {"flow_run_id": run["id"], "timestamp": T0, "message": f"the value is {SECRET}"}
    await api("POST", "ingest", {"logs": [line], "lease": lease}, headers=holder, expect=200)
    from jupyter_flows.credentials import key_path

    path = key_path()
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    needles = [SECRET.encode(), base64.b64encode(SECRET.encode())]
    if backend == "sqlite":
        context = _context(jp_serverapp)
        context.db.engine.dispose()  # everything written out of the WAL into the file
        data = b"".join(
            p.read_bytes()
            for p in Path(make_url(flows_db_url).database or "").parent.glob("*")
            if p.is_file()
        )
    else:
        url = make_url(flows_db_url)
        dump = subprocess.run(
            [
                str(find_pg_bin() / "pg_dump"),
                *("-h", str(url.host), "-p", str(url.port), "-U", str(url.username)),
                str(url.database),
            ],
            capture_output=True,
            check=True,
        )
        data = dump.stdout
        assert b"credentials" in data and b"gAAAAA" in data  # the Fernet tokens are there
    assert data and not [n for n in needles if n in data]
