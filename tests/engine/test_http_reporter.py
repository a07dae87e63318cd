"""HttpReporter against a tiny ingest server on loopback: batching, retries, bounds, flush.

The server here is a stand-in that records every ``POST …/ingest`` body and answers as each
test tells it; the real server is exercised in tests/e2e/test_reporter_e2e.py.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from jupyter_flows import flow, get_run_logger, task
from jupyter_flows.engine import reporter as reporter_module
from jupyter_flows.engine.http_reporter import HttpReporter
from jupyter_flows.engine.reporter import (
    FlowRunRecord,
    LogRecord,
    StateRecord,
    TaskRunRecord,
    current_reporter,
    use_reporter,
)
from jupyter_flows.engine.states import Pending, Running

#: How a test's server answers one batch: (status, JSON body) or None for "200, all taken".
Answer = Callable[[dict[str, Any]], "tuple[int, dict[str, Any]] | None"]


class IngestServer:
    """Records every ingest batch; ``answer`` decides the reply (default: 200, all taken)."""

    def __init__(self, port: int = 0) -> None:
        self.batches: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.answer: Answer = lambda batch: None
        self.headers: list[dict[str, str]] = []
        self.received = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.headers.append(dict(self.headers))
                reply = outer.answer(body) if self.path.endswith("/api/flows/ingest") else None
                if not self.path.endswith("/api/flows/ingest"):
                    reply = (404, {"error": "not_found", "message": self.path})
                status, payload = reply or (200, {"rejected": []})
                with outer.received:
                    (outer.batches if status < 300 else outer.refused).append(body)
                    outer.received.notify_all()
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api/flows/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [record for batch in self.batches for record in batch[kind]]


@pytest.fixture
def server() -> Iterator[IngestServer]:
    srv = IngestServer()
    yield srv
    srv.stop()


@pytest.fixture
def make_reporter() -> Iterator[Callable[..., HttpReporter]]:
    made: list[HttpReporter] = []

    def make(url: str, **options: Any) -> HttpReporter:
        rep = HttpReporter(url, **{"flush_timeout": 30.0, "max_backoff": 0.2, **options})
        made.append(rep)
        return rep

    yield make
    for rep in made:
        rep.close(timeout=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def flow_run(run_id: str = "run-1") -> FlowRunRecord:
    return FlowRunRecord(id=run_id, name="brave-fox", flow_name="etl", parameters={"n": 3})


def state(run_id: str = "run-1", kind: str = "flow_run", new: Any = None) -> StateRecord:
    return StateRecord(kind, run_id, new or Pending())  # type: ignore[arg-type]


def line(message: str, run_id: str = "run-1", task_run_id: str | None = None) -> LogRecord:
    return LogRecord(run_id, task_run_id, 20, datetime.now(timezone.utc), message)


# ---------------------------------------------------------------- what is sent, and how


def test_a_flow_run_arrives_in_order_with_every_state_and_log(
    server: IngestServer, make_reporter: Callable[..., HttpReporter]
) -> None:
    @task
    def double(x: int) -> int:
        get_run_logger().info("doubling %d", x)
        return 2 * x

    @flow
    def doubles(n: int) -> list[int]:
        return double.map(range(n)).result()

    rep = make_reporter(server.url, api_key="jf_secret")
    with use_reporter(rep):
        assert doubles(3) == [0, 2, 4]
    # run_flow flushed: everything is there the moment the call returns.
    assert rep.pending == 0
    (run,) = server.records("flow_runs")
    assert run["flow_name"] == "doubles" and run["parameters"] == {"n": 3}
    task_runs = server.records("task_runs")
    assert sorted(t["name"] for t in task_runs) == ["double-0", "double-1", "double-2"]
    assert all(t["flow_run_id"] == run["id"] for t in task_runs)
    flow_states = [s["name"] for s in server.records("states") if s["run_id"] == run["id"]]
    assert flow_states == ["Pending", "Running", "Completed"]
    for t in task_runs:
        states = [s for s in server.records("states") if s["run_id"] == t["id"]]
        assert [s["type"] for s in states] == ["PENDING", "RUNNING", "COMPLETED"]
        assert all(s["kind"] == "task_run" for s in states)
    messages = [entry["message"] for entry in server.records("logs")]
    assert {"doubling 0", "doubling 1", "doubling 2"} <= set(messages)
    assert len({entry["id"] for entry in server.records("logs")}) == len(messages)
    assert all(h["Authorization"] == "Bearer jf_secret" for h in server.headers)
    # Every id the engine makes is a time-ordered UUIDv7 (the store indexes them).
    made = [run["id"], *(t["id"] for t in task_runs)]
    made += [r["id"] for kind in ("states", "logs") for r in server.records(kind)]
    assert all(uuid.UUID(x).version == 7 for x in made)


def test_records_of_one_batch_are_ordered_so_the_server_can_apply_them(
    server: IngestServer, make_reporter: Callable[..., HttpReporter]
) -> None:
    rep = make_reporter(server.url)
    rep.flow_run_created(flow_run())
    rep.state_changed(state())
    rep.task_run_created(TaskRunRecord("task-1", "t-0", "mod.t", "run-1"))
    rep.state_changed(state("task-1", "task_run"))
    rep.log(line("hello", task_run_id="task-1"))
    assert rep.drain()
    seen_runs: set[str] = set()
    for batch in server.batches:
        seen_runs.update(r["id"] for r in batch["flow_runs"] + batch["task_runs"])
        # Every state and log names a run created in this batch or an earlier one.
        assert all(s["run_id"] in seen_runs for s in batch["states"])
        assert all(entry["flow_run_id"] in seen_runs for entry in batch["logs"])
    assert [s["run_id"] for s in server.records("states")] == ["run-1", "task-1"]


def test_many_records_go_in_batches_of_at_most_batch_size(
    server: IngestServer, make_reporter: Callable[..., HttpReporter]
) -> None:
    rep = make_reporter(server.url, batch_size=50)
    rep.flow_run_created(flow_run())
    for i in range(400):
        rep.log(line(f"line {i}"))
    assert rep.drain()
    assert all(sum(len(batch[k]) for k in batch) <= 50 for batch in server.batches)
    assert len(server.batches) >= 8
    assert [entry["message"] for entry in server.records("logs")] == [
        f"line {i}" for i in range(400)
    ]


def test_task_runs_outside_any_flow_are_not_sent(
    server: IngestServer, make_reporter: Callable[..., HttpReporter]
) -> None:
    rep = make_reporter(server.url)
    rep.task_run_created(TaskRunRecord("loose", "t-1", "mod.t", None))
    rep.state_changed(state("loose", "task_run"))
    rep.log(LogRecord(None, "loose", 20, datetime.now(timezone.utc), "no flow"))
    rep.flow_run_created(flow_run())
    assert rep.drain()
    assert server.records("task_runs") == [] and server.records("states") == []
    assert [r["id"] for r in server.records("flow_runs")] == ["run-1"]


def test_values_json_cannot_say_are_sent_as_their_repr(
    server: IngestServer, make_reporter: Callable[..., HttpReporter]
) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    rep = make_reporter(server.url)
    record = flow_run()
    record.parameters = {"thing": Opaque(), "when": datetime(2026, 1, 2, tzinfo=timezone.utc)}
    rep.flow_run_created(record)
    assert rep.drain()
    assert server.records("flow_runs")[0]["parameters"] == {
        "thing": "<Opaque>",
        "when": "2026-01-02T00:00:00+00:00",
    }


# ---------------------------------------------------------------- failures and retries


def test_a_failed_batch_is_resent_with_the_same_ids_until_taken(
    server: IngestServer, make_reporter: Callable[..., HttpReporter]
) -> None:
    failures = iter([(503, {"error": "busy", "message": "database is locked"})] * 3)
    server.answer = lambda batch: next(failures, None)
    rep = make_reporter(server.url)
    rep.flow_run_created(flow_run())
    rep.state_changed(state())
    rep.log(line("kept"))
    assert rep.drain()
    assert len(server.refused) == 3
    (delivered,) = server.batches
    assert delivered == server.refused[0]  # the same records, the same client ids
    assert [entry["message"] for entry in server.records("logs")] == ["kept"]


def test_nothing_is_lost_while_the_server_is_away(
    make_reporter: Callable[..., HttpReporter], caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    rep = make_reporter(f"http://127.0.0.1:{port}/api/flows/")
    rep.flow_run_created(flow_run())
    rep.state_changed(state())
    for i in range(20):
        rep.log(line(f"offline {i}"))
    with caplog.at_level(logging.WARNING, logger="jupyter_flows.reporter"):
        assert rep.drain(timeout=0.3) is False  # nobody listens yet
        assert rep.drain(timeout=0.1) is False
    assert rep.pending == 22
    warnings = [r.getMessage() for r in caplog.records]
    assert any("cannot deliver" in m and str(port) in m for m in warnings)
    assert sum("not yet delivered" in m for m in warnings) == 1  # warned once

    server = IngestServer(port)  # the server comes back on the same port
    try:
        assert rep.drain()
        assert [r["id"] for r in server.records("flow_runs")] == ["run-1"]
        assert [entry["message"] for entry in server.records("logs")] == [
            f"offline {i}" for i in range(20)
        ]
    finally:
        server.stop()


def test_a_full_buffer_drops_the_oldest_log_lines_and_never_a_state(
    make_reporter: Callable[..., HttpReporter],
) -> None:
    port = free_port()
    # A long interval: nothing is in flight (and so beyond dropping) until flush() asks.
    rep = make_reporter(f"http://127.0.0.1:{port}/api/flows/", max_buffer=10, interval=3600)
    rep.flow_run_created(flow_run())
    for i in range(30):
        rep.log(line(f"log {i}"))
    rep.state_changed(state())
    rep.state_changed(state(new=Running()))
    assert rep.pending == 10
    assert rep.dropped_logs == 23  # 1 run + 2 states + the newest 7 lines fit
    for _ in range(15):  # no log line left to drop: states are kept past the bound
        rep.state_changed(state(new=Running()))
    assert rep.pending == 18 and rep.dropped_logs == 30

    server = IngestServer(port)
    try:
        assert rep.drain()
        assert len(server.records("states")) == 17
        assert server.records("logs") == []
    finally:
        server.stop()


def test_a_refused_batch_is_split_until_the_bad_record_is_alone(
    server: IngestServer, make_reporter: Callable[..., HttpReporter]
) -> None:
    def refuse_poison(batch: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if any(entry["message"] == "poison" for entry in batch["logs"]):
            return 400, {"error": "invalid_input", "message": "bad log line"}
        return None

    server.answer = refuse_poison
    rep = make_reporter(server.url)
    rep.flow_run_created(flow_run())
    for message in ["a", "b", "poison", "c", "d"]:
        rep.log(line(message))
    assert rep.drain()
    assert [entry["message"] for entry in server.records("logs")] == ["a", "b", "c", "d"]
    assert [r["id"] for r in server.records("flow_runs")] == ["run-1"]
    assert rep.rejected == 1


def test_records_the_server_rejects_are_counted_and_not_resent(
    server: IngestServer,
    make_reporter: Callable[..., HttpReporter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.answer = lambda batch: (
        200,
        {
            "rejected": [
                {
                    "kind": "states",
                    "index": 0,
                    "error": "illegal_transition",
                    "message": "illegal state transition PENDING -> PENDING",
                }
            ]
        },
    )
    rep = make_reporter(server.url)
    rep.flow_run_created(flow_run())
    rep.state_changed(state())
    with caplog.at_level(logging.WARNING, logger="jupyter_flows.reporter"):
        assert rep.drain()
    assert rep.rejected == 1 and len(server.batches) == 1
    assert "PENDING -> PENDING" in caplog.text


def test_a_fenced_attempt_sends_its_lease_then_drops_everything_and_stops(
    server: IngestServer, make_reporter: Callable[..., HttpReporter]
) -> None:
    lease = {"flow_run_id": "run-1", "attempt": 1, "token": "t1"}
    server.answer = lambda batch: (
        (409, {"error": "stale_attempt", "message": "attempt 1 of flow run run-1 is stale"})
        if any(entry["message"] == "late" for entry in batch["logs"])
        else None
    )
    fenced: list[str] = []
    rep = make_reporter(server.url, lease=lease, on_fenced=fenced.append)
    rep.flow_run_created(flow_run())
    rep.log(line("early"))
    assert rep.drain()
    assert server.batches[0]["lease"] == lease
    rep.log(line("late"))
    assert rep.drain()  # nothing waits any more: a fenced attempt's records are dropped
    assert fenced == ["attempt 1 of flow run run-1 is stale"] and rep.fenced
    rep.state_changed(state())
    rep.log(line("after"))
    assert rep.pending == 0
    assert [entry["message"] for entry in server.records("logs")] == ["early"]
    assert len(server.refused) == 1  # never resent


def test_with_a_spool_nothing_is_dropped_and_what_is_left_at_exit_is_delivered_later(
    server: IngestServer, make_reporter: Callable[..., HttpReporter], tmp_path: Any
) -> None:
    """The buffer overflows into the spool file (in order) instead of dropping log lines;
    what was not delivered when the process ends is spooled; another reporter (the
    agent's) delivers it, the run before its lines."""
    spool = tmp_path / "run.jsonl"
    server.stop()  # away from the start
    rep = make_reporter(server.url, max_buffer=50, spool_path=str(spool), max_backoff=0.05)
    rep.flow_run_created(flow_run())
    rep.state_changed(state())
    for i in range(200):
        rep.log(line(f"m{i}"))
    assert rep.dropped_logs == 0 and spool.stat().st_size > 0
    assert not rep.drain(0.3)
    rep._stop.set()
    assert rep.spool_rest() > 0  # what the exit hook does after a short wait

    back = IngestServer(server.port)
    try:
        agent_side = make_reporter(back.url)
        assert agent_side.replay(str(spool)) == 202
        assert agent_side.drain(30)
        messages = [entry["message"] for entry in back.records("logs")]
        assert sorted(messages) == sorted(f"m{i}" for i in range(200))
        assert [r["id"] for r in back.records("flow_runs")] == ["run-1"]
        assert len(back.records("states")) == 1
        assert spool.stat().st_size == 0  # delivered: emptied
        kinds = [k for batch in back.batches for k in ("flow_runs", "logs") if batch[k]]
        assert kinds[0] == "flow_runs"  # the run arrives before any of its lines
    finally:
        back.stop()


def test_spooling_the_rest_does_not_write_again_a_batch_read_from_the_spool(
    server: IngestServer, make_reporter: Callable[..., HttpReporter], tmp_path: Any
) -> None:
    """At exit the sending thread may hold a batch it read back from the spool file (its
    delivery failing): those records are in the file already, and spooling the rest must
    not append them a second time."""
    spool = tmp_path / "run.jsonl"
    server.stop()
    rep = make_reporter(server.url, max_buffer=50, spool_path=str(spool), max_backoff=0.05)
    rep.flow_run_created(flow_run())
    for i in range(120):
        rep.log(line(f"m{i}"))
    rep._stop.set()
    assert rep._thread is not None
    rep._thread.join(10)
    with rep._cond:  # the sending thread's state in the middle of a failed delivery
        in_flight = rep._take_batch()
    assert in_flight and in_flight[0][0] == 0  # read back from the file
    rep.spool_rest()
    records = [json.loads(text) for text in spool.read_text().splitlines()]
    messages = [r["body"]["message"] for r in records if r["kind"] == "logs"]
    assert sorted(messages) == sorted(f"m{i}" for i in range(120))  # each once


# ---------------------------------------------------------------- picked up from the environment


def test_current_reporter_is_an_http_reporter_when_the_api_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reporter_module, "_default", None)
    monkeypatch.setattr(reporter_module, "_from_env", None)
    monkeypatch.delenv("JUPYTER_FLOWS_API_URL", raising=False)
    assert current_reporter() is reporter_module._NULL
    monkeypatch.setenv("JUPYTER_FLOWS_API_URL", "http://127.0.0.1:9/api/flows")
    monkeypatch.setenv("JUPYTER_FLOWS_API_TOKEN", "tok")
    monkeypatch.setenv("JUPYTER_FLOWS_FLUSH_TIMEOUT", "3")
    first = current_reporter()
    assert isinstance(first, HttpReporter) and current_reporter() is first  # once per process
    assert first.ingest_url == "http://127.0.0.1:9/api/flows/ingest"
    assert first.headers["Authorization"] == "token tok" and first.flush_timeout == 3.0


def test_an_explicit_default_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reporter_module, "_from_env", None)
    monkeypatch.setenv("JUPYTER_FLOWS_API_URL", "http://127.0.0.1:9/api/flows/")
    monkeypatch.setattr(reporter_module, "_default", reporter_module._NULL)
    assert current_reporter() is reporter_module._NULL


def test_a_flow_in_a_fresh_process_reports_to_the_api_url(server: IngestServer) -> None:
    code = (
        "import sys\n"
        "import jupyter_flows\n"
        "assert 'httpx' not in sys.modules, 'httpx loaded before any run'\n"
        "from jupyter_flows import flow\n"
        "@flow\n"
        "def hello() -> str:\n"
        "    return 'hi'\n"
        "assert hello() == 'hi'\n"
        "assert 'httpx' in sys.modules\n"
    )
    env = {"JUPYTER_FLOWS_API_URL": server.url, "JUPYTER_FLOWS_CONSOLE_LOGS": "0"}
    subprocess.run(
        [sys.executable, "-c", code],
        env={**_base_env(), **env},
        check=True,
        timeout=60,
    )
    (run,) = server.records("flow_runs")
    assert run["flow_name"] == "hello"
    states = [s["name"] for s in server.records("states")]
    assert states == ["Pending", "Running", "Completed"]


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_FLOWS_API")}
