"""What every jupyter-flows handler shares, above all: errors become JSON in one place.

Every error response of the API has the body ``{"error": code, "message": text}``, whether
it comes from a domain refusal (:class:`~jupyter_flows.server.errors.FlowsError`), the
store (not found, conflict, an illegal state transition), a request body that does not fit
its wire model (pydantic), tornado or jupyter_server (``HTTPError``: 405, …) or a bug (500,
with no internals leaked to the client).

Handlers stay thin: parse the body into its wire model (:meth:`FlowsHandler.body`), call
the service through :attr:`FlowsHandler.run` and write the answer.
"""

from __future__ import annotations

import json
import re
import sys
from http.client import responses
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import quote

from jupyter_server.base.handlers import APIHandler
from sqlalchemy.exc import IntegrityError
from tornado.web import HTTPError, stream_request_body

from jupyter_flows.engine.states import IllegalTransition
from jupyter_flows.server import access
from jupyter_flows.server.auth import KeyUser
from jupyter_flows.server.context import SETTINGS_KEY, FlowsContext
from jupyter_flows.server.errors import (
    FlowsError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthorized,
)
from jupyter_flows.server.redact import redact
from jupyter_flows.store import errors as store_errors
from jupyter_flows.store.hashing import InvalidContent
from jupyter_flows.store.leases import StaleAttempt

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter, ValidationError
    from tornado.web import RequestHandler

    from jupyter_flows.server.transactions import TransactionRunner

M = TypeVar("M", bound="BaseModel")

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
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}

#: Largest ``offset`` a list accepts (beyond it, use the filters).
MAX_OFFSET = 10_000_000

INTERNAL_ERROR_MESSAGE = "Internal server error; the server log has the details."
#: What the store calls a thing, in the API's words.
_KINDS = {"flow group": "flow"}


def validation_message(exc: ValidationError) -> str:
    """One line naming each field that is wrong (at most five)."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        if error["type"] == "extra_forbidden":
            parts.append(f"{where}: unknown field")
        elif error["type"] == "json_invalid":
            parts.append(f"the body is not valid JSON ({error.get('ctx', {}).get('error', '')})")
        else:
            parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def domain_error(exc: BaseException) -> FlowsError | tuple[int, str, str] | None:
    """The API's answer to an exception of the store, the engine or pydantic, if it has one."""
    if isinstance(exc, FlowsError):
        return exc
    if isinstance(exc, IllegalTransition):
        return 409, "illegal_transition", str(exc)
    if isinstance(exc, store_errors.NotFound):
        kind = _KINDS.get(exc.kind, exc.kind)
        return 404, "not_found", f"No {kind} {exc.key!r}"
    if isinstance(exc, StaleAttempt):
        return 409, "stale_attempt", str(exc)
    if isinstance(exc, store_errors.Conflict):
        return 409, "conflict", str(exc)
    if isinstance(exc, (store_errors.InvalidInput, InvalidContent)):
        return 400, "invalid_input", str(exc)
    # pydantic is imported by the first request with a body, not to answer a 404.
    pydantic_core = sys.modules.get("pydantic_core")
    if pydantic_core is not None and isinstance(exc, pydantic_core.ValidationError):
        return 400, "invalid_input", validation_message(exc)
    if isinstance(exc, IntegrityError):
        return 409, "conflict", "the change clashes with data already stored"
    return None


def _code_for(status: int) -> str:
    return HTTP_ERROR_CODES.get(status, "server_error" if status >= 500 else "http_error")


def error_response(status_code: int, exc: BaseException | None) -> tuple[int, dict[str, str]]:
    """The HTTP status and JSON body that answer ``exc`` (``status_code`` if there is none)."""
    known = domain_error(exc) if exc is not None else None
    if isinstance(known, FlowsError):
        return known.status, {"error": known.code, "message": known.message}
    if known is not None:
        status, code, message = known
        return status, {"error": code, "message": message}
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


def unauthorized(handler: RequestHandler, doing: str = "") -> Unauthorized:
    """401: a credential was sent and refused, or none was sent (``doing``: e.g. "to listen
    to events")."""
    from jupyter_flows.store.keys import TOKEN_PREFIX

    header = handler.request.headers.get("Authorization", "")
    sent = header.partition(" ")[2].strip() or handler.get_query_argument("token", "")
    if sent:
        what = "API key" if sent.startswith(TOKEN_PREFIX) else "token"
        return Unauthorized(
            f"the {what} sent was refused: it is wrong, revoked, or another server's"
        )
    return Unauthorized(
        f"authentication required{' ' + doing if doing else ''}: a Jupyter token, or an API "
        "key sent as 'Authorization: Bearer jf_…'"
    )


_INTEGER = re.compile(r"^-?[0-9]{1,18}$")


@stream_request_body
class FlowsHandler(APIHandler):
    """Base of every jupyter-flows API handler.

    The body is streamed (``stream_request_body``): ``prepare`` runs on the headers alone,
    so a request without credentials, or one whose Content-Length is over the limit, is
    answered before a byte of its body is read; the body is then kept only up to the limit.
    """

    _received: bytearray | None = None
    _over_limit = False

    #: What an agent API key may do here, per HTTP method (``server/access.py``); a method
    #: not listed is refused to agent keys.
    agent_access: ClassVar[dict[str, str]] = {}

    async def prepare(self) -> None:  # type: ignore[override]
        try:
            await super().prepare()
        except HTTPError as exc:
            if exc.status_code == 403 and self._unauthenticated():
                raise self._unauthorized() from None
            raise
        if self.request.method != "OPTIONS" and self._unauthenticated():
            raise self._unauthorized()
        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._body_limit():
            raise self._too_large()
        self._received = bytearray()
        key_id = self.agent_key_id
        if key_id is not None and self.request.method != "OPTIONS":
            scope = access.scope_of(self, self.request.method or "")
            if scope is None:
                raise Forbidden("an agent API key may not do this (only a user key may)")
            if scope not in ("any", "body"):
                path = dict(self.path_kwargs)
                await self.run(access.check, scope, key_id, path, readonly=True)

    def data_received(self, chunk: bytes) -> None:
        received = self._received
        if received is None or self._over_limit:
            return
        if len(received) + len(chunk) > self._body_limit():  # a chunked body: drop it all
            self._over_limit = True
            self._received = bytearray()
            return
        received.extend(chunk)

    def _body_limit(self) -> int:
        context = self.settings.get(SETTINGS_KEY)
        limit = context.max_body_bytes if context is not None else None
        return sys.maxsize if limit is None else int(limit)

    def _too_large(self) -> TooLarge:
        return TooLarge(
            f"the request body is over the server's limit of {self._body_limit()} bytes"
        )

    def request_body(self) -> bytes:
        """The request's body as it was streamed in (413 ``too_large`` past the limit)."""
        if self._over_limit:
            raise self._too_large()
        return bytes(self._received or b"")

    @property
    def agent_key_id(self) -> str | None:
        """The key's id when the request comes with an *agent* API key, else None."""
        user = getattr(self, "_jupyter_current_user", None)
        if isinstance(user, KeyUser) and user.role == "agent":
            return user.key_id
        return None

    def _unauthenticated(self) -> bool:
        # jupyter_server answers "not logged in" with 403; the contract says 401.
        return getattr(self, "_jupyter_current_user", None) is None and self.check_host()

    def _unauthorized(self) -> Unauthorized:
        return unauthorized(self)

    # ---------------------------------------------------------------- helpers for verbs

    @property
    def context(self) -> FlowsContext:
        context = self.settings.get(SETTINGS_KEY)
        if context is None:
            raise HTTPError(503, "the jupyter-flows store is not open")
        return context  # type: ignore[no-any-return]

    @property
    def run(self) -> TransactionRunner:
        """Call a service function in a transaction: ``await self.run(fn, *args)``."""
        return self.context.runner

    def body(self, model: type[M] | TypeAdapter[Any], *, optional: bool = False) -> Any:
        """The request body parsed into ``model`` (400 invalid_input if it does not fit).

        ``optional``: no body at all means ``{}`` (every field at its default); a body of
        only whitespace is not JSON, and is refused like any other.
        """
        raw = self.request_body()
        if optional and not raw:
            raw = b"{}"
        elif not raw.strip():
            raise InvalidInput("the request needs a JSON body")
        from pydantic import TypeAdapter

        if isinstance(model, TypeAdapter):
            return model.validate_json(raw)
        return model.model_validate_json(raw)

    def page_args(self) -> tuple[int, int]:
        from jupyter_flows.server.service import DEFAULT_LIMIT, MAX_LIMIT

        limit = self.int_arg("limit", DEFAULT_LIMIT)
        offset = self.int_arg("offset", 0)
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidInput(f"offset must be between 0 and {MAX_OFFSET}")
        return limit, offset

    def int_arg(self, name: str, default: int) -> int:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        # ASCII digits only: int() also takes " 5", "5_0" and other scripts' digits.
        if not _INTEGER.match(value):
            raise InvalidInput(f"{name} must be an integer, not {value!r}")
        return int(value)

    def str_arg(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return value if value not in (None, "") else None

    def flag_arg(self, name: str) -> bool:
        """A boolean query argument: ``true``/``1`` or ``false``/``0`` (absent: false)."""
        value = (self.str_arg(name) or "false").lower()
        if value not in ("true", "1", "false", "0"):
            raise InvalidInput(f"{name} must be true or false; got {value!r}")
        return value in ("true", "1")

    def reply(self, data: Any, status: int = 200, *, location: str | None = None) -> None:
        self.set_status(status)
        if location is not None:
            path = f"{API_PREFIX}/{quote(location, safe='/')}"
            self.set_header("Location", self.base_url.rstrip("/") + path)
        self.finish(json.dumps(data))

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()

    # ---------------------------------------------------------------- errors

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP methods this handler answers (what a 405's ``Allow`` header lists)."""
        from tornado.web import RequestHandler

        verbs = ("GET", "POST", "PUT", "PATCH", "DELETE")
        own = [
            v for v in verbs if getattr(cls, v.lower()) is not getattr(RequestHandler, v.lower())
        ]
        return [*own, "OPTIONS"] if own else ["OPTIONS"]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else None
        status, body = error_response(status_code, exc)
        self.clear_header("Location")
        if status == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
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
        known = domain_error(value) if value is not None else None
        if known is not None:
            status, code, message = (
                (known.status, known.code, known.message)
                if isinstance(known, FlowsError)
                else known
            )
            self.log.info(
                "%s %s -> %d %s: %s",
                self.request.method,
                redact(self.request.uri or ""),
                status,
                code,
                message,
            )
            return
        super().log_exception(typ, value, tb)


class NotFoundHandler(FlowsHandler):
    """Catch-all for unknown paths below /api/flows/: a JSON 404 rather than an HTML page."""

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        raise NotFound(f"No such API resource: {self.request.path}")


#: Must come after every other route of the API.
fallback_handlers = [(rf"{API_PREFIX}/(.*)", NotFoundHandler)]
