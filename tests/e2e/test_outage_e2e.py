"""Nothing lost across an outage: the server killed (-9) in the middle of a chatty run and
kept away longer than every timeout (the reaper's threshold, the reporter's flush wait).

Before the spool, the run process gave up reporting its end, most of its log lines were
lost and the run stayed Running for ever. Now the run process spools what it could not
deliver, exits, and its agent delivers the spool once the server is back: the run ends
Completed with every line, once.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.test_agents_e2e import Agents, api_of, deploy, final, new_queue, wait_for
from tests.flows_server import FlowsServer

FLOWS = """
import time
from pathlib import Path

from jupyter_flows import flow


@flow(log_prints=True)
def chatty(folder: str, lines: int = 300) -> int:
    here = Path(folder)
    (here / "started").touch()
    for i in range(lines):
        print(f"line {i}")
        time.sleep(0.01)
    (here / "done").touch()
    return lines
"""

LINES = 300
#: Longer than the reaper's threshold and the reporter's flush wait.
OUTAGE = 15.0


@pytest.mark.timeout(300)
def test_a_run_survives_the_server_killed_and_away_longer_than_every_timeout(
    tmp_path: Path,
) -> None:
    server = FlowsServer(tmp_path / "server", extra_args=["--reaper-threshold=5"])
    server.start()
    agents = Agents(server, tmp_path)
    try:
        flows_file = tmp_path / "outage_flows.py"
        flows_file.write_text(FLOWS)
        folder = tmp_path / "side-effects"
        folder.mkdir()
        queue = new_queue()
        with api_of(server) as api:
            deployment = deploy(api, flows_file, "chatty", queue)
            agents.start(queue, "steady")
            run = api.run_deployment(deployment, {"folder": str(folder), "lines": LINES})
        wait_for("the run to start", (folder / "started").exists)
        time.sleep(0.5)
        assert server.process is not None
        server.process.kill()  # kill -9: no goodbye
        server.process.wait(30)
        server.process = None
        down = time.monotonic()
        wait_for("the flow's body to end", (folder / "done").exists)
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - down)))
        server.start()
        with api_of(server) as api:
            ended = final(api, run.id)
            lines = [line.message for line in api.iterate(api.get_flow_run_logs, run.id)]
        printed = [m for m in lines if m.startswith("line ")]
        assert ended.state is not None and ended.state.type == "COMPLETED", ended.state
        assert ended.run_count == 1
        counts = Counter(printed)
        assert sorted(counts) == sorted(f"line {i}" for i in range(LINES))
        assert set(counts.values()) == {1}
        assert "delivering" in (tmp_path / "agent-steady.log").read_text()
    finally:
        agents.stop_all()
        server.stop()
