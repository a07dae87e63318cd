"""Notifications (user keys only): destinations (and "send a test"), policies, the log of
delivery attempts; automations and their firings.

Each is a named collection: a paged list (filtered by the query arguments it names), a
create that answers 201 the first time and 200 when the same name is asked again, and a
delete by name. Three small handler classes serve them all; only "send a test" is its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import automations, notifications


class _Listing(FlowsHandler):
    """``GET``: a page of what ``list_items`` answers, filtered by the query arguments
    ``filters`` names (each passed on by its name)."""

    auth_resource = "flows.notifications"
    list_items: ClassVar[Callable[..., Any]]
    filters: ClassVar[tuple[str, ...]] = ()

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        wanted = {name: self.str_arg(name) for name in self.filters}
        self.reply(
            await self.run(
                type(self).list_items, **wanted, limit=limit, offset=offset, readonly=True
            )
        )


class _Collection(_Listing):
    """``GET`` as above, and ``POST`` a ``body_model`` to ``create_item``."""

    #: The request body's model in ``server.wire`` (imported on first use, as pydantic is).
    body_model: ClassVar[str]
    create_item: ClassVar[Callable[..., dict[str, Any]]]

    def create_args(self) -> tuple[Any, ...]:
        """What ``create_item`` takes before the body."""
        return ()

    def location_of(self, made: dict[str, Any]) -> str | None:
        return None

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server import wire

        body = self.body(getattr(wire, self.body_model))
        made = await self.run(type(self).create_item, *self.create_args(), body)
        created = made.pop("created_now")
        self.reply(made, 201 if created else 200, location=self.location_of(made))


class _Named(FlowsHandler):
    """``DELETE`` one by name."""

    auth_resource = "flows.notifications"
    delete_item: ClassVar[Callable[..., None]]

    @authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.run(type(self).delete_item, name)
        self.no_content()


class DestinationsHandler(_Collection):
    list_items = staticmethod(notifications.list_destinations)
    create_item = staticmethod(notifications.create_destination)
    body_model = "CreateDestination"

    def create_args(self) -> tuple[Any, ...]:
        return (self.context.keyring,)  # the URL is stored encrypted, as a credential

    def location_of(self, made: dict[str, Any]) -> str | None:
        return f"notifications/destinations/{made['name']}"


class DestinationHandler(_Named):
    delete_item = staticmethod(notifications.delete_destination)


class DestinationTestHandler(FlowsHandler):
    """``POST notifications/destinations/{name}/test``: send a test message now."""

    auth_resource = "flows.notifications"

    @authenticated
    @authorized
    async def post(self, name: str) -> None:
        from jupyter_flows.server.background.notifier import send_test

        context = self.context
        loop = asyncio.get_running_loop()
        # The send blocks (SMTP, HTTP): on the store's executor, never on the IOLoop.
        result = await loop.run_in_executor(
            context.runner.executor, send_test, context.db, context.keyring, name
        )
        self.reply(result)


class PoliciesHandler(_Collection):
    list_items = staticmethod(notifications.list_policies)
    create_item = staticmethod(notifications.create_policy)
    body_model = "CreatePolicy"


class PolicyHandler(_Named):
    delete_item = staticmethod(notifications.delete_policy)


class AttemptsHandler(_Listing):
    """``GET notifications/attempts?destination=&flow_run_id=&deployment_id=``: the delivery
    log."""

    list_items = staticmethod(notifications.list_attempts)
    filters = ("destination", "flow_run_id", "deployment_id")


class AutomationsHandler(_Collection):
    list_items = staticmethod(automations.list_automations)
    create_item = staticmethod(automations.create_automation)
    body_model = "CreateAutomation"


class AutomationHandler(_Named):
    delete_item = staticmethod(automations.delete_automation)


class FiringsHandler(_Listing):
    """``GET automation-firings?automation=``: each time a rule fired, and what it did."""

    list_items = staticmethod(automations.list_firings)
    filters = ("automation",)


_NAME = r"(?P<name>[A-Za-z0-9._-]+)"

default_handlers = [
    (rf"{API_PREFIX}/notifications/destinations", DestinationsHandler),
    (rf"{API_PREFIX}/notifications/destinations/{_NAME}", DestinationHandler),
    (rf"{API_PREFIX}/notifications/destinations/{_NAME}/test", DestinationTestHandler),
    (rf"{API_PREFIX}/notifications/policies", PoliciesHandler),
    (rf"{API_PREFIX}/notifications/policies/{_NAME}", PolicyHandler),
    (rf"{API_PREFIX}/notifications/attempts", AttemptsHandler),
    (rf"{API_PREFIX}/automations", AutomationsHandler),
    (rf"{API_PREFIX}/automations/{_NAME}", AutomationHandler),
    (rf"{API_PREFIX}/automation-firings", FiringsHandler),
]
