"""Helpers shared by the workload scripts (stdlib only: they also run in Prefect's venv).

Each workload script is run as a fresh subprocess and prints one JSON object per
measurement on stdout, one per line; anything else it says goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

# Same thread count for every engine and for the plain pool, so .submit rows compare alike.
THREADS = 8


def emit(**record) -> None:
    """Print one measurement as a JSON line (the harness reads every such line)."""
    print(json.dumps(record), flush=True)


def say(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def inc(x):
    """The trivial task body used everywhere."""
    return x + 1


def expected_total(n: int) -> int:
    """sum(inc(i) for i in range(n)): every workload checks it got this back."""
    return n * (n + 1) // 2


def plain_loop_s(n: int, repeats: int = 5) -> float:
    """Median time of calling the plain function n times in a loop, summing results."""
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        total = 0
        for i in range(n):
            total += inc(i)
        samples.append(time.perf_counter() - t)
        assert total == expected_total(n)
    return statistics.median(samples)


def plain_pool_s(n: int, repeats: int = 3) -> float:
    """Median time of n submit + result on a bare ThreadPoolExecutor (pool already warm)."""
    samples = []
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(inc, range(THREADS * 4)))  # start the threads outside the timing
        for _ in range(repeats):
            t = time.perf_counter()
            futures = [pool.submit(inc, i) for i in range(n)]
            total = sum(f.result() for f in futures)
            samples.append(time.perf_counter() - t)
            assert total == expected_total(n)
    return statistics.median(samples)


async def ainc(x):
    """The trivial task body, as a coroutine function."""
    return x + 1


async def awaited_body(fn, n: int):
    """Await ``fn(i)`` n times in a row; (seconds, total). Shared by every async workload."""
    t = time.perf_counter()
    total = 0
    for i in range(n):
        total += await fn(i)
    return time.perf_counter() - t, total


async def gathered_body(fn, n: int):
    """``asyncio.gather`` of n calls of ``fn``; (seconds, total)."""
    t = time.perf_counter()
    total = sum(await asyncio.gather(*(fn(i) for i in range(n))))
    return time.perf_counter() - t, total


def plain_async_s(n: int, gathered: bool, repeats: int = 5) -> float:
    """Median time of the same awaits (or gather) of a plain coroutine function, no engine."""
    body = gathered_body if gathered else awaited_body
    samples = []
    for _ in range(repeats):
        seconds, total = asyncio.run(body(ainc, n))
        samples.append(seconds)
        assert total == expected_total(n)
    return statistics.median(samples)


def per_task_us(body_s: float, baseline_s: float, n: int) -> float:
    """Engine time per task: what the flow body took beyond the bare mechanism, in µs."""
    return (body_s - baseline_s) / n * 1e6


def median_sample(samples: list[dict], key: str) -> dict:
    """The sample whose `key` is the median (lower median for an even count)."""
    ordered = sorted(samples, key=lambda s: s[key])
    return ordered[(len(ordered) - 1) // 2]
