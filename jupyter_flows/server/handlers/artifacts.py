"""Artifacts of runs (read-only: runs record them through ``POST ingest``)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.errors import InvalidInput
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import artifacts

_TYPES = ("notebook", "table", "link")


class FlowRunArtifactsHandler(FlowsHandler):
    auth_resource = "flows.flow_runs"

    @authenticated
    @authorized
    async def get(self, flow_run_id: str) -> None:
        limit, offset = self.page_args()
        kind = self.str_arg("type")
        if kind is not None and kind not in _TYPES:
            raise InvalidInput(f"type must be one of {', '.join(_TYPES)}")
        result = await self.run(
            artifacts.list_artifacts,
            flow_run_id,
            type=kind,
            limit=limit,
            offset=offset,
            readonly=True,
        )
        self.reply(result)


class ArtifactHandler(FlowsHandler):
    auth_resource = "flows.flow_runs"

    @authenticated
    @authorized
    async def get(self, artifact_id: str) -> None:
        self.reply(await self.run(artifacts.read_artifact, artifact_id, readonly=True))


default_handlers = [
    (rf"{API_PREFIX}/flow-runs/(?P<flow_run_id>[^/]+)/artifacts", FlowRunArtifactsHandler),
    (rf"{API_PREFIX}/artifacts/(?P<artifact_id>[^/]+)", ArtifactHandler),
]
