"""Slot arithmetic: property tests for interval and cron schedules, DST rules by example.

Cron slots are checked against a brute-force oracle that walks every UTC minute of the
window and applies the rules of ``schedules`` (first occurrence of a repeated local time;
a fixed-time line's missing local time at the end of the jump) with its own field matcher,
so croniter's parsing is checked too.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from jupyter_flows.server.background.schedules import (
    has_fixed_time,
    is_slot,
    iter_slots,
    next_slots,
)

UTC = timezone.utc
ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
MINUTE = timedelta(minutes=1)
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Sched:
    kind: str
    interval_seconds: float | None = None
    anchor_date: datetime | None = None
    cron: str | None = None
    timezone: str = "UTC"


def cron(line: str, tz: str = "UTC") -> Sched:
    return Sched("cron", cron=line, timezone=tz)


def every(seconds: float, anchor: datetime) -> Sched:
    return Sched("interval", interval_seconds=seconds, anchor_date=anchor)


def check_window(slots: list[datetime], after: datetime, until: datetime, limit: int) -> None:
    assert len(slots) <= limit
    assert all(s.tzinfo is UTC for s in slots)
    assert all(after < s <= until for s in slots)
    assert all(a < b for a, b in itertools.pairwise(slots))


# ------------------------------------------------------------------ strategies


@functools.cache
def transitions(tz_name: str) -> list[datetime]:
    """Every UTC instant from 2020 to 2031 where ``tz_name`` changes its offset."""
    tz = ZoneInfo(tz_name)
    found = []
    t = datetime(2020, 1, 1, tzinfo=UTC)
    offset = t.astimezone(tz).utcoffset()
    while t.year < 2031:
        nxt = t + timedelta(hours=1)
        if nxt.astimezone(tz).utcoffset() != offset:
            lo, hi = t, nxt
            while hi - lo > MINUTE:
                mid = lo + (hi - lo) / 2
                lo, hi = (lo, mid) if mid.astimezone(tz).utcoffset() != offset else (mid, hi)
            found.append(hi.replace(second=0, microsecond=0))
            offset = nxt.astimezone(tz).utcoffset()
        t = nxt
    return found


@st.composite
def windows(draw: st.DrawFn, tz_name: str, max_hours: int = 48) -> tuple[datetime, datetime]:
    """(after, until): mostly around one of the zone's DST transitions, at any second."""
    near = transitions(tz_name)
    if near and draw(st.integers(0, 3)) > 0:
        center = draw(st.sampled_from(near))
    else:
        center = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(
            minutes=draw(st.integers(0, 11 * 365 * 24 * 60))
        )
    after = center + timedelta(seconds=draw(st.integers(-30 * 3600, 6 * 3600)))
    until = after + timedelta(seconds=draw(st.integers(1, max_hours * 3600)))
    return after, until


@st.composite
def cron_field(
    draw: st.DrawFn, lo: int, hi: int, top: int | None = None
) -> tuple[str, frozenset[int]]:
    """One cron field as text and the set of values it allows: values from lo..hi, while
    ``*`` and ``*/n`` cover the field's whole range lo..top."""
    top = hi if top is None else top
    kind = draw(st.sampled_from(["star", "step", "value", "range", "range_step", "list"]))
    if kind == "star":
        return "*", frozenset(range(lo, top + 1))
    if kind == "step":
        n = draw(st.integers(2, max(2, (top - lo) // 2)))
        return f"*/{n}", frozenset(range(lo, top + 1, n))
    if kind == "value":
        v = draw(st.integers(lo, hi))
        return str(v), frozenset({v})
    if kind == "range":
        a = draw(st.integers(lo, hi))
        b = draw(st.integers(a, hi))
        return f"{a}-{b}", frozenset(range(a, b + 1))
    if kind == "range_step":
        a = draw(st.integers(lo, hi))
        b = draw(st.integers(a, hi))
        n = draw(st.integers(2, 20))
        return f"{a}-{b}/{n}", frozenset(range(a, b + 1, n))
    values = sorted(draw(st.sets(st.integers(lo, hi), min_size=2, max_size=4)))
    return ",".join(map(str, values)), frozenset(values)


@dataclass(frozen=True)
class Line:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    weekdays: frozenset[int]  # cron numbering: 0 = Sunday

    def matches(self, wall: datetime) -> bool:
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and (wall.weekday() + 1) % 7 in self.weekdays
        )


@st.composite
def cron_lines(draw: st.DrawFn) -> Line:
    minute, minutes = draw(cron_field(0, 59))
    # Hours near the DST jumps (0-3) most of the time, so the rules are exercised.
    hour, hours = draw(cron_field(0, 3, 23) | cron_field(0, 23))
    dow, weekdays = draw(st.just(("*", frozenset(range(7)))) | cron_field(0, 6))
    return Line(f"{minute} {hour} * * {dow}", minutes, hours, weekdays)


def oracle(line: Line, tz: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """Every slot in (after, until] by the documented rules, minute by minute."""
    fixed = has_fixed_time(line.text)
    slots = []
    m = after.replace(second=0, microsecond=0) + MINUTE
    while m <= until:
        local = m.astimezone(tz)
        wall = local.replace(tzinfo=None, fold=0)
        before = (m - MINUTE).astimezone(tz).replace(tzinfo=None, fold=0)
        gap_walls = []
        if wall - before > MINUTE:  # the clock jumped forward just now
            w = before + MINUTE
            while w < wall:
                gap_walls.append(w)
                w += MINUTE
        first_time = local.fold == 0
        if (first_time and line.matches(wall)) or (
            fixed and any(line.matches(w) for w in gap_walls)
        ):
            slots.append(m)
        m += MINUTE
    return slots


# ------------------------------------------------------------------ cron properties


@PROPS
@given(data=st.data(), tz_name=st.sampled_from(ZONES), line=cron_lines())
def test_cron_slots_follow_the_rules_in_every_zone(
    data: st.DataObject, tz_name: str, line: Line
) -> None:
    after, until = data.draw(windows(tz_name))
    limit = data.draw(st.integers(1, 300))
    tz = ZoneInfo(tz_name)

    slots = next_slots(cron(line.text, tz_name), after, until, limit)

    check_window(slots, after, until, limit)
    assert slots == oracle(line, tz, after, until)[:limit]
    for slot in slots:  # each slot is a matching local time, or a fixed line's shifted one
        local = slot.astimezone(tz)
        wall = local.replace(tzinfo=None, fold=0)
        shifted = wall - (slot - MINUTE).astimezone(tz).replace(tzinfo=None) > MINUTE
        assert (line.matches(wall) and local.fold == 0) or (shifted and has_fixed_time(line.text))


@PROPS
@given(data=st.data(), tz_name=st.sampled_from(ZONES), line=cron_lines())
def test_cron_slots_do_not_depend_on_how_the_window_is_cut(
    data: st.DataObject, tz_name: str, line: Line
) -> None:
    """Ticks that cut a window anywhere make the same slots as one tick: the scheduler
    goes on from its last slot, or from now."""
    after, until = data.draw(windows(tz_name, max_hours=30))
    cut = after + (until - after) * data.draw(st.floats(0, 1))
    schedule = cron(line.text, tz_name)

    whole = next_slots(schedule, after, until, 10_000)
    first = next_slots(schedule, after, cut, 10_000)
    assert first + next_slots(schedule, cut, until, 10_000) == whole
    if first:  # going on from the last slot made
        assert next_slots(schedule, first[-1], until, 10_000) == whole[len(first) :]
    assert all(is_slot(schedule, s) for s in whole)
    assert not any(is_slot(schedule, s + timedelta(seconds=1)) for s in whole)


# ------------------------------------------------------------------ interval properties


@PROPS
@given(
    seconds=st.integers(1, 40 * 86400).map(float) | st.floats(0.001, 1e6),
    anchor=st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    after=st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    span=st.timedeltas(timedelta(0), timedelta(days=400)),
    limit=st.integers(1, 500),
)
@example(
    3600.0,
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),
    timedelta(hours=3),
    10,
)
def test_interval_slots_are_anchor_plus_whole_intervals(
    seconds: float, anchor: datetime, after: datetime, span: timedelta, limit: int
) -> None:
    step = timedelta(seconds=seconds)
    assume(step > timedelta(0))
    until = after + span
    schedule = every(seconds, anchor)

    slots = next_slots(schedule, after, until, limit)

    check_window(slots, after, until, limit)
    assert all((s - anchor) % step == timedelta(0) for s in slots)
    assert all(b - a == step for a, b in itertools.pairwise(slots))
    if slots:
        assert slots[0] - step <= after  # no slot skipped at the start
    expected = min(limit, (until - anchor) // step - (after - anchor) // step)
    assert len(slots) == expected


@PROPS
@given(
    seconds=st.integers(1, 7 * 86400),
    anchor=st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
    a=st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
    b=st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
)
def test_interval_slots_are_the_same_whatever_after_is(
    seconds: int, anchor: datetime, a: datetime, b: datetime
) -> None:
    a, b = min(a, b), max(a, b)
    schedule = every(seconds, anchor)
    from_a = next_slots(schedule, a, b + timedelta(days=30), 50)
    from_b = next_slots(schedule, b, b + timedelta(days=30), 50)
    later = [s for s in from_a if s > b]
    assert from_b[: len(later)] == later


def test_interval_anchor_in_another_zone_and_before_the_anchor() -> None:
    anchor = datetime(2026, 3, 8, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    schedule = every(3600, anchor)
    start = datetime(2026, 3, 8, 4, 0, tzinfo=UTC)
    slots = next_slots(schedule, start, start + timedelta(hours=5), 10)
    # Elapsed time, no DST adjustment: every hour on the half hour in UTC, before the anchor too.
    assert [s.strftime("%H:%M") for s in slots] == ["04:30", "05:30", "06:30", "07:30", "08:30"]


# ------------------------------------------------------------------ DST rules by example


def local_times(line: str, tz_name: str, day_from: str, day_to: str) -> list[str]:
    tz = ZoneInfo(tz_name)
    start = datetime.fromisoformat(day_from).replace(tzinfo=tz)
    end = datetime.fromisoformat(day_to).replace(tzinfo=tz)
    slots = next_slots(cron(line, tz_name), start, end, 1000)
    return [s.astimezone(tz).strftime("%m-%d %H:%M%z") for s in slots]


@pytest.mark.parametrize(
    ("line", "tz_name", "window", "expected"),
    [
        # Spring forward, New York, 8 March 2026: 02:00-02:59 does not exist.
        (
            "30 2 * * *",
            "America/New_York",
            ("2026-03-07", "2026-03-10"),
            ["03-07 02:30-0500", "03-08 03:00-0400", "03-09 02:30-0400"],
        ),
        # A wildcard hour skips the missing time instead.
        (
            "30 * * * *",
            "America/New_York",
            ("2026-03-08 00:00", "2026-03-08 04:00"),
            ["03-08 00:30-0500", "03-08 01:30-0500", "03-08 03:30-0400"],
        ),
        # 02:00 moved to 03:00 and 03:00 itself are one run.
        (
            "0 2,3 * * *",
            "America/New_York",
            ("2026-03-08 00:00", "2026-03-08 12:00"),
            ["03-08 03:00-0400"],
        ),
        # Fall back, New York, 1 November 2026: 01:00-01:59 happens twice, runs once.
        (
            "30 1 * * *",
            "America/New_York",
            ("2026-10-31", "2026-11-03"),
            ["10-31 01:30-0400", "11-01 01:30-0400", "11-02 01:30-0500"],
        ),
        # An hourly line pauses two hours (Prefect's documented behaviour).
        (
            "@hourly",
            "America/New_York",
            ("2026-11-01 00:30", "2026-11-01 03:30"),
            ["11-01 01:00-0400", "11-01 02:00-0500", "11-01 03:00-0500"],
        ),
        # Berlin, 29 March 2026: 02:00 -> 03:00.
        (
            "15 2 * * *",
            "Europe/Berlin",
            ("2026-03-28", "2026-03-31"),
            ["03-28 02:15+0100", "03-29 03:00+0200", "03-30 02:15+0200"],
        ),
        # Berlin, 25 October 2026: 02:00-02:59 twice.
        (
            "*/20 2 * * *",
            "Europe/Berlin",
            ("2026-10-25 01:00", "2026-10-25 04:00"),
            ["10-25 02:00+0200", "10-25 02:20+0200", "10-25 02:40+0200"],
        ),
        # Lord Howe moves by 30 minutes: 4 October 2026 02:00 -> 02:30 ...
        (
            "15 2 * * *",
            "Australia/Lord_Howe",
            ("2026-10-03", "2026-10-06"),
            ["10-03 02:15+1030", "10-04 02:30+1100", "10-05 02:15+1100"],
        ),
        # ... and 5 April 2026 02:00 -> 01:30: 01:30-01:59 twice.
        (
            "45 1 * * *",
            "Australia/Lord_Howe",
            ("2026-04-04", "2026-04-07"),
            ["04-04 01:45+1100", "04-05 01:45+1100", "04-06 01:45+1030"],
        ),
        # Kolkata: +05:30 all year, no DST.
        (
            "0 9 * * 1-5",
            "Asia/Kolkata",
            ("2026-03-06", "2026-03-10"),
            ["03-06 09:00+0530", "03-09 09:00+0530"],
        ),
    ],
)
def test_dst_rules(line: str, tz_name: str, window: tuple[str, str], expected: list[str]) -> None:
    assert local_times(line, tz_name, *window) == expected


@pytest.mark.parametrize("tz_name", ZONES)
@pytest.mark.parametrize("line", ["0 2 * * *", "30 2 * * *", "45 1 * * *", "15 3 * * *"])
def test_a_daily_line_runs_once_on_every_local_day_of_the_year(line: str, tz_name: str) -> None:
    tz = ZoneInfo(tz_name)
    start = datetime(2026, 1, 1, tzinfo=tz)
    slots = next_slots(cron(line, tz_name), start, datetime(2027, 1, 1, tzinfo=tz), 1000)
    days = [s.astimezone(tz).date() for s in slots]
    assert days == [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]


def test_slots_are_utc_and_the_window_is_open_then_closed() -> None:
    schedule = cron("0 * * * *")
    t = datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert next_slots(schedule, t, t + timedelta(hours=2), 10) == [
        t + timedelta(hours=1),
        t + timedelta(hours=2),
    ]
    assert next_slots(schedule, t, t, 10) == []
    assert next_slots(schedule, t, t + timedelta(hours=2), 0) == []
    berlin = t.astimezone(ZoneInfo("Europe/Berlin"))
    assert next_slots(schedule, berlin, berlin + timedelta(hours=1), 1)[0].tzinfo is UTC


def test_a_range_with_equal_ends_is_one_value_as_in_vixie_cron() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    slots = next_slots(cron("0 9-9 * * *"), t, t + timedelta(days=2), 10)
    assert [s.hour for s in slots] == [9, 9]


def test_a_line_that_never_matches_ends() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    assert next_slots(cron("0 0 30 2 *"), t, t + timedelta(days=3000), 5) == []


@pytest.mark.parametrize(
    "schedule",
    [
        cron("not a cron line"),
        cron("0 9 * * *", "Mars/Olympus_Mons"),
        Sched("cron"),
        every(0, datetime(2026, 1, 1, tzinfo=UTC)),
        Sched("interval", interval_seconds=60),
        Sched("weekly"),
    ],
)
def test_unreadable_schedules_are_value_errors(schedule: Sched) -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        next_slots(schedule, t, t + timedelta(days=1), 5)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_slots(cron("* * * * *"), datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC), 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        list(iter_slots(every(60, datetime(2026, 1, 1)), datetime(2026, 1, 1, tzinfo=UTC)))


@pytest.mark.parametrize(
    ("line", "fixed"),
    [
        ("30 2 * * *", True),
        ("0 9-17 * * 1-5", True),
        ("0,30 1 * * *", True),
        ("@daily", True),
        ("*/15 * * * *", False),
        ("0 * * * *", False),
        ("@hourly", False),
        ("5 */2 * * *", False),
    ],
)
def test_which_lines_have_a_fixed_time(line: str, fixed: bool) -> None:
    assert has_fixed_time(line) is fixed
