"""The reporter that sends a run's records to the REST API (``POST ingest``).

A flow's threads must never wait for the network, so :class:`HttpReporter` only appends each
record to a buffer; a daemon thread sends what is waiting every ``interval`` (100 ms), or at
once when ``batch_size`` records wait, as one ``POST {api_url}ingest``. ``flush()`` (called
by ``run_flow`` when a top-level run ends, and at process exit) waits until everything
reported so far is delivered, or ``flush_timeout`` passes.

What happens while the server is away:

- A batch that could not be delivered (no connection, a 5xx, 401/403/404/429) stays at the
  front of the buffer and is sent again after a delay that doubles from 0.1 s up to
  ``max_backoff``; one warning per outage, one more when it ends. Records keep their order.
- Resending is idempotent: every run carries its id and every log line and state a
  client-side uuid, so the server skips what it already has.
- The buffer is bounded by ``max_buffer`` records. When it is full the **oldest log lines**
  are dropped first (counted in ``dropped_logs`` and reported in a warning). Runs and states
  are **never dropped**: with no log line left to drop they are still kept (the buffer
  then grows past its bound, with a warning), since a lost state would leave a run wrong
  forever, while they are few next to log lines.
- A batch the server refuses as a whole (400, 413) is split in halves until the record it
  refuses is alone; that record is dropped with a warning. Records the server lists as
  ``rejected`` (an illegal state) are reported in a warning and not resent.
- ``flush()`` that times out warns once per process and returns: delivery goes on in the
  background for as long as the process lives.
- With a *spool* file (``spool_path``; an agent gives its run processes one in
  ``JUPYTER_FLOWS_SPOOL``) nothing is dropped for room: the oldest records move from the
  full buffer to the file (in order), and are sent from there first; what is
  still undelivered when the process exits is written there too, and the agent delivers it
  (:meth:`HttpReporter.replay`) however long the server stays away. The file is bounded
  by ``max_spool_bytes`` (1 GiB): past it, log lines are dropped, with one clear warning.

A run process of a claimed run (an agent started it) holds its attempt's *lease*:
``JUPYTER_FLOWS_FLOW_RUN_ID`` and ``JUPYTER_FLOWS_LEASE`` (``attempt:token``). Every batch
carries it, and when the server answers 409 ``stale_attempt`` (the run was given up or
given to another attempt) the reporter is *fenced*: it drops what it holds, sends nothing
more, and calls ``on_fenced`` (in a run process: end the process, :func:`end_fenced_process`)
so the stale attempt never writes over the one that replaced it.

Records that cannot be stored at all are skipped: task runs called outside any flow (they
have no flow run) and their states and log lines.

Configuration comes from the constructor or, in :func:`from_environment`, from
``JUPYTER_FLOWS_API_URL``, ``JUPYTER_FLOWS_API_KEY`` (sent as ``Bearer``),
``JUPYTER_FLOWS_API_TOKEN`` (a jupyter-server token), ``JUPYTER_FLOWS_FLUSH_TIMEOUT`` and
the lease above.
httpx is imported by the sending thread, when the first record arrives.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.ids import new_id
from jupyter_flows.engine.redaction import LogBoundary, Redactor, environment_redactor
from jupyter_flows.engine.run_env import FLUSH_TIMEOUT, RunEnv

if TYPE_CHECKING:  # reporter.py imports this module when the environment asks for it
    from jupyter_flows.engine.reporter import (
        ArtifactRecord,
        FlowRunRecord,
        LogRecord,
        StateRecord,
        TaskRunRecord,
    )

_log = logging.getLogger("jupyter_flows.reporter")

DEFAULT_MAX_SPOOL_BYTES = 1 << 30
#: How long a process with a spool waits for delivery at exit before spooling the rest.
EXIT_WAIT_WITH_SPOOL = 2.0
#: The answer's error code for a stale attempt (HTTP 409).
STALE_ATTEMPT = "stale_attempt"

#: Statuses that mean "try again later" rather than "this batch is wrong".
_RETRY_STATUSES = frozenset({401, 403, 404, 408, 409, 425, 429})
_KINDS = ("flow_runs", "task_runs", "states", "logs", "artifacts")

# One buffered record: (sequence number, kind in _KINDS, JSON-ready body).
_Item = tuple[int, str, dict[str, Any]]


#: How long a log line that ends with the start of a credential's value waits for the line
#: that may complete it (``engine/redaction.py``'s LogBoundary).
HOLD_SECONDS = 1.0


class HttpReporter:
    """Buffers records and ships them in batches to ``POST {api_url}ingest`` (see module doc)."""

    def __init__(
        self,
        api_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        batch_size: int = 1000,
        interval: float = 0.1,
        max_buffer: int = 100_000,
        flush_timeout: float = 10.0,
        max_backoff: float = 2.0,
        request_timeout: float = 10.0,
        lease: dict[str, Any] | None = None,
        on_fenced: Callable[[str], None] | None = None,
        spool_path: str | None = None,
        max_spool_bytes: int = DEFAULT_MAX_SPOOL_BYTES,
        redactor: Redactor | None = None,
    ) -> None:
        self.api_url = _api_root(api_url)
        self.ingest_url = self.api_url + "ingest"
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        elif token:
            self.headers["Authorization"] = f"token {token}"
        self.batch_size = max(1, batch_size)
        self.interval = interval
        self.max_buffer = max(1, max_buffer)
        self.flush_timeout = flush_timeout
        self.max_backoff = max_backoff
        self.request_timeout = request_timeout
        #: Log lines dropped because the buffer was full, and records the server refused.
        self.dropped_logs = 0
        self.rejected = 0
        #: ``{"flow_run_id", "attempt", "token"}`` of the attempt this process runs.
        self.lease = lease
        self.on_fenced = on_fenced
        #: Set when the server refused this attempt (409 stale_attempt): nothing more is sent.
        self.fenced: str | None = None
        self.spool_path = spool_path
        self.max_spool_bytes = max_spool_bytes
        #: Credential values to mask in every record before it is buffered (None: none).
        self.redactor = redactor if redactor else None
        self._reset_process_state()
        os.register_at_fork(after_in_child=self._reset_process_state)

    def _reset_process_state(self) -> None:
        # After a fork the child has no sending thread and must not resend the parent's records.
        self._cond = threading.Condition(threading.Lock())
        self._runs_and_states: deque[_Item] = deque()
        self._logs: deque[_Item] = deque()
        self._in_flight: list[_Item] = []
        self._seq = 0
        self._flush_waiters = 0
        self._orphans: set[str] = set()
        self._boundary = LogBoundary(self.redactor) if self.redactor is not None else None
        self._boundary_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._warned_full = self._warned_flush = self._warned_spool = False
        #: Records written to the spool file and not yet read back; where reading resumes.
        self._spooled = 0
        self._spool_offset = 0
        self._spool_batch = (0, 0)

    # ------------------------------------------------------------------ Reporter protocol
    def flow_run_created(self, record: FlowRunRecord) -> None:
        body = {
            "id": record.id,
            "name": record.name,
            "flow_name": record.flow_name,
            "parameters": record.parameters,
            "tags": list(record.tags),
            "parent_flow_run_id": record.parent_flow_run_id,
            "parent_task_run_id": record.parent_task_run_id,
        }
        self._put("flow_runs", body)

    def task_run_created(self, record: TaskRunRecord) -> None:
        if record.flow_run_id is None:
            self._orphans.add(record.id)
            return
        body = {
            "id": record.id,
            "flow_run_id": record.flow_run_id,
            "name": record.name,
            "task_key": record.task_key,
            "task_inputs": record.task_inputs,
            "tags": list(record.tags),
            "cache_key": record.cache_key,
        }
        self._put("task_runs", body)

    def state_changed(self, record: StateRecord) -> None:
        if record.run_id in self._orphans:
            return
        state = record.state
        body = {
            "id": new_id(),
            "kind": record.kind,
            "run_id": record.run_id,
            "type": state.type.value,
            "name": state.name,
            "message": state.message,
            "timestamp": state.timestamp.isoformat(),
        }
        self._put("states", body)

    def log(self, record: LogRecord) -> None:
        if record.flow_run_id is None or record.task_run_id in self._orphans:
            return
        body = record.to_dict()
        body["id"] = new_id()
        if self._boundary is None:
            self._put("logs", body)
            return
        # A value split across two writes: the line that ends with its start waits for
        # the next line of its stream (or a flush) and they are redacted together.
        with self._boundary_lock:
            key = (record.flow_run_id, record.task_run_id)
            for text, item in self._boundary.feed(key, record.message, body):
                item["message"] = text
                self._put("logs", item, redacted=True)

    def _release_held(self, older_than: float | None = None) -> None:
        if self._boundary is None:
            return
        with self._boundary_lock:
            for text, item in self._boundary.release(older_than):
                item["message"] = text
                self._put("logs", item, redacted=True)

    def artifact_created(self, record: ArtifactRecord) -> None:
        # Kept like runs and states (never dropped for room): there are few of them.
        self._put("artifacts", record.to_dict())

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every record reported so far is delivered, or ``timeout`` passes."""
        self.drain(timeout)

    def drain(self, timeout: float | None = None) -> bool:
        """``flush`` that tells: True when everything reported so far is delivered."""
        self._release_held()
        timeout = self.flush_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._seq
            if self._oldest_seq() > target:
                return True
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                while self._oldest_seq() <= target:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._thread is None or not self._thread.is_alive():
                        break
                    self._cond.wait(left)
                done = self._oldest_seq() > target
                waiting = self._pending()
            finally:
                self._flush_waiters -= 1
        if not done and not self._warned_flush:
            self._warned_flush = True
            _log.warning(
                "jupyter-flows: %d run records not yet delivered to %s after %.0f s; "
                "still trying in the background while this process lives",
                waiting,
                self.ingest_url,
                timeout,
            )
        return done

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the sending thread."""
        self.flush(timeout)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending()

    # ------------------------------------------------------------------ the buffer
    def _pending(self) -> int:
        memory = len(self._runs_and_states) + len(self._logs) + len(self._in_flight)
        return memory + self._spooled

    def _oldest_seq(self) -> int:
        """The sequence number of the oldest record not yet delivered (past the last if none)."""
        if self._spooled:
            return 0  # spooled records are older than any in memory
        heads = [queue[0][0] for queue in (self._runs_and_states, self._logs) if queue]
        if self._in_flight:
            heads.append(self._in_flight[0][0])
        return min(heads) if heads else self._seq + 1

    def _put(self, kind: str, body: dict[str, Any], redacted: bool = False) -> None:
        if self.redactor is not None and not redacted:
            self._release_held()  # a held line goes before what follows it
            body = self.redactor.scrub(body)
        with self._cond:
            if self.fenced is not None:
                return  # this attempt is over: nothing it says may land
            if self._pending() >= self.max_buffer and not self._make_room(kind):
                return
            self._seq += 1
            queue = self._logs if kind == "logs" else self._runs_and_states
            queue.append((self._seq, kind, body))
            if len(self._runs_and_states) + len(self._logs) >= self.batch_size:
                self._cond.notify_all()
            if self._thread is None:
                self._start()

    def _make_room(self, kind: str) -> bool:
        """Spool (or else drop) the oldest waiting log lines; False if the new record is to
        be dropped."""
        if self.spool_path is not None and self._spill(max(1, self.max_buffer // 10)):
            return True
        if self._logs:
            self._logs.popleft()
            self._count_drop()
            return True
        if kind == "logs":
            self._count_drop()
            return False
        if not self._warned_full:
            self._warned_full = True
            _log.warning(
                "jupyter-flows: %d run records wait for %s; runs and states are kept past "
                "the buffer's bound of %d",
                self._pending(),
                self.ingest_url,
                self.max_buffer,
            )
        return True

    def _count_drop(self) -> None:
        self.dropped_logs += 1
        if self.dropped_logs == 1:
            _log.warning(
                "jupyter-flows: the buffer for %s is full (%d records); dropping the oldest "
                "log lines (runs and states are kept)",
                self.ingest_url,
                self.max_buffer,
            )

    # ------------------------------------------------------------------ the spool file
    def _spill(self, count: int) -> bool:
        """Move the ``count`` oldest waiting records, whatever their kind, to the spool file
        (so the file stays in order: a run before its states and lines)."""
        runs, logs = self._runs_and_states, self._logs
        oldest: list[_Item] = []
        while len(oldest) < count and (runs or logs):
            if runs and (not logs or runs[0][0] < logs[0][0]):
                oldest.append(runs.popleft())
            else:
                oldest.append(logs.popleft())
        if oldest and self._spool(oldest):
            return True
        for item in reversed(oldest):
            (self._logs if item[1] == "logs" else self._runs_and_states).appendleft(item)
        return False

    def _spool(self, items: list[_Item]) -> bool:
        """Append ``items`` to the spool file (call with the lock held); False when full."""
        assert self.spool_path is not None
        lines = "".join(
            json.dumps({"kind": kind, "body": body}, default=_json_default) + "\n"
            for _, kind, body in items
        )
        try:
            size = os.path.getsize(self.spool_path)
        except OSError:
            size = 0
        if size + len(lines) > self.max_spool_bytes:
            if not self._warned_spool:
                self._warned_spool = True
                _log.warning(
                    "jupyter-flows: the spool file %s is full (%d bytes, the limit); log "
                    "lines that cannot wait in memory are dropped from now on",
                    self.spool_path,
                    size,
                )
            return False
        try:
            with open(self.spool_path, "a", encoding="utf-8") as out:
                out.write(lines)
        except OSError as exc:
            if not self._warned_spool:
                self._warned_spool = True
                _log.warning(
                    "jupyter-flows: cannot write the spool file %s: %s", self.spool_path, exc
                )
            return False
        self._spooled += len(items)
        return True

    def _read_spool(self) -> list[_Item]:
        """The next batch from the spool file (call with the lock held)."""
        assert self.spool_path is not None
        items: list[_Item] = []
        start = self._spool_offset
        try:
            with open(self.spool_path, encoding="utf-8") as source:
                source.seek(self._spool_offset)
                while len(items) < self.batch_size:
                    line = source.readline()
                    if not line:
                        break
                    if not line.endswith("\n"):
                        break  # a line cut short (a process killed while writing)
                    self._spool_offset += len(line.encode("utf-8"))
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    items.append((0, str(record["kind"]), dict(record["body"])))
        except OSError:
            pass
        self._spool_batch = (start, len(items))
        self._spooled = max(0, self._spooled - len(items))
        if not items:
            self._spooled = 0
            self._truncate_spool()
        return items

    def _truncate_spool(self) -> None:
        assert self.spool_path is not None
        self._spool_offset = 0
        try:
            with open(self.spool_path, "w", encoding="utf-8"):
                pass
        except OSError:
            pass

    def replay(self, path: str) -> int:
        """Deliver the records a run process spooled in ``path`` (its agent does, the
        process having exited), read from the file as they go; returns how many."""
        try:
            with open(path, encoding="utf-8") as source:
                count = sum(1 for line in source if line.endswith("\n"))
        except OSError:
            return 0
        with self._cond:
            self.spool_path = path
            self._spool_offset = 0
            self._spooled = count
            if count and self._thread is None:
                self._start()
            self._cond.notify_all()
        return count

    def spool_rest(self) -> int:
        """Write everything not delivered yet to the spool file (at exit); returns how many."""
        if self.spool_path is None:
            return 0
        self._release_held()
        with self._cond:
            if self.fenced is not None:
                return 0
            # An in-flight batch read from the spool (sequence 0) is in the file already:
            # written again, the records would be delivered twice from it.
            in_flight = [item for item in self._in_flight if item[0] != 0]
            items = sorted([*in_flight, *self._runs_and_states, *self._logs], key=lambda i: i[0])
            if not items:
                return 0
            saved = self.max_spool_bytes
            if any(kind != "logs" for _, kind, _ in items):
                self.max_spool_bytes = max(saved, 1 << 62)  # never lose a run or a state
            try:
                written = self._spool(items)
            finally:
                self.max_spool_bytes = saved
            if written:
                self._runs_and_states.clear()
                self._logs.clear()
                self._in_flight = []
            return len(items) if written else 0

    def _take_batch(self) -> list[_Item]:
        """Move up to batch_size of the oldest records, in order, to the in-flight list."""
        if self._spooled and self.spool_path is not None:
            spooled = self._read_spool()
            if spooled:
                self._in_flight = spooled
                return spooled
        runs, logs = self._runs_and_states, self._logs
        batch: list[_Item] = []
        while len(batch) < self.batch_size and (runs or logs):
            if runs and (not logs or runs[0][0] < logs[0][0]):
                batch.append(runs.popleft())
            else:
                batch.append(logs.popleft())
        self._in_flight = batch
        return batch

    def _give_back(self, batch: list[_Item]) -> None:
        """Put an undelivered batch back at the front, in order."""
        if batch and batch[0][0] == 0:  # read from the spool: read it again next time
            self._spool_offset, count = self._spool_batch
            self._spooled += count
            self._in_flight = []
            return
        for item in reversed(batch):
            queue = self._logs if item[1] == "logs" else self._runs_and_states
            queue.appendleft(item)
        self._in_flight = []

    # ------------------------------------------------------------------ the sending thread
    def _start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="jupyter-flows-reporter", daemon=True
        )
        self._thread.start()
        atexit.register(self._at_exit)

    def _at_exit(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            return
        if self.spool_path is None:
            self.close()
            return
        # With a spool, what the server cannot take now waits in the file for the agent.
        self.drain(min(self.flush_timeout, EXIT_WAIT_WITH_SPOOL))
        self._stop.set()
        count = self.spool_rest()
        if count:
            _log.warning(
                "jupyter-flows: %d run records spooled to %s; the agent delivers them",
                count,
                self.spool_path,
            )

    def _run(self) -> None:
        import httpx

        backoff = 0.0
        outage_since: float | None = None
        with httpx.Client(headers=self.headers, timeout=self.request_timeout) as http:
            while not self._stop.is_set():
                self._release_held(older_than=HOLD_SECONDS)  # a split value's first line
                with self._cond:
                    waiting = bool(self._runs_and_states or self._logs or self._spooled)
                    if not (waiting and self._flush_waiters) and not self._full_batch_waiting():
                        self._cond.wait(self.interval)
                    if not (self._runs_and_states or self._logs or self._spooled):
                        continue
                    batch = self._take_batch()
                    if not batch:
                        continue
                error = self._deliver(http, batch)
                with self._cond:
                    if error is None:
                        self._in_flight = []
                        if batch[0][0] == 0 and not self._spooled and self.spool_path:
                            self._truncate_spool()  # everything spooled is delivered
                    else:
                        self._give_back(batch)
                    self._cond.notify_all()
                if error is None:
                    if outage_since is not None:
                        _log.warning(
                            "jupyter-flows: delivering run records to %s again after %.0f s",
                            self.ingest_url,
                            time.monotonic() - outage_since,
                        )
                    backoff, outage_since = 0.0, None
                    continue
                if outage_since is None:
                    outage_since = time.monotonic()
                    _log.warning(
                        "jupyter-flows: cannot deliver run records to %s (%s); keeping them "
                        "and retrying",
                        self.ingest_url,
                        error,
                    )
                backoff = min(self.max_backoff, backoff * 2 if backoff else 0.1)
                self._stop.wait(backoff)

    def _full_batch_waiting(self) -> bool:
        return len(self._runs_and_states) + len(self._logs) >= self.batch_size

    def _deliver(self, http: Any, batch: list[_Item]) -> str | None:
        """Send ``batch``; None when the server has it all, else why it must be resent."""
        import httpx

        body: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _KINDS}
        for _, kind, record in batch:
            body[kind].append(record)
        if not body["artifacts"]:
            del body["artifacts"]  # what servers from before artifacts accept
        if self.lease is not None:
            body["lease"] = self.lease  # type: ignore[assignment]
        try:
            content = json.dumps(body, default=_json_default)
            response = http.post(self.ingest_url, content=content)
        except httpx.HTTPError as exc:
            return str(exc) or type(exc).__name__
        status = response.status_code
        if status == 409 and _error_code(response) == STALE_ATTEMPT:
            self._fence(_message(response))
            return None
        if status >= 500 or status in _RETRY_STATUSES:
            return f"HTTP {status}: {_message(response)}"
        if status >= 400:  # the batch itself is refused: find the record at fault
            if len(batch) == 1:
                self.rejected += 1
                _log.warning(
                    "jupyter-flows: %s refused a %s record (HTTP %d: %s); it is dropped",
                    self.ingest_url,
                    batch[0][1],
                    status,
                    _message(response),
                )
                return None
            half = len(batch) // 2
            return self._deliver(http, batch[:half]) or self._deliver(http, batch[half:])
        self._report_rejected(response, body)
        return None

    def _fence(self, why: str) -> None:
        """The server refused this attempt: drop everything, send nothing more, stop."""
        with self._cond:
            if self.fenced is not None:
                return
            self.fenced = why or "stale attempt"
            self._runs_and_states.clear()
            self._logs.clear()
            self._in_flight = []
        self._stop.set()
        _log.warning("jupyter-flows: %s refused this attempt: %s", self.ingest_url, self.fenced)
        if self.on_fenced is not None:
            self.on_fenced(self.fenced)
        with self._cond:  # flush() returns once the attempt is stopped
            self._cond.notify_all()

    def _report_rejected(self, response: Any, body: dict[str, list[dict[str, Any]]]) -> None:
        try:
            rejected = response.json().get("rejected") or []
        except (ValueError, AttributeError):
            return
        self.rejected += len(rejected)
        for item in rejected[:5]:
            _log.warning(
                "jupyter-flows: %s rejected a %s record: %s",
                self.ingest_url,
                str(item.get("kind", "?")).rstrip("s"),
                item.get("message", item.get("error", "?")),
            )


def _api_root(url: str) -> str:
    """``…/api/flows/`` with its slash (a bare server URL gets the API path appended)."""
    base = url.split("?", 1)[0].rstrip("/") + "/"
    return base if base.endswith("/api/flows/") else base + "api/flows/"


def _json_default(value: Any) -> Any:
    """Parameters and messages may hold anything: what JSON cannot say is sent as its repr."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def _error_code(response: Any) -> str:
    try:
        return str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return ""


def _message(response: Any) -> str:
    try:
        return str(response.json().get("message", ""))[:200]
    except (ValueError, AttributeError):
        return str(response.text)[:200]


def from_environment() -> HttpReporter | None:
    """An HttpReporter for ``JUPYTER_FLOWS_API_URL``; None when that variable is unset."""
    env = RunEnv.from_environ()
    if not env.api_url:
        return None
    try:
        flush_timeout = float(os.environ.get(FLUSH_TIMEOUT, "10"))
    except ValueError:
        flush_timeout = 10.0
    lease = env.lease_of()
    return HttpReporter(
        env.api_url,
        api_key=env.api_key,
        token=env.api_token,
        flush_timeout=flush_timeout,
        lease=lease,
        on_fenced=end_fenced_process if lease is not None and env.run_process else None,
        spool_path=env.spool,
        redactor=environment_redactor() if env.redact_env else None,
    )


def end_fenced_process(why: str) -> None:
    """End this run process (and its process group, when it leads one: Dask workers): its
    attempt is over, and another may be running the flow by now."""
    try:
        print(f"jupyter-flows: this attempt is fenced, stopping: {why}", file=sys.stderr)
        sys.stderr.flush()
    finally:
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(75)
