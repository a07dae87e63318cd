"""Where does a jupyter-flows workload spend its time? cProfile of one flow, top functions.

    python benchmarks/profile_engine.py direct --n 10000
    python benchmarks/profile_engine.py empty --n 2000          # N empty flow runs
    python benchmarks/profile_engine.py dask --n 500            # LocalCluster, 2 worker processes
    python benchmarks/profile_engine.py submit --n 10000 --sort cumulative

The flows are the benchmark's own (workloads/jf_engine.py), run with a MemoryReporter after
a warm-up. cProfile sees the calling thread only: for `submit`, the task threads' share
(what runs the tasks) is not in it; use a sampling profiler (py-spy) for those.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "workloads"))

import jf_engine  # noqa: E402

from jupyter_flows import flow  # noqa: E402
from jupyter_flows.engine.reporter import MemoryReporter, use_reporter  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["direct", "submit", "empty", "dask"])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--sort", default="tottime", help="a pstats sort key")
    parser.add_argument("--limit", type=int, default=30)
    args = parser.parse_args(argv)

    cluster = None
    if args.workload == "empty":

        def work(n):
            for _ in range(n):
                jf_engine.empty_flow()

    elif args.workload == "dask":
        from distributed import LocalCluster

        from jupyter_flows.task_runners import DaskTaskRunner

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        runner = DaskTaskRunner(address=cluster.scheduler_address)
        work = flow(name="bench-dask", task_runner=runner)(jf_engine._submit_body)
    else:
        work = {"direct": jf_engine.direct_flow, "submit": jf_engine.submit_flow}[args.workload]

    try:
        with use_reporter(MemoryReporter()):
            work(min(args.n, 50))
        profiler = cProfile.Profile()
        with use_reporter(MemoryReporter()) as rep:
            start = time.perf_counter()
            profiler.runcall(work, args.n)
            wall = time.perf_counter() - start
    finally:
        if cluster is not None:
            cluster.close()
    print(
        f"{args.workload} N={args.n}: {wall:.3f} s under the profiler, "
        f"{len(rep.states)} states, {len(rep.logs)} log lines recorded\n"
    )
    pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.limit)


if __name__ == "__main__":
    main()
