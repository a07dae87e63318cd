"""The environments benchmark's report: every measurement in its row, goals judged."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "environments.py"


def test_the_table_judges_the_goals() -> None:
    spec = importlib.util.spec_from_file_location("bench_environments", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.table(
        {
            "capture_kernel_s": 0.2,
            "distributions": 312,
            "start_plain_s": 0.25,
            "start_cached_s": 0.6,
            "start_overhead_s": 0.35,
            "build_uv": 12.8,
            "build_pip": "failed: no registry",
        }
    )
    assert (
        "| capture from a running kernel (312 distributions), median | 200 ms | < 1,000 ms | yes |"
        in text
    )
    assert "| overhead of the cached environment | 350 ms | < 300 ms | no |" in text
    assert "| build from a 50-package lock with uv (cold) | 12.8 s |  |  |" in text
    assert "failed: no registry" in text
