"""Prefect 3 workloads, run in benchmarks/.prefect-venv (never a dependency of the package).

    python benchmarks/workloads/prefect_engine.py --n 1000 [--n 10000] [--runs 5]

One process runs everything, because the first flow in a Prefect process starts a
temporary API server (tens of seconds); a warm-up flow absorbs that. The same flow bodies
as jf_engine.py, Prefect's default settings otherwise (its states and logs go to its API).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

_t0 = time.perf_counter()
import prefect  # noqa: E402

IMPORT_S = time.perf_counter() - _t0

from common import (  # noqa: E402
    THREADS,
    ainc,
    awaited_body,
    emit,
    expected_total,
    gathered_body,
    per_task_us,
    plain_async_s,
    plain_loop_s,
    plain_pool_s,
    say,
)
from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402

ENGINE = "prefect"
PAUSE_S = 3.0  # SQLite behind the temporary server needs a breather after big flows


def inc_fn(x):
    """The task's function lives in __main__, as in a notebook or script."""
    return x + 1


inc_task = task(name="inc")(inc_fn)


def _direct_body(n: int):
    get_run_logger().info("bench: %d tasks", n)
    t = time.perf_counter()
    total = 0
    for i in range(n):
        total += inc_task(i)
    return time.perf_counter() - t, total


def _submit_body(n: int):
    get_run_logger().info("bench: %d tasks", n)
    t = time.perf_counter()
    futures = [inc_task.submit(i) for i in range(n)]
    total = sum(f.result() for f in futures)
    return time.perf_counter() - t, total


direct_flow = flow(name="bench-direct")(_direct_body)
submit_flow = flow(name="bench-submit", task_runner=ThreadPoolTaskRunner(max_workers=THREADS))(
    _submit_body
)


ainc_task = task(name="inc")(ainc)


@flow(name="bench-async-await")
async def awaited_flow(n: int):
    get_run_logger().info("bench: %d tasks", n)
    return await awaited_body(ainc_task, n)


@flow(name="bench-async-gather")
async def gathered_flow(n: int):
    get_run_logger().info("bench: %d tasks", n)
    return await gathered_body(ainc_task, n)


@flow(name="bench-empty")
def empty_flow():
    return None


def measure(workload: str, flow_fn, n: int, baseline_s: float, extra=None):
    say(f"prefect: {workload} n={n}")
    t = time.perf_counter()
    body_s, total = flow_fn(n)
    wall_s = time.perf_counter() - t
    assert total == expected_total(n), f"flow returned {total}"
    emit(
        engine=ENGINE,
        workload=workload,
        n=n,
        repeats=1,
        baseline_s=baseline_s,
        body_s=body_s,
        wall_s=wall_s,
        per_task_us=per_task_us(body_s, baseline_s, n),
        per_task_wall_us=per_task_us(wall_s, baseline_s, n),
        **(extra or {}),
    )
    time.sleep(PAUSE_S)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append")
    parser.add_argument("--runs", type=int, default=5, help="measured empty flow runs")
    args = parser.parse_args(argv)
    say(f"prefect {prefect.__version__}: warming up (starts the temporary server)")
    emit(
        engine=ENGINE, workload="import-in-process", import_s=IMPORT_S, version=prefect.__version__
    )

    t = time.perf_counter()
    empty_flow()
    emit(engine=ENGINE, workload="first-flow", wall_s=time.perf_counter() - t)
    direct_flow(10)
    submit_flow(10)
    asyncio.run(awaited_flow(10))
    time.sleep(PAUSE_S)

    samples = []
    for _ in range(args.runs):
        t = time.perf_counter()
        empty_flow()
        samples.append(time.perf_counter() - t)
    emit(
        engine=ENGINE,
        workload="empty",
        runs=args.runs,
        median_s=statistics.median(samples),
        min_s=min(samples),
    )

    for n in args.n or [1000]:
        measure("direct", direct_flow, n, plain_loop_s(n))
        measure("submit", submit_flow, n, plain_pool_s(n), {"threads": THREADS})
        for workload, async_flow, gathered in (
            ("async-await", awaited_flow, False),
            ("async-gather", gathered_flow, True),
        ):
            baseline = plain_async_s(n, gathered)
            measure(workload, lambda k, f=async_flow: asyncio.run(f(k)), n, baseline)


if __name__ == "__main__":
    main()
