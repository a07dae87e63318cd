from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jupyter_flows.engine.reporter import MemoryReporter, use_reporter
from jupyter_flows.task_runners import (
    DaskTaskRunner,
    SequentialTaskRunner,
    TaskRunner,
    ThreadPoolTaskRunner,
)


@pytest.fixture(autouse=True)
def result_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test persists results in a directory of its own, never in the user's home."""
    path = tmp_path / "results"
    monkeypatch.setenv("JUPYTER_FLOWS_RESULT_STORAGE", str(path))
    return path


@pytest.fixture
def reporter() -> Iterator[MemoryReporter]:
    """Records every state and log line of the runs a test starts."""
    with use_reporter(MemoryReporter()) as rep:
        yield rep


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    """One in-process cluster for the module; the runner connects to it by address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(params=["sequential", "threads", "dask"])
def make_runner(request: pytest.FixtureRequest) -> Callable[[], TaskRunner]:
    """Each task runner in turn: one contract, the same results on every runner."""
    if request.param == "sequential":
        return SequentialTaskRunner
    if request.param == "threads":
        return lambda: ThreadPoolTaskRunner(max_workers=4)
    address = request.getfixturevalue("dask_address")
    return lambda: DaskTaskRunner(address=address)
