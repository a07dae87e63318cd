"""Notifications (user keys only): destinations (and "send a test"), policies, the log of
delivery attempts; automations and their firings."""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import automations, notifications


class DestinationsHandler(FlowsHandler):
    auth_resource = "flows.notifications"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        self.reply(
            await self.run(
                notifications.list_destinations, limit=limit, offset=offset, readonly=True
            )
        )

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import CreateDestination

        body = self.body(CreateDestination)
        made = await self.run(notifications.create_destination, self.context.keyring, body)
        created = made.pop("created_now")
        location = f"notifications/destinations/{made['name']}"
        self.reply(made, 201 if created else 200, location=location)


class DestinationHandler(FlowsHandler):
    auth_resource = "flows.notifications"

    @authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.run(notifications.delete_destination, name)
        self.no_content()


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


class PoliciesHandler(FlowsHandler):
    auth_resource = "flows.notifications"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        self.reply(
            await self.run(notifications.list_policies, limit=limit, offset=offset, readonly=True)
        )

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import CreatePolicy

        body = self.body(CreatePolicy)
        made = await self.run(notifications.create_policy, body)
        created = made.pop("created_now")
        self.reply(made, 201 if created else 200)


class PolicyHandler(FlowsHandler):
    auth_resource = "flows.notifications"

    @authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.run(notifications.delete_policy, name)
        self.no_content()


class AttemptsHandler(FlowsHandler):
    """``GET notifications/attempts?destination=&flow_run_id=&deployment_id=``: the delivery
    log."""

    auth_resource = "flows.notifications"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        self.reply(
            await self.run(
                notifications.list_attempts,
                destination=self.str_arg("destination"),
                flow_run_id=self.str_arg("flow_run_id"),
                deployment_id=self.str_arg("deployment_id"),
                limit=limit,
                offset=offset,
                readonly=True,
            )
        )


class AutomationsHandler(FlowsHandler):
    auth_resource = "flows.notifications"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        self.reply(
            await self.run(automations.list_automations, limit=limit, offset=offset, readonly=True)
        )

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import CreateAutomation

        body = self.body(CreateAutomation)
        made = await self.run(automations.create_automation, body)
        created = made.pop("created_now")
        self.reply(made, 201 if created else 200)


class AutomationHandler(FlowsHandler):
    auth_resource = "flows.notifications"

    @authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.run(automations.delete_automation, name)
        self.no_content()


class FiringsHandler(FlowsHandler):
    """``GET automation-firings?automation=``: each time a rule fired, and what it did."""

    auth_resource = "flows.notifications"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        self.reply(
            await self.run(
                automations.list_firings,
                automation=self.str_arg("automation"),
                limit=limit,
                offset=offset,
                readonly=True,
            )
        )


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
