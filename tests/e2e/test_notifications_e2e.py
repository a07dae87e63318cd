"""A failing notebook run on a real agent notifies: one email at a real SMTP server and one
webhook at a real HTTP receiver, both naming the failing cell and the traceback's end."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_notebooks_e2e import DATA, Agents, api_of, cli, final
from tests.flows_server import FlowsServer
from tests.receivers import smtp_server, webhook_server


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JUPYTER_FLOWS_STORAGE_URL", str(tmp_path / "blobs"))
    monkeypatch.setenv("JUPYTER_FLOWS_RESULT_STORAGE", str(tmp_path / "results"))
    return tmp_path


@pytest.fixture
def agent_pool(flows_server: FlowsServer, storage: Path) -> Iterator[Agents]:
    made = Agents(flows_server, storage)
    yield made
    made.stop_all()


@pytest.mark.slow
def test_a_failing_notebook_run_sends_one_email_and_one_webhook(
    flows_server: FlowsServer, agent_pool: Agents, storage: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    queue = f"notify-{suffix}"
    path = storage / f"notify_{suffix}.ipynb"
    shutil.copyfile(DATA / "resume.ipynb", path)
    out = cli(
        flows_server, "register", str(path), "--engine", "tasks", "--queue", queue, cwd=storage
    )
    assert out.returncode == 0, out.stdout + out.stderr
    api = api_of(flows_server)
    (group,) = list(api.iterate(api.list_flows, name=path.stem))
    (deployment,) = list(api.iterate(api.list_deployments, flow_id=group.id))
    with smtp_server() as mail, webhook_server() as hook:
        api.create_notification_destination(f"mail-{suffix}", mail.url)
        api.create_notification_destination(f"hook-{suffix}", hook.url)
        api.create_notification_policy(
            name=f"failures-{suffix}",
            deployment_id=deployment.id,
            events=["Failed", "Crashed", "TimedOut"],
            destinations=[f"mail-{suffix}", f"hook-{suffix}"],
        )
        agent_pool.start(queue, f"agent-{queue}")
        failed = final(api, api.run_deployment(deployment.id, {"divisor": 0}).id)
        assert failed.state is not None and failed.state.type == "FAILED"
        (email,) = mail.wait(1)
        (posted,) = hook.wait(1)
        agent_pool.stop_all()
        mail.wait(2, timeout=1.0)  # a second message would arrive by now
        hook.wait(2, timeout=1.0)
        assert len(mail.received) == len(hook.received) == 1
    assert path.stem in email["subject"] and "Failed" in email["subject"]
    assert posted["title"] == email["subject"]
    for text in (email["body"], posted["message"]):
        assert failed.id in text
        assert "Failing task: divide" in text
        assert "cell [" in text and "ratios = [v / divisor for v in values]" in text
        frames = text.split("Traceback (last frames):", 1)[1]
        assert "ZeroDivisionError" in frames
        assert "ratios = [v / divisor for v in values]" in frames
        assert '"divisor": 0' in text
        assert f"agent-{queue}" in text
        assert "/lab?flows-run=" + failed.id in text
    attempts = api.list_notification_attempts(flow_run_id=failed.id)["items"]
    assert sorted(a["destination"] for a in attempts) == [f"hook-{suffix}", f"mail-{suffix}"]
