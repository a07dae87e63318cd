"""What every jupyter-flows handler shares, above all: errors become JSON in one place.

Every error response of the API has the body ``{"error": code, "message": text}``, whether
it comes from a domain refusal (:class:`~jupyter_flows.server.errors.FlowsError`), from
tornado or jupyter_server (``HTTPError``: 403 unauthenticated, 405, ...) or from a bug
(500, with no internals leaked to the client).
"""

from __future__ import annotations

import json
from http.client import responses
from types import TracebackType
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado.web import HTTPError

from jupyter_flows.server.errors import FlowsError, NotFound

#: Every route of the REST API lives below this path (after the server's base_url).
API_PREFIX = "/api/flows"

#: Error codes for HTTP statuses raised by tornado/jupyter_server rather than by us.
HTTP_ERROR_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}

INTERNAL_ERROR_MESSAGE = "Internal server error; the server log has the details."


def _code_for(status: int) -> str:
    return HTTP_ERROR_CODES.get(status, "server_error" if status >= 500 else "http_error")


def error_response(status_code: int, exc: BaseException | None) -> tuple[int, dict[str, str]]:
    """The HTTP status and JSON body that answer ``exc`` (``status_code`` if there is none)."""
    if isinstance(exc, FlowsError):
        return exc.status, {"error": exc.code, "message": exc.message}
    if isinstance(exc, HTTPError):
        status = exc.status_code
        message = exc.log_message % exc.args if exc.log_message and exc.args else exc.log_message
        return status, {
            "error": _code_for(status),
            "message": message or exc.reason or responses.get(status, "Unknown error"),
        }
    if exc is not None:  # a bug: say so, but leak nothing of it
        return 500, {"error": "internal_error", "message": INTERNAL_ERROR_MESSAGE}
    return status_code, {
        "error": _code_for(status_code),
        "message": responses.get(status_code, "Unknown error"),
    }


class FlowsHandler(APIHandler):
    """Base of every jupyter-flows API handler."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else None
        status, body = error_response(status_code, exc)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A refusal is an expected answer, not a server fault: one line, no traceback.
        if isinstance(value, FlowsError):
            self.log.info(
                "%s %s -> %d %s: %s",
                self.request.method,
                self.request.uri,
                value.status,
                value.code,
                value.message,
            )
            return
        super().log_exception(typ, value, tb)


class NotFoundHandler(FlowsHandler):
    """Catch-all for unknown paths below /api/flows/: a JSON 404 rather than an HTML page."""

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if not self.current_user:
            raise HTTPError(403)
        raise NotFound(f"No such API resource: {self.request.path}")


#: Must come after every other route of the API.
fallback_handlers = [(rf"{API_PREFIX}/(.*)", NotFoundHandler)]
