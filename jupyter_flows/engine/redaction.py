"""Redaction by value: what a run says never carries the value of a credential it received.

A run's process gets its credentials as environment variables, and the names of those
variables in ``JUPYTER_FLOWS_REDACT_ENV`` (names only: a value is never written anywhere
else). :func:`environment_redactor` reads the values back and every record that leaves the
process (log lines, state messages, task results shown, artifacts, the executed notebook)
goes through :meth:`Redactor.scrub` first, with ``***`` in place of each value.

A value is also found in the forms it is most often leaked in: base64 (alone, or inside a
longer encoded text such as ``user:value`` in an ``Authorization: Basic`` header: the
three alignments of a value in a base64 stream each have a stable middle), URL-encoded
(``quote``, ``quote_plus``) and JSON-escaped. Values shorter than :data:`MIN_LENGTH` are
not redacted (they would mask ordinary text); the server refuses to store them.

A value split across two log writes (``print(v[:5], end="")`` then the rest) is caught by
:class:`LogBoundary`: a log line that ends with the start of a value is held until the next
line of the same run arrives (at most about a second), and the two are redacted together.

The server redacts what arrives with the same class, for the run's known values: a run
process that is not ours (an old version, a changed environment) is covered too.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from jupyter_flows.engine.run_env import RunEnv

MASK = "***"
#: Shorter values are not redacted: masking every "ab" would hide ordinary text.
MIN_LENGTH = 4
#: A base64 fragment shorter than this is not searched for (too many false positives).
_MIN_FRAGMENT = 8


def encoded_forms(value: str) -> set[str]:
    """``value`` and the forms it is leaked in: base64, URL-encoded, JSON-escaped."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    raw = value.encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(raw).decode().rstrip("="))
        # The value after 1 or 2 other bytes: drop the characters that mix in the prefix
        # and the last, partial group; what is left is in any encoding of such a text.
        for shift in (1, 2):
            encoded = encode(b"\0" * shift + raw).decode().rstrip("=")
            start = (shift * 8 + 5) // 6
            end = ((shift + len(raw)) * 8) // 6
            fragment = encoded[start:end]
            if len(fragment) >= _MIN_FRAGMENT:
                forms.add(fragment)
        for tail in (1, 2):  # the value before other bytes: its whole groups
            whole = encode(raw + b"\0" * tail).decode()[: (len(raw) * 8) // 6]
            if len(whole) >= _MIN_FRAGMENT:
                forms.add(whole)
    return {form for form in forms if len(form) >= MIN_LENGTH}


class Redactor:
    """Replaces every known value (in every form of :func:`encoded_forms`) with ``***``."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = sorted({v for v in values if isinstance(v, str) and len(v) >= MIN_LENGTH})
        forms: set[str] = set()
        for value in self.values:
            forms |= encoded_forms(value)
        #: Longest first, so a form inside a longer one never leaves a piece of it behind.
        self.forms = sorted(forms, key=lambda f: (-len(f), f))
        self._pattern = re.compile("|".join(map(re.escape, self.forms))) if self.forms else None
        #: Every proper start of every form, for open_prefix.
        self._prefixes = {form[:size] for form in self.forms for size in range(1, len(form))}
        self._longest = max((len(form) for form in self.forms), default=0)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where known forms are in ``text``."""
        if self._pattern is None:
            return []
        return [match.span() for match in self._pattern.finditer(text)]

    def redact_bytes(self, data: bytes) -> bytes:
        """``data`` as UTF-8 text, redacted (bytes that are not UTF-8 stay as they are)."""
        if self._pattern is None:
            return data
        text = data.decode("utf-8", "surrogateescape")
        redacted = self.redact(text)
        return data if redacted == text else redacted.encode("utf-8", "surrogateescape")

    def scrub(self, value: Any) -> Any:
        """``value`` with every string in it (dict keys included) redacted, at any depth."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub(v) for v in value]
        return value

    def open_prefix(self, text: str) -> int:
        """The length of the longest end of ``text`` that starts a known form (0: none):
        the next write may complete it. A few set lookups: it runs on every log line."""
        for size in range(min(self._longest - 1, len(text)), 0, -1):
            if text[-size:] in self._prefixes:
                return size
        return 0


class LogBoundary:
    """Log lines of each stream (a run or task run), redacted with their neighbours.

    ``feed`` returns the lines that may leave now. A line that ends with the start of a
    value is held until the next line of its stream, and the two are redacted as one. A
    held line that waited too long (:meth:`release`) leaves with that start masked (when
    it is 3 characters or more), and the rest of the value is masked if the next line
    begins with it.
    """

    #: A held line's open start shorter than this leaves as it is (it tells nothing).
    MASK_TAIL = 3

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._held: dict[Any, tuple[str, Any, float]] = {}
        #: What the next line of a stream may begin with: the rest of a released start.
        self._rests: dict[Any, list[str]] = {}

    def feed(self, key: Any, text: str, item: Any) -> list[tuple[str, Any]]:
        """Lines ``(redacted text, item)`` ready to send, in order."""
        out: list[tuple[str, Any]] = []
        held = self._held.pop(key, None)
        rests = self._rests.pop(key, [])
        if held is not None:
            before, text = self._join(held[0], text)
            out.append((before, held[1]))
        else:
            for rest in sorted(rests, key=len, reverse=True):
                if text.startswith(rest):
                    text = MASK + text[len(rest) :]
                    break
            text = self.redactor.redact(text)
        if self.redactor.open_prefix(text):
            self._held[key] = (text, item, time.monotonic())
        else:
            out.append((text, item))
        return out

    def _join(self, first: str, second: str) -> tuple[str, str]:
        """Both lines redacted as one text, then split where they met: a value across the
        boundary leaves ``***`` in the first line and nothing of it in the second."""
        cut = len(first)
        for start, end in self.redactor.spans(first + second):
            if start < cut < end:
                return first[:start] + MASK, self.redactor.redact(second[end - cut :])
        return first, self.redactor.redact(second)

    def release(self, older_than: float | None = None) -> list[tuple[str, Any]]:
        """Held lines (all, or those held longer than ``older_than`` seconds): nothing came
        to complete them, so what may start a value is masked and its rest remembered."""
        now = time.monotonic()
        out: list[tuple[str, Any]] = []
        for key, (text, item, since) in list(self._held.items()):
            if older_than is not None and now - since < older_than:
                continue
            del self._held[key]
            longest, rests = 0, []
            for form in self.redactor.forms:
                for size in range(min(len(form) - 1, len(text)), 0, -1):
                    if text.endswith(form[:size]):
                        longest = max(longest, size)
                        rests.append(form[size:])
                        break
            if longest >= self.MASK_TAIL:
                text = text[:-longest] + MASK
            self._rests[key] = rests
            out.append((text, item))
        return out


def environment_redactor(environ: Any = None) -> Redactor:
    """The redactor of this run's process: the values of the variables ``REDACT_ENV`` names."""
    env = os.environ if environ is None else environ
    return Redactor(env[n] for n in RunEnv.from_environ(env).redact_env if env.get(n))


#: What the notebook front ends use to redact what they write themselves (the output
#: notebook): the process's redactor, read once.
_process_redactor: Redactor | None = None


def process_redactor() -> Redactor:
    global _process_redactor
    if _process_redactor is None:
        _process_redactor = environment_redactor()
    return _process_redactor
