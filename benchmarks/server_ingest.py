"""How many log lines per second ``POST ingest`` stores on SQLite (not a test).

Starts a standalone server on a free loopback port with a fresh SQLite file, creates one
flow run, then sends batches of log lines the way the engine's HTTP reporter does (each
line with its client id) and prints lines/s end to end (HTTP, JSON, validation, insert,
commit). Also times the same batches through the service layer alone, without HTTP.

    python benchmarks/server_ingest.py [--lines 200000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from jupyter_flows.engine.ids import new_id

TOKEN = "bench-token"


def _batches(run_id: str, lines: int, batch: int) -> list[bytes]:
    import json

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    out = []
    for start in range(0, lines, batch):
        logs = [
            {
                "id": new_id(),  # as the engine's HTTP reporter makes them
                "flow_run_id": run_id,
                "level": 20,
                "timestamp": (t0 + timedelta(microseconds=i)).isoformat(),
                "message": f"processed item {i} of the batch, all fine",
                "name": "jupyter_flows.task",
            }
            for i in range(start, min(start + batch, lines))
        ]
        out.append(json.dumps({"logs": logs}).encode())
    return out


def over_http(lines: int, batch: int, workdir: Path) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_flows.server.standalone",
            f"--port={port}",
            f"--db={workdir / 'http.db'}",
            f"--token={TOKEN}",
            "--log-level=ERROR",
        ],
        cwd=workdir,
    )
    base = f"http://127.0.0.1:{port}/api/flows/"
    headers = {"Authorization": f"token {TOKEN}", "Content-Type": "application/json"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for _ in range(300):
                try:
                    client.get("version")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            run = client.post("flow-runs", json={"flow_name": "bench"}).json()
            bodies = _batches(run["id"], lines, batch)
            client.post("ingest", content=bodies[0]).raise_for_status()  # warm up
            started = time.perf_counter()
            stored = 0
            for body in bodies[1:]:
                answer = client.post("ingest", content=body)
                answer.raise_for_status()
                stored += answer.json()["logs"]
            elapsed = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return stored / elapsed


def in_process(lines: int, batch: int, workdir: Path) -> float:
    from jupyter_flows.server.event_bus import EventBus
    from jupyter_flows.server.service import ingest, runs
    from jupyter_flows.server.transactions import TransactionRunner
    from jupyter_flows.server.wire import CreateFlowRun, Ingest
    from jupyter_flows.store import Database

    db = Database(f"sqlite:///{workdir / 'direct.db'}")
    runner = TransactionRunner(db, EventBus())
    (run, _), _ = runner.run_sync(runs.create_flow_run, CreateFlowRun(flow_name="bench"))
    bodies = _batches(run["id"], lines, batch)
    started = time.perf_counter()
    stored = 0
    for body in bodies:
        result, _ = runner.run_sync(ingest.ingest, Ingest.model_validate_json(body))
        stored += result["logs"]
    elapsed = time.perf_counter() - started
    runner.close()
    db.dispose()
    return stored / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flows-ingest-bench-") as tmp:
        workdir = Path(tmp)
        direct = in_process(args.lines, args.batch, workdir)
        http = over_http(args.lines, args.batch, workdir)
    print(f"ingest on SQLite, batches of {args.batch} log lines:")
    print(f"  service layer (validation + insert + commit): {direct:,.0f} lines/s")
    print(f"  over HTTP (standalone server, one client):    {http:,.0f} lines/s")


if __name__ == "__main__":
    main()
