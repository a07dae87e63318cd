"""A run's credentials reach the workers of a Dask cluster it did not start, for the
task's duration only."""

from __future__ import annotations

import os
import threading
import time

import pytest

from jupyter_flows import flow, get_run_logger, task
from jupyter_flows.engine.reporter import MemoryReporter
from jupyter_flows.engine.run_env import REDACT_ENV
from jupyter_flows.engine.worker_env import borrowed_environ, run_credentials
from jupyter_flows.task_runners import DaskTaskRunner

NAME = "FLOWS_TEST_WAREHOUSE_TOKEN"


def test_run_credentials_are_the_variables_redact_env_names() -> None:
    environ = {REDACT_ENV: f"{NAME},UNSET", NAME: "s3cr3t", "OTHER": "x"}
    assert run_credentials(environ) == {NAME: "s3cr3t"}
    assert run_credentials({"OTHER": "x"}) == {}


def test_borrowed_values_are_set_for_the_block_and_put_back(monkeypatch) -> None:
    monkeypatch.delenv(NAME, raising=False)
    monkeypatch.setenv("FLOWS_TEST_KEPT", "before")
    with borrowed_environ({NAME: "a", "FLOWS_TEST_KEPT": "during"}):
        assert os.environ[NAME] == "a" and os.environ["FLOWS_TEST_KEPT"] == "during"
        with borrowed_environ({NAME: "a"}):  # the same value: side by side
            assert os.environ[NAME] == "a"
        assert os.environ[NAME] == "a"  # still used by the outer block
    assert NAME not in os.environ
    assert os.environ["FLOWS_TEST_KEPT"] == "before"


def test_another_value_of_a_variable_in_use_waits_until_it_is_free(monkeypatch) -> None:
    monkeypatch.delenv(NAME, raising=False)
    seen: list[str] = []
    entered = threading.Event()
    release = threading.Event()

    def first() -> None:
        with borrowed_environ({NAME: "run-1"}):
            entered.set()
            release.wait(10)
            seen.append(os.environ[NAME])

    def second() -> None:
        entered.wait(10)
        with borrowed_environ({NAME: "run-2"}):
            seen.append(os.environ[NAME])

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    entered.wait(10)
    time.sleep(0.2)  # the second has had time to try
    assert seen == []  # it waits: the first run's value is in use
    release.set()
    for t in threads:
        t.join(10)
    assert seen == ["run-1", "run-2"]
    assert NAME not in os.environ


@pytest.mark.slow
def test_a_cluster_started_elsewhere_gets_the_run_credentials_for_its_tasks(
    monkeypatch, reporter: MemoryReporter
) -> None:
    from distributed import Client, LocalCluster

    monkeypatch.delenv(NAME, raising=False)
    # Worker processes started before the run, without its environment.
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0"
    ) as cluster:
        monkeypatch.setenv(NAME, "s3cr3t-value")
        monkeypatch.setenv(REDACT_ENV, NAME)

        @task
        def read_token() -> str | None:
            value = os.environ.get(NAME)
            get_run_logger().info("the token is %s", value)
            return value

        @flow(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
        def uses_the_warehouse() -> str | None:
            return read_token.submit().result()

        assert uses_the_warehouse() == "s3cr3t-value"
        with Client(cluster) as client:
            after = client.run(lambda: os.environ.get(NAME))
        assert set(after.values()) == {None}  # only for the task's duration
    # The task's log line came back with its result, to the run process's reporter (which
    # redacts before anything leaves the process: tests/engine/test_redaction.py).
    assert any("the token is" in r.message for r in reporter.logs), reporter.logs
