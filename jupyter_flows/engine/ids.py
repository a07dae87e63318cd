"""Ids for runs, task runs, states and log lines: time-ordered UUIDs (version 7, RFC 9562).

A version 7 UUID starts with the Unix time in milliseconds, so ids made one after another
sort one after another. The store keeps them in B-tree indexes (primary keys, the unique
index on a log line's client id): ordered ids land at the right edge of the tree, where
random ones (version 4) land anywhere and make every insert touch a different page once
the index outgrows the cache.

Layout (RFC 9562, section 5.7, with the counter of section 6.2, method 1)::

    unix_ts_ms (48) | ver = 7 (4) | counter, high 12 bits (12)
    var = 0b10 (2)  | counter, low 30 bits (30) | random (32)

The 42-bit counter starts at a random value (its top bit clear, so it has room to count)
each new millisecond and goes up by one for every id made within the same millisecond, so
ids of one process are strictly increasing, even when the clock steps back (the last
millisecond is kept until the clock passes it). The last 32 bits are fresh random bits in
every id. So a short form of an id (in default names: ``run-1a2b3c4d``) is its last eight
characters, never its first: those are the time, the same for every id made within a minute.
"""

from __future__ import annotations

import os
import threading
import time

_COUNTER_MAX = (1 << 42) - 1
_SEED_MASK = (1 << 41) - 1  # a fresh counter leaves at least 2**41 steps before it overflows
_VERSION_VARIANT = (0x7 << 76) | (0b10 << 62)

_lock = threading.Lock()
_last_ms = -1
_counter = 0


def new_id() -> str:
    """A new UUIDv7 as a lowercase string (``xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx``)."""
    global _last_ms, _counter
    rand = int.from_bytes(os.urandom(10), "big")
    ms = time.time_ns() // 1_000_000
    with _lock:
        if ms > _last_ms:
            counter = (rand >> 32) & _SEED_MASK
        else:  # the same millisecond, or the clock stepped back: count on from the last id
            ms = _last_ms
            counter = _counter + 1
            if counter > _COUNTER_MAX:  # 2**41 ids in one millisecond: borrow the next one
                ms += 1
                counter = (rand >> 32) & _SEED_MASK
        _last_ms, _counter = ms, counter
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | (counter >> 30) << 64
        | (counter & 0x3FFF_FFFF) << 32
        | (rand & 0xFFFF_FFFF)
        | _VERSION_VARIANT
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _after_fork_in_child() -> None:
    # A child must not count on from its parent's last id (the two would make the same
    # ids but for their random bits), nor inherit a lock another thread held at the fork.
    global _lock, _last_ms
    _lock = threading.Lock()
    _last_ms = -1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
