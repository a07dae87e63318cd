"""ServiceLoop: ticks on the running loop, backs off after failures, stops promptly.

No test sleeps: a fake service tells the test when a tick ran, and intervals are long
enough that only ``stop()`` can end a wait.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timezone

import pytest

from jupyter_flows.server.background import ServiceLoop

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
#: Only a hang guard: an await that would otherwise never end fails the test instead.
GUARD = 30


class FakeService:
    name = "fake service"

    def __init__(self, *, fail: bool = False, interval: float = 3600.0) -> None:
        self.interval = interval
        self.fail = fail
        self.calls: list[datetime | None] = []
        self.threads: set[str] = set()
        self.ticked = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def run_once(self, now: datetime | None = None) -> int:
        self.calls.append(now)
        self.threads.add(threading.current_thread().name)
        self.loop.call_soon_threadsafe(self.ticked.set)
        if self.fail:
            raise RuntimeError("the database is down")
        return 2


@pytest.mark.asyncio
async def test_first_tick_runs_at_once_off_the_loop_thread_then_stop_returns() -> None:
    service = FakeService()
    loop = ServiceLoop(service, clock=lambda: NOW)

    loop.start()
    loop.start()  # a second start is a no-op
    await asyncio.wait_for(service.ticked.wait(), GUARD)
    assert loop.running
    await asyncio.wait_for(loop.stop(), GUARD)  # wakes the hour-long wait

    assert not loop.running
    assert service.calls == [NOW]
    assert threading.current_thread().name not in service.threads
    assert loop.ticks == 1 and loop.failures == 0


@pytest.mark.asyncio
async def test_a_failing_tick_is_logged_and_backs_off(caplog: pytest.LogCaptureFixture) -> None:
    service = FakeService(fail=True, interval=10.0)
    loop = ServiceLoop(service, clock=lambda: NOW, max_backoff=60.0)

    with caplog.at_level(logging.ERROR):
        loop.start()
        await asyncio.wait_for(service.ticked.wait(), GUARD)
        await asyncio.wait_for(loop.stop(), GUARD)

    assert loop.failures == 1 and loop.running is False
    assert "tick failed" in caplog.text and "the database is down" in caplog.text
    delays = []
    for failures in (0, 1, 2, 3, 10):
        loop.failures = failures
        delays.append(loop.delay())
    assert delays == [10, 20, 40, 60, 60]


@pytest.mark.asyncio
async def test_stop_before_start_and_twice_is_harmless() -> None:
    loop = ServiceLoop(FakeService())
    await loop.stop()
    loop.start()
    await asyncio.wait_for(loop.stop(), GUARD)
    await asyncio.wait_for(loop.stop(), GUARD)
    assert not loop.running


@pytest.mark.asyncio
async def test_stop_does_not_wait_for_a_stuck_tick_past_its_grace() -> None:
    release = threading.Event()

    class Stuck(FakeService):
        def run_once(self, now: datetime | None = None) -> int:
            super().run_once(now)
            release.wait(GUARD)
            return 0

    service = Stuck()
    loop = ServiceLoop(service)
    loop.start()
    await asyncio.wait_for(service.ticked.wait(), GUARD)
    try:
        await asyncio.wait_for(loop.stop(grace=0), GUARD)
        assert not loop.running
    finally:
        release.set()


@pytest.mark.asyncio
async def test_wake_starts_the_next_tick_before_the_interval() -> None:
    service = FakeService()  # an hour between ticks
    loop = ServiceLoop(service, clock=lambda: NOW)
    loop.start()
    await asyncio.wait_for(service.ticked.wait(), GUARD)
    service.ticked.clear()
    loop.wake()  # during the first tick or the hour's wait: either way a tick follows
    await asyncio.wait_for(service.ticked.wait(), GUARD)
    await asyncio.wait_for(loop.stop(), GUARD)
    assert len(service.calls) == 2


@pytest.mark.asyncio
async def test_a_burst_of_wakes_is_one_tick_when_the_loop_gathers() -> None:
    """The notifier is woken by every final state; with ``gather`` the wakes of a burst
    share one tick instead of each competing with the state changes for the database."""
    service = FakeService()  # an hour between ticks
    loop = ServiceLoop(service, clock=lambda: NOW, gather=0.5)
    loop.start()
    await asyncio.wait_for(service.ticked.wait(), GUARD)
    await asyncio.sleep(0.05)  # the first tick has ended: the loop waits for the hour
    service.ticked.clear()
    for _ in range(20):  # twenty state changes within the gathering time
        loop.wake()
        await asyncio.sleep(0.01)
    await asyncio.wait_for(service.ticked.wait(), GUARD)
    await asyncio.sleep(0.6)  # no second tick follows: the wakes were all gathered
    await asyncio.wait_for(loop.stop(), GUARD)
    assert len(service.calls) == 2
