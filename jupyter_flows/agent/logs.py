"""Shipping log lines to the server in batches, off the agent's hot path.

:class:`LogShipper` buffers lines and a daemon thread sends them every ``interval`` (or at
once when ``batch_size`` wait) through one ``send(lines)`` call: the agent's own log goes
to ``POST agents/{id}/logs`` (through :class:`AgentLogHandler`, a ``logging`` handler), the
output of the runs' processes to ``POST logs`` as their job logs. A failed send keeps the
batch and tries again later (backoff doubling to ``max_backoff``); the buffer is bounded,
dropping the oldest lines first, so a server that is away costs bounded memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

Send = Callable[[list[dict[str, Any]]], Any]


class LogShipper:
    def __init__(
        self,
        send: Send,
        *,
        name: str = "logs",
        interval: float = 0.25,
        batch_size: int = 500,
        max_buffer: int = 20_000,
        max_backoff: float = 10.0,
    ) -> None:
        self.send = send
        self.interval = interval
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self.dropped = 0
        self._lines: deque[dict[str, Any]] = deque(maxlen=max_buffer)
        self._cond = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"ship-{name}", daemon=True)
        self._thread.start()

    def put(self, line: dict[str, Any]) -> None:
        with self._cond:
            if len(self._lines) == self._lines.maxlen:
                self.dropped += 1
            self._lines.append(line)
            if len(self._lines) >= self.batch_size:
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every line put so far was sent (True), or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._lines or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(1.0)

    def _loop(self) -> None:
        backoff = 0.0
        while True:
            with self._cond:
                if not self._lines and not self._closed:
                    self._cond.wait(self.interval)
                if self._closed and (not self._lines or backoff):
                    return
                batch = [self._lines.popleft() for _ in range(min(len(self._lines), 1000))]
                self._in_flight = len(batch)
            if not batch:
                continue
            try:
                self.send(batch)
            except Exception:
                with self._cond:
                    self._lines.extendleft(reversed(batch))  # keep them, in order
                    self._in_flight = 0
                backoff = min(max(backoff * 2, 0.2), self.max_backoff)
                time.sleep(backoff)
                continue
            backoff = 0.0
            with self._cond:
                self._in_flight = 0
                self._cond.notify_all()


def log_line(level: int, message: str, name: str, **extra: Any) -> dict[str, Any]:
    """One line in the shape the server's log endpoints take."""
    return {
        "level": level,
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "message": message,
        "name": name,
        **extra,
    }


def about_run(logger: logging.Logger, flow_run_id: str) -> logging.LoggerAdapter[logging.Logger]:
    """``logger``, its records marked as being about ``flow_run_id`` (see AgentLogHandler)."""
    return logging.LoggerAdapter(logger, {"flow_run_id": flow_run_id})


class AgentLogHandler(logging.Handler):
    """Sends an agent's log records to its shipper (to ``POST agents/{id}/logs``).

    A record about one run (logged with ``extra={"flow_run_id": …}``, see
    :func:`about_run`) also goes to that run's own log through ``run_shipper`` (to
    ``POST logs``), where the run view shows it under the source "agent": what the agent
    did with the run (claimed, launched, stopped, handed back) beside what the run said.
    """

    def __init__(
        self,
        shipper: LogShipper,
        level: int = logging.INFO,
        *,
        run_shipper: LogShipper | None = None,
    ) -> None:
        super().__init__(level)
        self.shipper = shipper
        self.run_shipper = run_shipper

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            line = log_line(record.levelno, message, record.name)
            line["timestamp"] = datetime.fromtimestamp(record.created, timezone.utc).isoformat()
            self.shipper.put(line)
            run_id = getattr(record, "flow_run_id", None)
            if run_id and self.run_shipper is not None:
                self.run_shipper.put({**line, "flow_run_id": run_id})
        except Exception:
            self.handleError(record)
