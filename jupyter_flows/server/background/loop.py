"""Runs a background service's ticks on the server's asyncio (tornado) loop.

A service is one testable iteration, ``run_once(now)``, stateless between calls; this loop
is all the timing there is. Each tick runs on a thread of its own, so a tick waiting for the
SQLite write lock or a PostgreSQL round trip never blocks the IOLoop. A failed tick is
logged and the next one waits longer (doubling, capped); :meth:`ServiceLoop.stop` wakes the
wait at once, lets a tick in progress finish (ticks are short) for at most ``grace``
seconds, and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Protocol

from jupyter_flows.store.types import utcnow

log = logging.getLogger(__name__)


class Service(Protocol):
    #: Shown in logs and thread names.
    name: str
    #: Seconds between the end of one tick and the start of the next.
    interval: float

    def run_once(self, now: datetime | None = None) -> int: ...


class ServiceLoop:
    """``start()`` on a running loop, then ``await stop()``; the first tick runs at once."""

    def __init__(
        self,
        service: Service,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_backoff: float = 300.0,
        gather: float = 0.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.service = service
        #: Seconds a wake waits before its tick, so that a burst of wakes is one tick.
        self.gather = gather
        self.clock = clock
        self.max_backoff = max(max_backoff, service.interval)
        self.log = logger or log
        #: Ticks that ended (well or not) and how many failed in a row: for tests and status.
        self.ticks = 0
        self.failures = 0
        self._stopping: asyncio.Event | None = None
        #: Set to end the wait before the next tick early (a stop, or :meth:`wake`).
        self._nudged: asyncio.Event | None = None
        self._ticked: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is not None:
            return
        self._stopping = asyncio.Event()
        self._nudged = asyncio.Event()
        self._ticked = asyncio.Event()
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"flows-{self.service.name.replace(' ', '-')}"
        )
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"jupyter-flows {self.service.name}"
        )

    async def stop(self, grace: float = 5.0) -> None:
        """Stop ticking: wake the wait now; give a tick in progress ``grace`` seconds."""
        if self._task is None or self._stopping is None:
            return
        self._stopping.set()
        if self._nudged is not None:
            self._nudged.set()
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:  # the tick's thread finishes on its own; the loop no longer waits for it
            self.log.warning("jupyter-flows %s: a tick outlived the stop; left behind", self.name)
            self._task.cancel()
            await asyncio.wait({self._task})
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        """Start the next tick now instead of after the interval (call on the loop's
        thread): a tick in progress is followed by another at once."""
        if self._nudged is not None:
            self._nudged.set()

    async def wait_for_tick(self) -> None:
        """Return when the next tick has ended (for tests and status checks)."""
        if self._ticked is None:
            raise RuntimeError("the service loop was not started")
        self._ticked.clear()
        await self._ticked.wait()

    @property
    def name(self) -> str:
        return self.service.name

    def delay(self) -> float:
        """Seconds until the next tick: the interval, doubled per failure in a row, capped."""
        if self.failures == 0:
            return self.service.interval
        return float(min(self.service.interval * 2**self.failures, self.max_backoff))

    async def _run(self) -> None:
        assert self._stopping is not None
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            try:
                count = await loop.run_in_executor(self._executor, self._tick)
            except Exception:
                self.failures += 1
                self.log.exception(
                    "jupyter-flows %s: tick failed; next in %.0f s", self.name, self.delay()
                )
            else:
                self.failures = 0
                if count:
                    self.log.info("jupyter-flows %s: %d run(s)", self.name, count)
            self.ticks += 1
            assert self._ticked is not None
            self._ticked.set()
            assert self._nudged is not None
            woken = False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._nudged.wait(), self.delay())
                woken = True
            if woken and self.gather and not self._stopping.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.gather)
            self._nudged.clear()

    def _tick(self) -> int:
        return self.service.run_once(self.clock())
