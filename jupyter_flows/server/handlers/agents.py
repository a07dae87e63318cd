"""Agents: register, heartbeat, their own logs, and the long-polled claim of a queue's run.

Every route here is the ``flows.agents`` resource, the one an agent API key may use
(besides reporting runs): an agent key claims from a queue without any right to manage it.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server import access
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import agents

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from jupyter_flows.server.wire import CreateAgentLog

ID = r"(?P<agent_id>[^/]+)"


@functools.cache
def lines_body() -> TypeAdapter[list[CreateAgentLog]]:
    """The body of ``POST agents/{id}/logs``: a list of lines (built on first use)."""
    from pydantic import TypeAdapter

    from jupyter_flows.server.wire import CreateAgentLog

    return TypeAdapter(list[CreateAgentLog])


class AgentsHandler(FlowsHandler):
    auth_resource = "flows.agents"
    agent_access = {"POST": "any"}

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        self.reply(await self.run(agents.list_agents, limit=limit, offset=offset, readonly=True))

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import RegisterAgent

        body = self.body(RegisterAgent)
        agent, created = await self.run(agents.register_agent, body, api_key_id=self.agent_key_id)
        self.reply(agent, 201 if created else 200, location=f"agents/{agent['id']}")


class AgentHandler(FlowsHandler):
    auth_resource = "flows.agents"
    agent_access = {"GET": "agent"}

    @authenticated
    @authorized
    async def get(self, agent_id: str) -> None:
        self.reply(await self.run(agents.read_agent, agent_id, readonly=True))


class HeartbeatHandler(FlowsHandler):
    auth_resource = "flows.agents"
    agent_access = {"POST": "agent"}

    @authenticated
    @authorized
    async def post(self, agent_id: str) -> None:
        from jupyter_flows.server.wire import Heartbeat

        body = self.body(Heartbeat, optional=True)
        lease_seconds = self.context.lease_seconds
        self.reply(await self.run(agents.heartbeat, agent_id, body, lease_seconds=lease_seconds))


class AgentLogsHandler(FlowsHandler):
    auth_resource = "flows.agents"
    agent_access = {"GET": "agent", "POST": "agent"}

    @authenticated
    @authorized
    async def get(self, agent_id: str) -> None:
        limit, offset = self.page_args()
        result = await self.run(
            agents.read_logs,
            agent_id,
            level=self.str_arg("level"),
            limit=limit,
            offset=offset,
            readonly=True,
        )
        self.reply(result)

    @authenticated
    @authorized
    async def post(self, agent_id: str) -> None:
        count = await self.run(agents.add_logs, agent_id, self.body(lines_body()))
        self.reply({"count": count}, 201)


class ClaimHandler(FlowsHandler):
    """``POST work-queues/{name}/claim``: 200 and the claimed run, or 204 after ``wait``."""

    auth_resource = "flows.agents"
    agent_access = {"POST": "body"}
    _gone: asyncio.Future[None] | None = None

    @authenticated
    @authorized
    async def post(self, name: str) -> None:
        from jupyter_flows.server.wire import ClaimRun

        body = self.body(ClaimRun)
        if self.agent_key_id is not None:
            await self.run(access.check_agent, self.agent_key_id, body.agent_id, readonly=True)
        self._gone = asyncio.get_running_loop().create_future()
        run = await self.context.dispatcher.claim(name, body.agent_id, body.wait, gone=self._gone)
        if self._gone.done():
            return  # nobody to answer (a run claimed meanwhile was handed back)
        if run is None:
            self.no_content()
        else:
            self.reply(run)

    def on_connection_close(self) -> None:
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        super().on_connection_close()


default_handlers = [
    (rf"{API_PREFIX}/agents", AgentsHandler),
    (rf"{API_PREFIX}/agents/{ID}", AgentHandler),
    (rf"{API_PREFIX}/agents/{ID}/heartbeat", HeartbeatHandler),
    (rf"{API_PREFIX}/agents/{ID}/logs", AgentLogsHandler),
    (rf"{API_PREFIX}/work-queues/(?P<name>[^/]+)/claim", ClaimHandler),
]
