"""The engine's ids: UUIDv7 strings (RFC 9562), time-ordered and increasing in a process."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

import pytest

from jupyter_flows.engine import ids
from jupyter_flows.engine.ids import new_id

FORMAT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _ms(value: str) -> int:
    return uuid.UUID(value).int >> 80


def _counter(value: str) -> int:
    number = uuid.UUID(value).int
    return ((number >> 64) & 0xFFF) << 30 | (number >> 32) & 0x3FFF_FFFF


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A clock the test sets (milliseconds), and a fresh generator state."""
    now = [1_700_000_000_000]
    monkeypatch.setattr(ids.time, "time_ns", lambda: now[0] * 1_000_000 + 123)
    monkeypatch.setattr(ids, "_last_ms", -1)
    return now


def test_format_version_and_variant() -> None:
    for _ in range(1000):
        value = new_id()
        assert FORMAT.match(value), value
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == value


def test_the_first_48_bits_are_the_unix_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= _ms(value) <= after


def test_ids_made_one_after_another_sort_one_after_another() -> None:
    made = [new_id() for _ in range(20_000)]  # many within each millisecond
    assert made == sorted(made) and len(set(made)) == len(made)
    assert [uuid.UUID(x) for x in made] == sorted(uuid.UUID(x) for x in made)


def test_within_a_millisecond_the_counter_counts_and_the_tail_is_random(clock) -> None:
    made = [new_id() for _ in range(100)]
    assert {_ms(x) for x in made} == {clock[0]}
    counters = [_counter(x) for x in made]
    assert counters == list(range(counters[0], counters[0] + 100))
    assert counters[0] < 1 << 41  # a fresh counter has room to count
    assert len({x[-8:] for x in made}) == 100  # the random tail: what short names show


def test_a_new_millisecond_starts_a_new_random_counter(clock) -> None:
    first = new_id()
    clock[0] += 1
    second = new_id()
    assert _ms(second) == _ms(first) + 1 and second > first


def test_a_clock_stepping_back_does_not_break_the_order(clock) -> None:
    first = new_id()
    clock[0] -= 5_000
    second, third = new_id(), new_id()
    assert first < second < third
    assert _ms(second) == _ms(first)  # the last millisecond is kept until the clock passes it


def test_a_full_counter_borrows_the_next_millisecond(clock, monkeypatch) -> None:
    new_id()
    monkeypatch.setattr(ids, "_counter", (1 << 42) - 1)
    value = new_id()
    assert _ms(value) == clock[0] + 1 and _counter(value) < 1 << 41
    clock[0] += 1  # the clock catching up continues from there
    assert new_id() > value


def test_threads_get_distinct_increasing_ids() -> None:
    out: list[list[str]] = [[] for _ in range(8)]

    def work(mine: list[str]) -> None:
        for _ in range(2_000):
            mine.append(new_id())

    threads = [threading.Thread(target=work, args=(mine,)) for mine in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(mine == sorted(mine) for mine in out)
    assert len({x for mine in out for x in mine}) == 16_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_count_on_from_its_parent() -> None:
    new_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its generator state, then leave at once
        os.write(write, str(ids._last_ms).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        reported = pipe.read()
    os.waitpid(pid, 0)
    assert reported == "-1"
