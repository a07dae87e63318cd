"""When a schedule fires: pure slot arithmetic for interval and cron schedules.

No database and no clock here: :func:`next_slots` maps a schedule and a time window to the
UTC instants ("slots") the scheduler creates runs for, so the rules below are tested with
property tests alone.

Interval schedules fire at ``anchor + k * interval`` for every integer ``k``: elapsed time,
the same instants whatever window is asked for, with no daylight-saving adjustment (a
schedule that must fire at a local time of day is a cron line with a timezone).

Cron lines are read in the schedule's IANA timezone, on the local wall clock, and the
slots come back in UTC. Daylight-saving transitions follow what cron users expect:

- **Fall back** (a local time happens twice): each local time fires once, the first time
  it happens (``fold=0``). So ``30 1 * * *`` runs once that night, and an hourly line
  pauses for two hours, as in Prefect (whose cron schedules follow croniter).
- **Spring forward** (a local time never happens): a line with a fixed minute and hour
  (no ``*`` in either field: ``30 2 * * *``, ``0 9-17 * * 1-5``) runs once, at the first
  instant after the jump, as Vixie cron runs jobs of the skipped hour right after it; a
  daily job thus never loses its day. A line with ``*`` in the minute or the hour field
  (``*/15 * * * *``, ``@hourly``) skips the missing times: its next slot is near anyway.
  Slots that land on the same instant (``0 2 * * *`` moved to 03:00 beside ``0 3 * * *``)
  are one slot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

UTC = timezone.utc
_EQUAL_RANGE = re.compile(r"^(\w+)-(?i:\1)(?:/\d+)?$")
#: Cron macros as the five fields they stand for (croniter's meaning).
CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class ScheduleLike(Protocol):
    """What slot arithmetic reads of a schedule (the store's ``Schedule`` row has it)."""

    @property
    def kind(self) -> str: ...  # "interval" or "cron"

    @property
    def interval_seconds(self) -> float | None: ...

    @property
    def anchor_date(self) -> datetime | None: ...

    @property
    def cron(self) -> str | None: ...

    @property
    def timezone(self) -> str: ...


def next_slots(
    schedule: ScheduleLike, after: datetime, until: datetime, limit: int
) -> list[datetime]:
    """The first ``limit`` slots of ``schedule`` in ``(after, until]``, in UTC, ascending.

    ``after`` and ``until`` must be timezone-aware. Raises ValueError for a schedule that
    cannot be read (unknown kind, timezone or cron syntax, a non-positive interval).
    """
    _check_aware(after, "after")
    _check_aware(until, "until")
    if limit <= 0 or until <= after:
        return []
    slots: list[datetime] = []
    for slot in iter_slots(schedule, after):
        if slot > until:
            break
        slots.append(slot)
        if len(slots) >= limit:
            break
    return slots


def iter_slots(schedule: ScheduleLike, after: datetime) -> Iterator[datetime]:
    """Every slot of ``schedule`` after ``after``, in UTC, strictly ascending (endless)."""
    _check_aware(after, "after")
    if schedule.kind == "interval":
        return _interval_slots(schedule, after)
    if schedule.kind == "cron":
        return _cron_slots(schedule, after)
    raise ValueError(f"unknown schedule kind {schedule.kind!r}")


def is_slot(schedule: ScheduleLike, when: datetime) -> bool:
    """True if ``schedule`` has a slot at exactly ``when``."""
    _check_aware(when, "when")
    first = next(iter_slots(schedule, when - timedelta(microseconds=1)), None)
    return first == when


# ------------------------------------------------------------------ interval


def _interval_slots(schedule: ScheduleLike, after: datetime) -> Iterator[datetime]:
    seconds, anchor = schedule.interval_seconds, schedule.anchor_date
    if seconds is None or not seconds > 0:
        raise ValueError("an interval schedule needs a positive interval")
    if anchor is None:
        raise ValueError("an interval schedule needs an anchor date")
    _check_aware(anchor, "anchor_date")
    step = timedelta(seconds=seconds)  # whole microseconds: the arithmetic below is exact
    if step <= timedelta(0):
        raise ValueError("an interval schedule's interval must be at least a microsecond")
    anchor = anchor.astimezone(UTC)
    k = (after - anchor) // step + 1
    while True:
        yield anchor + k * step
        k += 1


# ------------------------------------------------------------------ cron


def cron_fields(line: str) -> list[str]:
    """The fields of a cron line, macros expanded (``@daily`` → ``0 0 * * *``).

    A range whose ends are equal (``9-9``, ``9-9/2``) becomes its one value, as in Vixie
    cron: croniter 7 reads it as the whole field, which would make ``0 9-9 * * *`` hourly.
    """
    line = " ".join(line.split())
    fields = CRON_MACROS.get(line.lower(), line).split(" ")
    return [",".join(_EQUAL_RANGE.sub(r"\1", part) for part in f.split(",")) for f in fields]


def has_fixed_time(line: str) -> bool:
    """True if neither the minute nor the hour field of ``line`` is a ``*`` pattern."""
    fields = cron_fields(line)
    return len(fields) >= 2 and not any(f.startswith(("*", "?")) for f in fields[:2])


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


def _cron_slots(schedule: ScheduleLike, after: datetime) -> Iterator[datetime]:
    if not schedule.cron:
        raise ValueError("a cron schedule needs a cron line")
    tz = zone(schedule.timezone or "UTC")
    line = " ".join(cron_fields(schedule.cron))
    shift_gaps = has_fixed_time(line)
    # Iterate local wall-clock times; labelling them UTC gives croniter a clock without DST.
    wall_after = after.astimezone(tz).replace(tzinfo=UTC, fold=0)
    try:
        walls = croniter(line, wall_after)
    except (ValueError, KeyError, TypeError) as exc:  # croniter's errors are ValueErrors
        raise ValueError(f"not a valid cron line {schedule.cron!r}: {exc}") from None
    last: datetime | None = None
    while True:
        try:
            wall = walls.get_next(datetime).replace(tzinfo=None)
        except CroniterBadDateError:
            return  # the line never matches again (e.g. 30 February)
        slot = wall_to_utc(wall, tz, shift_gaps=shift_gaps)
        # ``after`` may lie in the second pass of a repeated hour: walls of the first pass
        # then map before it. Equal slots come from gap shifts; keep one.
        if slot is None or slot <= after or (last is not None and slot <= last):
            continue
        last = slot
        yield slot


def wall_to_utc(wall: datetime, tz: ZoneInfo, *, shift_gaps: bool) -> datetime | None:
    """The UTC instant of naive local ``wall`` in ``tz`` by the rules in the module doc.

    Its first occurrence if it is repeated; the end of the gap if it does not exist and
    ``shift_gaps``, else None.
    """
    first = wall.replace(tzinfo=tz, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == wall:
        return utc
    return _gap_end(wall, tz) if shift_gaps else None


def _gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant the clock jumps over nonexistent local time ``wall`` (bisection).

    With ``fold=1`` the wall time is read with the offset after the jump, with ``fold=0``
    with the one before, so the jump lies between those two instants.
    """
    a = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    b = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    lo, hi = min(a, b), max(a, b)
    after_offset = hi.astimezone(tz).utcoffset()
    # Invariant: lo is before the jump, hi is at or after it. Offsets change on whole seconds.
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            mid = lo + timedelta(seconds=1)
        if mid.astimezone(tz).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid
    return hi


def _check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
