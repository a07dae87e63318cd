"""``POST ingest``: a reporter's batch of runs, states and log lines, in one transaction."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import ingest


class IngestHandler(FlowsHandler):
    auth_resource = "flows.ingest"

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import Ingest

        self.reply(await self.run(ingest.ingest, self.body(Ingest)))


default_handlers = [(rf"{API_PREFIX}/ingest", IngestHandler)]
