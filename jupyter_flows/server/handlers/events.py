"""``GET events``: the live event stream, a WebSocket fed by the in-process event bus.

Authenticated like every jupyter-server WebSocket (the kernels' one is the model): the
identity provider runs in ``prepare`` (a browser passes its token as ``?token=``, a script
an ``Authorization`` header), then the authorizer decides on ``flows.events``. The first
message is ``{"type": "subscribed", …}``: from then on nothing is missed, except that a
client too slow to keep up gets ``{"type": "lagged", "dropped": n}`` in place of the oldest
messages it could not take.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado.web import HTTPError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from jupyter_flows.server.context import SETTINGS_KEY
from jupyter_flows.server.errors import FlowsError, Forbidden
from jupyter_flows.server.event_bus import Subscription
from jupyter_flows.server.handlers.base import (
    API_PREFIX,
    domain_error,
    error_response,
    unauthorized,
)
from jupyter_flows.server.redact import redact

AUTH_RESOURCE = "flows.events"


class EventsHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):  # type: ignore[misc]
    auth_resource = AUTH_RESOURCE
    subscription: Subscription | None = None
    _writer: asyncio.Task[None] | None = None

    def set_default_headers(self) -> None:
        """Undo JupyterHandler's headers, which make no sense for a WebSocket."""

    async def prepare(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        try:
            await super().prepare(*args, **kwargs)
        except HTTPError as exc:
            if exc.status_code == 403 and self._jupyter_current_user is None and self.check_host():
                raise unauthorized(self, "to listen to events") from None
            raise

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        status, body = error_response(status_code, exc_info[1] if exc_info else None)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A refused connection is an answer, not a fault: one line, its URL's key masked.
        known = domain_error(value) if value is not None else None
        if known is not None:
            status = known.status if isinstance(known, FlowsError) else known[0]
            self.log.info("GET %s -> %d: %s", redact(self.request.uri or ""), status, value)
            return
        super().log_exception(typ, value, tb)

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.current_user is None:
            raise unauthorized(self, "to listen to events")
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)
        )
        if not allowed:
            raise Forbidden("these credentials may not listen to events")
        if self.settings.get(SETTINGS_KEY) is None:
            raise HTTPError(503, "the jupyter-flows store is not open")
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().open(*args, **kwargs)
        flow_id = self.get_query_argument("flow_id", None) or None
        flow_run_id = self.get_query_argument("flow_run_id", None) or None
        bus = self.settings[SETTINGS_KEY].bus
        self.subscription = bus.subscribe(flow_id=flow_id, flow_run_id=flow_run_id)
        hello = {"type": "subscribed", "flow_id": flow_id, "flow_run_id": flow_run_id}
        self._writer = asyncio.ensure_future(self._pump(json.dumps(hello)))

    async def _pump(self, first: str) -> None:
        sub = self.subscription
        assert sub is not None
        try:
            await self.write_message(first)
            while True:
                text = await sub.get()
                if text is None:
                    break
                # Awaiting the write is the back-pressure: while a slow client drains, the
                # bus keeps at most the subscription's bound for it.
                await self.write_message(text)
        except WebSocketClosedError:
            pass
        finally:
            sub.close()
        if self.ws_connection is not None and not self.ws_connection.is_closing():
            self.close()

    def on_message(self, message: str | bytes) -> None:
        """Clients have nothing to say; the filter is set by the URL."""

    def on_close(self) -> None:
        if self.subscription is not None:
            self.subscription.close()


default_handlers = [(rf"{API_PREFIX}/events", EventsHandler)]
