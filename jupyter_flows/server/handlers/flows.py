"""Flows: ``POST flows`` registers a version; flow groups and versions are read-only."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.errors import InvalidInput
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import flows

ID = r"(?P<flow_id>[^/]+)"


class FlowsCollectionHandler(FlowsHandler):
    auth_resource = "flows.flows"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        project, name = self.str_arg("project"), self.str_arg("name")
        result = await self.run(
            flows.list_flows, project=project, name=name, limit=limit, offset=offset, readonly=True
        )
        self.reply(result)

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import RegisterFlow

        body = self.body(RegisterFlow)
        version, created = await self.run(flows.register_flow, body)
        self.reply(version, 201 if created else 200, location=f"flow-versions/{version['id']}")


class FlowHandler(FlowsHandler):
    auth_resource = "flows.flows"

    @authenticated
    @authorized
    async def get(self, flow_id: str) -> None:
        self.reply(await self.run(flows.read_flow, flow_id, readonly=True))


class FlowVersionsHandler(FlowsHandler):
    auth_resource = "flows.flows"

    @authenticated
    @authorized
    async def get(self, flow_id: str) -> None:
        limit, offset = self.page_args()
        result = await self.run(
            flows.list_versions, flow_id, limit=limit, offset=offset, readonly=True
        )
        self.reply(result)


class FlowVersionHandler(FlowsHandler):
    auth_resource = "flows.flows"
    agent_access = {"GET": "version"}

    @authenticated
    @authorized
    async def get(self, version_id: str) -> None:
        self.reply(await self.run(flows.read_version, version_id, readonly=True))


class ResourceSpecHandler(FlowsHandler):
    auth_resource = "flows.flows"
    agent_access = {"GET": "version"}

    @authenticated
    @authorized
    async def get(self, version_id: str) -> None:
        self.reply(await self.run(flows.read_resource_spec, version_id, readonly=True))


class ResourceSpecDiffHandler(FlowsHandler):
    auth_resource = "flows.flows"

    @authenticated
    @authorized
    async def get(self, version_id: str) -> None:
        from_id = self.get_query_argument("from", "")
        if not from_id:
            raise InvalidInput("give the version to compare with: ?from=VERSION_ID")
        diff = await self.run(flows.diff_resource_specs, version_id, from_id, readonly=True)
        self.reply(diff)


default_handlers = [
    (rf"{API_PREFIX}/flows", FlowsCollectionHandler),
    (rf"{API_PREFIX}/flows/{ID}", FlowHandler),
    (rf"{API_PREFIX}/flows/{ID}/versions", FlowVersionsHandler),
    (rf"{API_PREFIX}/flow-versions/(?P<version_id>[^/]+)", FlowVersionHandler),
    (rf"{API_PREFIX}/flow-versions/(?P<version_id>[^/]+)/resource-spec", ResourceSpecHandler),
    (
        rf"{API_PREFIX}/flow-versions/(?P<version_id>[^/]+)/resource-spec/diff",
        ResourceSpecDiffHandler,
    ),
]
