"""benchmarks/server_api.py runs against SQLite and prints a sane table (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "server_api.py"


@pytest.mark.slow
def test_the_server_api_benchmark_measures_and_verifies(tmp_path: Path) -> None:
    out = tmp_path / "records.json"
    cmd = [sys.executable, str(SCRIPT), "--quick", "--skip-prefect", "--backends", "sqlite"]
    cmd += ["--seconds", "0.3", "--lines", "2000", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    records = json.loads(out.read_text())["records"]
    throughput = [r for r in records if "per_s" in r]
    assert {(r["workload"], r["clients"]) for r in throughput} == {
        (w, c)
        for w in ("ping", "create", "state", "create_batch", "state_batch", "ingest", "logs")
        for c in (1, 8)
    }
    for r in throughput:
        assert r["engine"] == "jupyter-flows" and r["backend"] == "SQLite"
        assert r["errors"] == 0, (r, done.stderr[-3000:])
        assert r["verified"] == r["claimed"] > 0, r  # every count checked through the API
        assert r["per_s"] > 0
    for r in throughput:
        if r["workload"] in ("ingest", "logs"):
            assert r["verified"] == 2000
    outbox = [r for r in records if r["workload"] == "outbox_cost"]
    assert sorted(r["clients"] for r in outbox) == [1, 8]
    assert all(r["with_per_s"] > 0 and r["without_per_s"] > 0 for r in outbox), outbox
    start = {r["engine"]: r for r in records if r["workload"] == "start"}
    assert set(start) == {"jupyter-server", "jupyter-flows"}
    assert all(r["start_s"] > 0 and r["rss_mb"] > 0 for r in start.values())

    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| workload | backend | clients | jupyter-flows | Prefect 3 |")
    # header, rule, 14 throughput rows, the outbox's cost (1 and 8 clients), start, memory
    assert len(table) == 2 + 14 + 2 + 2
    assert "not measured" in done.stdout  # Prefect was skipped
