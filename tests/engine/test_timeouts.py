"""Timeouts: the caller stops waiting, the run is TimedOut, and the work is stopped.

No test here measures speed: each waits on events, with generous limits only as guards
against a hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from jupyter_flows import flow, task
from jupyter_flows.engine.errors import RunTimedOut
from jupyter_flows.engine.flow import TIMEOUT_EXIT_CODE
from jupyter_flows.engine.reporter import MemoryReporter


def _wait_until(condition, limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_task_timeout_marks_the_run_timed_out(reporter: MemoryReporter) -> None:
    release = threading.Event()

    @task(timeout_seconds=0.1)
    def stuck() -> None:
        release.wait(10)

    @flow
    def pipeline():
        return stuck(return_state=True)

    state = pipeline(return_state=True).data
    release.set()
    assert state.is_timed_out()
    assert "task run 'stuck-0' exceeded its timeout of 0.1 seconds" in state.message
    assert isinstance(state.exception, RunTimedOut)
    assert reporter.states_of(reporter.task_runs[0].id) == ["Pending", "Running", "TimedOut"]


def test_a_timed_out_pure_python_task_thread_is_stopped() -> None:
    progress = {"n": 0, "stopped": False}

    @task(timeout_seconds=0.1)
    def spin() -> None:
        try:
            while True:
                progress["n"] += 1
        finally:
            progress["stopped"] = True

    @flow
    def pipeline():
        return spin(return_state=True)

    assert pipeline(return_state=True).data.is_timed_out()
    assert _wait_until(lambda: progress["stopped"]), "the task's thread must be interrupted"
    count = progress["n"]
    time.sleep(0.05)
    assert progress["n"] == count, "the loop must not go on after the interrupt"


def test_a_task_blocked_in_c_stops_right_after_the_call_returns(tmp_path: Path) -> None:
    after = tmp_path / "after-sleep"
    returned = threading.Event()

    @task(timeout_seconds=0.1)
    def sleepy() -> None:
        try:
            time.sleep(0.5)  # a C call: the interrupt waits for it to end
            after.write_text("ran")  # never reached: interrupted first
        finally:
            returned.set()

    @flow
    def pipeline():
        return sleepy(return_state=True)

    assert pipeline(return_state=True).data.is_timed_out()
    assert returned.wait(10)
    assert not after.exists()


def test_timed_out_tasks_are_retried_like_failures(reporter: MemoryReporter) -> None:
    attempts: list[int] = []

    @task(timeout_seconds=0.1, retries=1)
    def sometimes_stuck() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            threading.Event().wait(5)
        return "ok"

    @flow
    def pipeline() -> str:
        return sometimes_stuck()

    assert pipeline() == "ok"
    assert reporter.states_of(reporter.task_runs[0].id) == [
        "Pending",
        "Running",
        "Retrying",
        "Running",
        "Completed",
    ]


def test_a_flow_timeout_in_process_raises_and_marks_timed_out(
    reporter: MemoryReporter,
) -> None:
    release = threading.Event()

    @flow(timeout_seconds=0.1)
    def slow() -> None:
        release.wait(10)

    with pytest.raises(RunTimedOut, match="exceeded its timeout of 0.1 seconds"):
        slow()
    release.set()
    assert reporter.states_of(reporter.flow_runs[0].id) == ["Pending", "Running", "TimedOut"]


SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from jupyter_flows import flow, task
    from jupyter_flows.engine.reporter import MemoryReporter, set_default_reporter

    marker = Path(sys.argv[1])

    class Printing(MemoryReporter):
        def state_changed(self, record):
            print("STATE", record.kind, record.state.name, flush=True)

    set_default_reporter(Printing())

    @task
    def forever():
        while True:                      # a thread that would keep the process alive
            time.sleep(0.05)

    @flow(timeout_seconds=0.5)
    def stuck():
        forever.submit()
        time.sleep(30)
        marker.write_text("the flow body went on")

    stuck()
    marker.write_text("the caller went on")
    """
)


def test_a_flow_timeout_in_its_own_process_ends_the_process(tmp_path: Path) -> None:
    script = tmp_path / "stuck.py"
    script.write_text(SCRIPT)
    marker = tmp_path / "marker"
    env = {**os.environ, "JUPYTER_FLOWS_RUN_PROCESS": "1", "JUPYTER_FLOWS_CONSOLE_LOGS": "0"}
    done = subprocess.run(
        [sys.executable, str(script), str(marker)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == TIMEOUT_EXIT_CODE, done.stderr
    assert "STATE flow_run TimedOut" in done.stdout
    assert not marker.exists()


def test_without_the_process_flag_the_caller_gets_the_error(tmp_path: Path) -> None:
    script = tmp_path / "stuck.py"
    script.write_text(
        SCRIPT.replace("time.sleep(30)", "time.sleep(1)").replace(
            "stuck()\n",
            "try:\n    stuck()\nexcept TimeoutError as e:\n    print('CAUGHT', e)\n"
            "import os; os._exit(0)\n",
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_FLOWS_RUN_PROCESS"}
    env["JUPYTER_FLOWS_CONSOLE_LOGS"] = "0"
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "marker")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "CAUGHT flow run" in done.stdout
