"""jupyter-flows workloads, run in the project's venv as a fresh process each.

    python benchmarks/workloads/jf_engine.py direct --n 1000 --n 10000
    python benchmarks/workloads/jf_engine.py submit --n 1000
    python benchmarks/workloads/jf_engine.py dask --n 1000 [--dask-threads]
    python benchmarks/workloads/jf_engine.py async --n 1000
    python benchmarks/workloads/jf_engine.py empty --runs 200

Every measured flow runs with a MemoryReporter active, and the recorded states and logs
are checked afterwards (each task run Pending, Running and Completed; the flow's own log
line present), so the engine cannot get faster by recording less.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

_t0 = time.perf_counter()
import jupyter_flows  # noqa: E402

IMPORT_S = time.perf_counter() - _t0

from common import (  # noqa: E402
    THREADS,
    ainc,
    awaited_body,
    emit,
    expected_total,
    gathered_body,
    median_sample,
    per_task_us,
    plain_async_s,
    plain_loop_s,
    plain_pool_s,
    say,
)

from jupyter_flows import flow, get_run_logger, task  # noqa: E402
from jupyter_flows.engine.reporter import MemoryReporter, use_reporter  # noqa: E402
from jupyter_flows.task_runners import ThreadPoolTaskRunner  # noqa: E402

ENGINE = "jupyter-flows"
VERSION = getattr(jupyter_flows, "__version__", "unknown")
TASK_STATES = ("PENDING", "RUNNING", "COMPLETED")
FLOW_STATES = ("RUNNING", "COMPLETED")


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


async def _awaited_flow_body(n: int):
    get_run_logger().info("bench: %d tasks", n)
    return await awaited_body(ainc_task, n)


async def _gathered_flow_body(n: int):
    get_run_logger().info("bench: %d tasks", n)
    return await gathered_body(ainc_task, n)


awaited_flow = flow(name="bench-async-await")(_awaited_flow_body)
gathered_flow = flow(name="bench-async-gather")(_gathered_flow_body)


def _on_a_loop(async_flow):
    """An async flow, called as a script would: ``asyncio.run(flow(n))``."""
    return lambda n: asyncio.run(async_flow(n))


@flow(name="bench-empty")
def empty_flow():
    return None


# --- checking what was recorded -------------------------------------------------------


def _is_subsequence(wanted, seen) -> bool:
    it = iter(seen)
    return all(any(s == w for s in it) for w in wanted)


def check_recorded(rep, n_tasks: int, n_flows: int, log_marker: str | None) -> dict:
    """Assert every run was created and went through its states, and the flow logged."""
    assert len(rep.flow_runs) == n_flows, f"{len(rep.flow_runs)} flow runs, want {n_flows}"
    assert len(rep.task_runs) == n_tasks, f"{len(rep.task_runs)} task runs, want {n_tasks}"
    seen: dict = {}
    for rec in rep.states:
        seen.setdefault((rec.kind, rec.run_id), []).append(rec.state.type.value)
    for kind, runs, wanted in (
        ("task_run", rep.task_runs, TASK_STATES),
        ("flow_run", rep.flow_runs, FLOW_STATES),
    ):
        for run in runs:
            states = seen.get((kind, run.id), [])
            assert _is_subsequence(wanted, states) and states[-1] == "COMPLETED", (
                f"{kind} {run.name}: states {states}, want {wanted}"
            )
    if log_marker is not None:
        assert any(log_marker in m for m in rep.messages()), f"no log line {log_marker!r}"
    return {"states": len(rep.states), "logs": len(rep.logs)}


# --- workloads ------------------------------------------------------------------------


def run_flow(flow_fn, n: int) -> dict:
    with use_reporter(MemoryReporter()) as rep:
        t = time.perf_counter()
        body_s, total = flow_fn(n)
        wall_s = time.perf_counter() - t
    assert total == expected_total(n), f"flow returned {total}"
    counts = check_recorded(rep, n_tasks=n, n_flows=1, log_marker=f"bench: {n} tasks")
    return {"body_s": body_s, "wall_s": wall_s, **counts}


def measure(workload: str, flow_fn, n: int, repeats: int, baseline_s: float, extra=None):
    run_flow(flow_fn, min(n, 50))  # warm-up: first-call costs stay out of the numbers
    samples = [run_flow(flow_fn, n) for _ in range(repeats)]
    best = median_sample(samples, "body_s")
    emit(
        engine=ENGINE,
        version=VERSION,
        workload=workload,
        n=n,
        repeats=repeats,
        baseline_s=baseline_s,
        per_task_us=per_task_us(best["body_s"], baseline_s, n),
        per_task_wall_us=per_task_us(best["wall_s"], baseline_s, n),
        **best,
        **(extra or {}),
    )


def workload_direct(args):
    for n in args.n:
        measure("direct", direct_flow, n, args.repeats, plain_loop_s(n))


def workload_submit(args):
    for n in args.n:
        measure("submit", submit_flow, n, args.repeats, plain_pool_s(n), {"threads": THREADS})


def workload_async(args):
    for n in args.n:
        for workload, async_flow, gathered in (
            ("async-await", awaited_flow, False),
            ("async-gather", gathered_flow, True),
        ):
            baseline = plain_async_s(n, gathered)
            measure(workload, _on_a_loop(async_flow), n, args.repeats, baseline)


def workload_empty(args):
    with use_reporter(MemoryReporter()):
        for _ in range(max(5, args.runs // 10)):
            empty_flow()
    samples = []
    with use_reporter(MemoryReporter()) as rep:
        for _ in range(args.runs):
            t = time.perf_counter()
            empty_flow()
            samples.append(time.perf_counter() - t)
    counts = check_recorded(rep, n_tasks=0, n_flows=args.runs, log_marker=None)
    emit(
        engine=ENGINE,
        version=VERSION,
        workload="empty",
        runs=args.runs,
        median_s=statistics.median(samples),
        min_s=min(samples),
        **counts,
    )


def workload_dask(args):
    """jupyter-flows on Dask next to raw distributed, on one LocalCluster."""
    from distributed import Client, LocalCluster

    from jupyter_flows.task_runners import DaskTaskRunner

    processes = not args.dask_threads
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        runner = DaskTaskRunner(address=cluster.scheduler_address)
        dask_flow = flow(name="bench-dask", task_runner=runner)(_submit_body)
        client.gather(client.map(inc_fn, range(100), pure=False))  # workers warm

        def raw(kind: str, n: int) -> float:
            """map: client.map + gather (Dask at its best); submit: the flow body's pattern."""
            samples = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                if kind == "map":
                    total = sum(client.gather(client.map(inc_fn, range(n), pure=False)))
                else:
                    futures = [client.submit(inc_fn, i, pure=False) for i in range(n)]
                    total = sum(f.result() for f in futures)
                    del futures
                samples.append(time.perf_counter() - t)
                assert total == expected_total(n)
            return statistics.median(samples)

        for n in args.n:
            raw_map, raw_submit = raw("map", n), raw("submit", n)
            config = {"workers": 2, "processes": processes}
            for kind, seconds in (("map", raw_map), ("submit", raw_submit)):
                emit(
                    engine="distributed",
                    workload=f"dask-raw-{kind}",
                    n=n,
                    body_s=seconds,
                    per_task_us=seconds / n * 1e6,
                    **config,
                )
            measure("dask", dask_flow, n, args.repeats, raw_submit, config)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "workload", choices=["direct", "submit", "async", "dask", "empty", "import"]
    )
    parser.add_argument("--n", type=int, action="append", help="tasks per flow (repeatable)")
    parser.add_argument("--repeats", type=int, default=3, help="measured flows per N")
    parser.add_argument("--runs", type=int, default=200, help="empty flow runs")
    parser.add_argument("--dask-threads", action="store_true", help="in-process LocalCluster")
    args = parser.parse_args(argv)
    args.n = args.n or [1000]
    say(f"jupyter-flows {VERSION}: {args.workload}")
    if args.workload == "import":
        emit(engine=ENGINE, workload="import-in-process", import_s=IMPORT_S)
    else:
        globals()[f"workload_{args.workload}"](args)


if __name__ == "__main__":
    main()
