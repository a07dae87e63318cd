"""Backfills: ``POST deployments/{id}/backfills`` (preview or make), ``GET
deployments/{id}/backfills`` (its backfills, newest first), ``GET backfills/{id}``,
``POST backfills/{id}/cancel``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import backfills

ID = r"(?P<backfill_id>[^/]+)"


class DeploymentBackfillsHandler(FlowsHandler):
    """A dry run answers 200 with the preview; a new backfill 201, the same one asked
    again 200 (it makes nothing new)."""

    auth_resource = "flows.backfills"

    @authenticated
    @authorized
    async def get(self, deployment_id: str) -> None:
        limit, offset = self.page_args()
        self.reply(
            await self.run(
                backfills.list_backfills,
                deployment_id,
                limit=limit,
                offset=offset,
                readonly=True,
            )
        )

    @authenticated
    @authorized
    async def post(self, deployment_id: str) -> None:
        from jupyter_flows.server.wire import CreateBackfill

        body = self.body(CreateBackfill)
        result, created = await self.run(backfills.create_backfill, deployment_id, body)
        location = f"backfills/{result['id']}" if created else None
        self.reply(result, 201 if created else 200, location=location)


class BackfillHandler(FlowsHandler):
    auth_resource = "flows.backfills"

    @authenticated
    @authorized
    async def get(self, backfill_id: str) -> None:
        self.reply(await self.run(backfills.read_backfill, backfill_id, readonly=True))


class CancelBackfillHandler(FlowsHandler):
    auth_resource = "flows.backfills"

    @authenticated
    @authorized
    async def post(self, backfill_id: str) -> None:
        self.reply(await self.run(backfills.cancel_backfill, backfill_id))


default_handlers = [
    (rf"{API_PREFIX}/deployments/(?P<deployment_id>[^/]+)/backfills", DeploymentBackfillsHandler),
    (rf"{API_PREFIX}/backfills/{ID}", BackfillHandler),
    (rf"{API_PREFIX}/backfills/{ID}/cancel", CancelBackfillHandler),
]
