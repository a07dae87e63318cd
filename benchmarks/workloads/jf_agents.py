"""jupyter-flows agents: dispatch latency, throughput with 4 agents, idle agent memory.

    python benchmarks/workloads/jf_agents.py [--latency-runs 30] [--runs 200]

A standalone server (SQLite) and agent processes on loopback, started here and stopped at
the end. Dispatch latency is measured from "run requested" (just before ``POST
deployments/{id}/runs``) to two points: the run's claim by a warm, long-polling agent (its
Pending state's timestamp: before any process starts) and the first line of the flow's code
(a timestamp the flow writes). Runs go one at a time, each after the previous ended.
Throughput: ``--runs`` trivial runs requested at once, 4 agents of ``--limit 2``; runs per
minute from the first request to the last completion. Memory: an idle agent's RSS.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import emit, say

ENGINE = "jupyter-flows"
PATIENCE = 300.0

FLOW = """
import time

from jupyter_flows import flow


@flow
def probe(out: str) -> None:
    first = time.time()
    with open(out, "a") as f:
        f.write(f"{first!r}\\n")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(folder: Path) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    out = folder / "server.out"
    cmd = [
        sys.executable,
        "-m",
        "jupyter_flows.server.standalone",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--db={folder / 'flows.db'}",
        "--create-key=bench",
        "--log-level=WARN",
    ]
    with out.open("wb") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, cwd=folder)
    url = f"http://127.0.0.1:{port}/api/flows/"
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"API key 'bench' \(user\): (\S+)", out.read_text())
        if found:
            try:
                headers = {"Authorization": f"Bearer {found.group(1)}"}
                if httpx.get(url + "version", headers=headers, timeout=2).status_code == 200:
                    return proc, url, found.group(1)
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def start_agent(url: str, key: str, queue: str, name: str, limit: int | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "jupyter_flows.agent", "--queue", queue, "--name", name]
    cmd += ["--url", url, "--wait", "30"]
    if limit:
        cmd += ["--limit", str(limit)]
    env = {**os.environ, "JUPYTER_FLOWS_API_KEY": key}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_until(check, what: str, patience: float = PATIENCE, pause: float = 0.002):
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(pause)
    raise RuntimeError(f"gave up waiting for {what}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    from jupyter_flows.client import FlowsClient
    from jupyter_flows.spec.python_flows import registration

    folder = Path(tempfile.mkdtemp(prefix="bench-agents-"))
    (folder / "probe.py").write_text(FLOW)
    server, url, key = start_server(folder)
    agents: list[subprocess.Popen] = []
    try:
        client = FlowsClient(url, key)
        version = client.register_flow(**registration(folder / "probe.py")).version
        latency_dep = client.create_deployment(version.flow_id, "latency", work_queue="lat").id
        bulk_dep = client.create_deployment(version.flow_id, "bulk", work_queue="bulk").id

        # -- idle memory, then dispatch latency (one warm agent, one run at a time)
        agent = start_agent(url, key, "lat", "latency-agent", None)
        agents.append(agent)
        wait_until(lambda: client.list_agents().total >= 1, "the agent", pause=0.05)
        time.sleep(3.0)  # idle: registered and long-polling
        emit(engine=ENGINE, workload="agent_idle_rss", mb=round(rss_mb(agent.pid), 1))
        claim_ms, first_ms = [], []
        for i in range(args.latency_runs + 3):
            out = folder / f"latency-{i}.txt"
            t0 = time.time()
            run = client.run_deployment(latency_dep, {"out": str(out)})
            wait_until(lambda out=out: out.exists() and out.read_text().endswith("\n"), "flow")
            first = float(out.read_text().split()[0])

            def ended(run_id=run.id):
                state = client.get_flow_run(run_id).state
                return state is not None and state.is_final

            wait_until(ended, "the run to end", pause=0.01)
            pending = next(s for s in client.get_flow_run_states(run.id) if s.type == "PENDING")
            if i >= 3:  # the first runs warm the server's and the agent's caches
                claim_ms.append((pending.timestamp.timestamp() - t0) * 1000)
                first_ms.append((first - t0) * 1000)
        emit(engine=ENGINE, workload="dispatch_claim_ms", samples=claim_ms)
        emit(engine=ENGINE, workload="dispatch_first_line_ms", samples=first_ms)
        emit(engine=ENGINE, workload="agent_after_runs_rss", mb=round(rss_mb(agent.pid), 1))

        # -- throughput: 4 agents, runs requested at once
        for i in range(4):
            agents.append(start_agent(url, key, "bulk", f"bulk-{i}", 2))
        wait_until(lambda: client.list_agents().total >= 5, "4 agents", pause=0.05)
        time.sleep(1.0)
        ledger = folder / "bulk.txt"
        t0 = time.time()
        for _ in range(args.runs):
            client.run_deployment(bulk_dep, {"out": str(ledger)})

        def all_done() -> bool:
            done = client.list_flow_runs(
                deployment_id=bulk_dep, state=["COMPLETED", "FAILED", "CRASHED"], limit=1
            )
            return done.total >= args.runs

        wait_until(all_done, "the bulk runs", patience=1800, pause=0.1)
        elapsed = time.time() - t0
        completed = client.list_flow_runs(deployment_id=bulk_dep, state=["COMPLETED"], limit=1)
        emit(
            engine=ENGINE,
            workload="throughput",
            runs=args.runs,
            completed=completed.total,
            agents=4,
            seconds=round(elapsed, 2),
            runs_per_minute=round(completed.total / elapsed * 60, 1),
        )
        say(f"{completed.total} runs in {elapsed:.1f} s")
    finally:
        for proc in agents:
            proc.send_signal(signal.SIGTERM)
        for proc in agents:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
