"""No API key in a log line: ``jf_…`` tokens and ``token=`` query values are masked.

The server's own request lines, jupyter_server's and tornado's (a refused request's URL
carries ``?token=jf_…`` when a browser's WebSocket sends its key that way) all pass
through :class:`RedactingFilter`, installed on their loggers and handlers when the
extension loads.
"""

from __future__ import annotations

import logging
import re

_KEY = re.compile(r"jf_[A-Za-z0-9_\-]{4,}")
_QUERY_TOKEN = re.compile(r"(?i)((?:[?&]|%3F|%26)token(?:=|%3D))[^&\s'\"]+")
#: What a masked secret looks like in the log.
MASK = "[secret]"


def redact(text: str) -> str:
    """``text`` with API keys and ``token=`` query values masked."""
    if "jf_" not in text and "token" not in text.lower():
        return text
    text = _QUERY_TOKEN.sub(lambda m: m.group(1) + MASK, text)
    return _KEY.sub("jf_" + MASK, text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with its secrets masked (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactingFilter()


def install(*loggers: logging.Logger) -> None:
    """Put the filter on these loggers, on tornado's, and on all their handlers."""
    targets = [*loggers]
    targets += [logging.getLogger(n) for n in ("tornado.access", "tornado.application")]
    targets += [logging.getLogger("tornado.general"), logging.getLogger()]
    for logger in targets:
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
