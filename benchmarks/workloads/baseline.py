"""Plain-Python baselines: the same trivial function with no engine at all.

python benchmarks/workloads/baseline.py --n 1000 --n 10000
"""

from __future__ import annotations

import argparse

from common import THREADS, emit, plain_async_s, plain_loop_s, plain_pool_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append")
    args = parser.parse_args(argv)
    for n in args.n or [1000]:
        loop_s = plain_loop_s(n)
        emit(engine="python", workload="direct", n=n, body_s=loop_s, per_task_us=loop_s / n * 1e6)
        pool_s = plain_pool_s(n)
        emit(
            engine="python",
            workload="submit",
            n=n,
            body_s=pool_s,
            per_task_us=pool_s / n * 1e6,
            threads=THREADS,
        )
        for workload, gathered in (("async-await", False), ("async-gather", True)):
            seconds = plain_async_s(n, gathered)
            emit(
                engine="python",
                workload=workload,
                n=n,
                body_s=seconds,
                per_task_us=seconds / n * 1e6,
            )


if __name__ == "__main__":
    main()
