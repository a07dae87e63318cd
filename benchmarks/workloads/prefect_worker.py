"""Prefect 3's process worker, measured like jf_agents.py (run in benchmarks/.prefect-venv).

    python benchmarks/workloads/prefect_worker.py [--latency-runs 8] [--runs 40]

A ``prefect server`` on loopback (SQLite, a throwaway PREFECT_HOME), a ``process`` work
pool, the same probe flow deployed from a local folder, and ``prefect worker start``
processes with Prefect's default settings (the worker polls for scheduled runs every 10 s,
``PREFECT_WORKER_QUERY_SECONDS``). Latency: "run requested" (before ``run_deployment``) to
the run's Pending state (the worker submitted it) and to the flow's first line. Throughput:
4 workers of ``--limit 2``. Memory: an idle worker's RSS.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import emit, say

ENGINE = "prefect"
FLOW = """
import time

from prefect import flow


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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_until(check, what: str, patience: float = 600.0, pause: float = 0.01):
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(pause)
    raise RuntimeError(f"gave up waiting for {what}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-runs", type=int, default=8)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-prefect-worker-"))
    (folder / "probe.py").write_text(FLOW)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    os.environ.update(
        PREFECT_HOME=str(folder / "home"),
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    prefect = str(Path(sys.executable).with_name("prefect"))
    procs: list[subprocess.Popen] = []
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}

    def spawn(*cmd: str) -> subprocess.Popen:
        proc = subprocess.Popen([prefect, *cmd], cwd=folder, start_new_session=True, **quiet)
        procs.append(proc)
        return proc

    try:
        spawn("server", "start", "--host", "127.0.0.1", "--port", str(port))

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2) as answer:
                    return answer.status == 200
            except OSError:
                return False

        wait_until(healthy, "the Prefect server", pause=0.5)
        subprocess.run(
            [prefect, "work-pool", "create", "bench", "--type", "process"], check=True, **quiet
        )
        from prefect import flow
        from prefect.client.orchestration import get_client
        from prefect.deployments import run_deployment

        source = flow.from_source(source=str(folder), entrypoint="probe.py:probe")
        source.deploy(name="probe", work_pool_name="bench", print_next_steps=False)

        worker = spawn("worker", "start", "--pool", "bench", "--name", "latency")
        time.sleep(15.0)  # started, polling
        emit(engine=ENGINE, workload="agent_idle_rss", mb=round(rss_mb(worker.pid), 1))

        client = get_client(sync_client=True)
        client.__enter__()

        def ended(run_id) -> bool:
            state = client.read_flow_run(run_id).state
            return state is not None and state.is_final()

        claim_ms, first_ms = [], []
        for i in range(args.latency_runs + 1):
            out = folder / f"latency-{i}.txt"
            t0 = time.time()
            run = run_deployment("probe/probe", parameters={"out": str(out)}, timeout=0)
            wait_until(lambda out=out: out.exists() and out.read_text().endswith("\n"), "flow")
            first = float(out.read_text().split()[0])
            wait_until(lambda run_id=run.id: ended(run_id), "the run to end", pause=0.1)
            states = client.read_flow_run_states(run.id)
            pending = next(s for s in states if s.type.value == "PENDING")
            if i >= 1:
                claim_ms.append((pending.timestamp.timestamp() - t0) * 1000)
                first_ms.append((first - t0) * 1000)
            say(f"prefect latency run {i}: first line after {(first - t0):.2f} s")
        emit(engine=ENGINE, workload="dispatch_claim_ms", samples=claim_ms)
        emit(engine=ENGINE, workload="dispatch_first_line_ms", samples=first_ms)

        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        for i in range(4):
            spawn("worker", "start", "--pool", "bench", "--name", f"bulk-{i}", "--limit", "2")
        time.sleep(10.0)
        ledger = folder / "bulk.txt"
        t0 = time.time()
        ids = [
            run_deployment("probe/probe", parameters={"out": str(ledger)}, timeout=0).id
            for _ in range(args.runs)
        ]
        for run_id in ids:
            wait_until(lambda run_id=run_id: ended(run_id), "the bulk runs", 3600, 0.5)
        elapsed = time.time() - t0
        completed = sum(
            1 for run_id in ids if client.read_flow_run(run_id).state.type.value == "COMPLETED"
        )
        emit(
            engine=ENGINE,
            workload="throughput",
            runs=args.runs,
            completed=completed,
            agents=4,
            seconds=round(elapsed, 2),
            runs_per_minute=round(completed / elapsed * 60, 1),
        )
        client.__exit__(None, None, None)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
