"""Run loggers and log_prints: every record names its run, in UTC, and reaches the reporter."""

from __future__ import annotations

import logging
from datetime import timezone

import pytest

from jupyter_flows import flow, get_run_logger, task
from jupyter_flows.engine.errors import MissingContextError
from jupyter_flows.engine.reporter import MemoryReporter, set_default_reporter, use_reporter


def test_get_run_logger_outside_a_run_is_a_clear_error() -> None:
    with pytest.raises(MissingContextError, match="no active flow or task run"):
        get_run_logger()


def test_records_carry_run_ids_level_and_utc_time(reporter: MemoryReporter) -> None:
    @task
    def step() -> None:
        get_run_logger().warning("from the task")

    @flow
    def pipeline() -> None:
        get_run_logger().info("from the flow")
        step()

    pipeline()
    flow_run = reporter.flow_runs[0]
    task_run = reporter.task_runs[0]
    by_message = {r.message: r for r in reporter.logs}
    flow_line, task_line = by_message["from the flow"], by_message["from the task"]
    assert (flow_line.flow_run_id, flow_line.task_run_id) == (flow_run.id, None)
    assert (task_line.flow_run_id, task_line.task_run_id) == (flow_run.id, task_run.id)
    assert (flow_line.level, task_line.level) == (logging.INFO, logging.WARNING)
    assert task_line.timestamp.tzinfo == timezone.utc
    assert task_line.to_dict()["timestamp"].endswith("+00:00")


def test_log_prints_captures_print_in_flows_and_tasks(
    reporter: MemoryReporter, capsys: pytest.CaptureFixture[str]
) -> None:
    @task
    def step() -> None:
        print("task", "says", 1)

    @task(log_prints=False)
    def quiet_step() -> None:
        print("not captured")

    @flow(log_prints=True)
    def pipeline() -> None:
        print("flow says hi")
        step()
        quiet_step()

    pipeline()
    messages = reporter.messages()
    assert "flow says hi" in messages and "task says 1" in messages
    assert "not captured" not in messages
    assert "not captured" in capsys.readouterr().out


def test_print_outside_log_prints_runs_is_untouched(
    reporter: MemoryReporter, capsys: pytest.CaptureFixture[str]
) -> None:
    @flow
    def pipeline() -> None:
        print("plain output")

    pipeline()
    assert "plain output" in capsys.readouterr().out
    assert "plain output" not in reporter.messages()


def test_print_to_another_file_is_not_captured(reporter: MemoryReporter) -> None:
    import io

    buffer = io.StringIO()

    @flow(log_prints=True)
    def pipeline() -> None:
        print("to a buffer", file=buffer)

    pipeline()
    assert buffer.getvalue() == "to a buffer\n"
    assert "to a buffer" not in reporter.messages()


def test_the_default_reporter_receives_runs_outside_use_reporter() -> None:
    default = MemoryReporter()
    set_default_reporter(default)
    try:

        @flow
        def pipeline() -> int:
            return 1

        pipeline()
        with use_reporter(MemoryReporter()) as scoped:
            pipeline()
    finally:
        set_default_reporter(None)
    assert len(default.flow_runs) == 1 and len(scoped.flow_runs) == 1


def test_a_broken_reporter_does_not_break_the_run() -> None:
    class Broken(MemoryReporter):
        def log(self, record):  # type: ignore[no-untyped-def]
            raise OSError("network down")

    @flow
    def pipeline() -> int:
        get_run_logger().info("still fine")
        return 5

    logging.raiseExceptions = False
    try:
        with use_reporter(Broken()):
            assert pipeline() == 5
    finally:
        logging.raiseExceptions = True


class _Collected(list[str]):
    def write(self, text: str) -> None:
        self.append(text)

    def flush(self) -> None:
        pass


class _KernelStream(_Collected):
    """Stands for ipykernel's OutStream: the console handler knows it by its module."""


_KernelStream.__module__ = "ipykernel.iostream"


@pytest.mark.parametrize(
    ("kind", "info_goes_to"), [(_KernelStream, "stdout"), (_Collected, "stderr")]
)
def test_console_lines_below_warning_go_to_stdout_in_a_notebook_only(
    monkeypatch: pytest.MonkeyPatch, kind: type[_Collected], info_goes_to: str
) -> None:
    from jupyter_flows.engine.logs import ConsoleHandler

    streams = {"stdout": kind(), "stderr": kind()}
    monkeypatch.setattr("sys.stdout", streams["stdout"])
    monkeypatch.setattr("sys.stderr", streams["stderr"])
    handler = ConsoleHandler()
    log = logging.getLogger("jupyter_flows.tests.console")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("careful")
        log.info("informed")
        log.error("broken")
    finally:
        log.removeHandler(handler)
    assert "".join(streams[info_goes_to]).count("informed") == 1
    assert "careful" in "".join(streams["stderr"]) and "broken" in "".join(streams["stderr"])
    if info_goes_to == "stdout":
        assert "careful" not in "".join(streams["stdout"])
