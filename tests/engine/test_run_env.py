"""RunEnv: the run process's environment, written by an agent and read back."""

from __future__ import annotations

import pytest

from jupyter_flows.engine.run_env import RunEnv
from jupyter_flows.engine.runners import DaskTaskRunner

FULL = RunEnv(
    flow_run_id="run-1",
    api_url="http://127.0.0.1:8888/api/flows/",
    api_key="key",
    api_token="tok",
    run_document='{"id": "run-1"}',
    agent_pid=4242,
    dask={"address": "tcp://scheduler:8786"},
    run_process=True,
    console_logs=False,
    reproduce=True,
    overlay=("/opt/agent/lib", "/opt/agent/site-packages"),
)


def test_what_is_written_is_read_back() -> None:
    assert RunEnv.from_environ(FULL.to_environ()) == FULL
    assert RunEnv.from_environ({}) == RunEnv() and RunEnv().to_environ() == {}


def test_the_variable_names_are_the_contract() -> None:
    """Images, manifests and users set these names: they do not change with the code."""
    assert FULL.to_environ() == {
        "JUPYTER_FLOWS_API_URL": "http://127.0.0.1:8888/api/flows/",
        "JUPYTER_FLOWS_API_KEY": "key",
        "JUPYTER_FLOWS_API_TOKEN": "tok",
        "JUPYTER_FLOWS_RUN_PROCESS": "1",
        "JUPYTER_FLOWS_CONSOLE_LOGS": "0",
        "JUPYTER_FLOWS_FLOW_RUN_ID": "run-1",
        "JUPYTER_FLOWS_AGENT_PID": "4242",
        "JUPYTER_FLOWS_RUN_SPEC": '{"id": "run-1"}',
        "JUPYTER_FLOWS_DASK": '{"address": "tcp://scheduler:8786"}',
        "JUPYTER_FLOWS_REPRODUCE": "1",
        "JUPYTER_FLOWS_OVERLAY": "/opt/agent/lib:/opt/agent/site-packages",
    }


@pytest.mark.parametrize(
    ("value", "on"), [("0", False), ("false", False), ("no", False), ("1", True), ("yes", True)]
)
def test_console_logs_are_off_only_when_said_so(value: str, on: bool) -> None:
    assert RunEnv.from_environ({"JUPYTER_FLOWS_CONSOLE_LOGS": value}).console_logs is on


def test_a_pid_that_is_not_a_number_is_no_pid() -> None:
    assert RunEnv.from_environ({"JUPYTER_FLOWS_AGENT_PID": "self"}).agent_pid is None


def test_take_removes_what_only_the_start_of_the_run_needs() -> None:
    environ = {**FULL.to_environ(), "HOME": "/home/me"}
    assert RunEnv.take(environ) == FULL
    assert "JUPYTER_FLOWS_RUN_SPEC" not in environ and "JUPYTER_FLOWS_AGENT_PID" not in environ
    assert RunEnv.from_environ(environ).api_url == FULL.api_url and environ["HOME"] == "/home/me"


def test_the_dask_runner_comes_from_the_hand_off_alone() -> None:
    assert DaskTaskRunner.from_run_env(RunEnv()) is None
    at = DaskTaskRunner.from_run_env(RunEnv(dask={"address": "tcp://scheduler:8786"}))
    assert isinstance(at, DaskTaskRunner) and at.address == "tcp://scheduler:8786"
    local = DaskTaskRunner.from_run_env(RunEnv(dask={"cluster_kwargs": {"n_workers": 2}}))
    assert local is not None and local.address is None and local.cluster_kwargs == {"n_workers": 2}
