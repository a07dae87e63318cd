"""``POST ingest``: a reporter's batch of runs, states and log lines, in one transaction."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server import access
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import ingest


class IngestHandler(FlowsHandler):
    auth_resource = "flows.ingest"
    agent_access = {"POST": "body"}

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import Ingest

        batch = self.body(Ingest)
        if self.agent_key_id is not None:  # one held run and its subflows; creates no run
            await self.run(access.check_ingest, self.agent_key_id, batch, readonly=True)
        self.reply(await self.run(ingest.ingest, batch, self.context.keyring))


default_handlers = [(rf"{API_PREFIX}/ingest", IngestHandler)]
