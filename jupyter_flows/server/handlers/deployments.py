"""Deployments: CRUD, pause/resume, ``POST deployments/{id}/runs``, and
``PUT flows/{id}/deployments/{name}`` (make or update a flow's deployment by name)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import deployments

ID = r"(?P<deployment_id>[^/]+)"


class DeploymentsHandler(FlowsHandler):
    auth_resource = "flows.deployments"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        result = await self.run(
            deployments.list_deployments,
            flow_id=self.str_arg("flow_id"),
            limit=limit,
            offset=offset,
            readonly=True,
        )
        self.reply(result)

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import CreateDeployment

        result = await self.run(deployments.create_deployment, self.body(CreateDeployment))
        self.reply(result, 201, location=f"deployments/{result['id']}")


class FlowDeploymentHandler(FlowsHandler):
    """A flow's deployment by name: ``PUT`` makes it (201) or brings it up to date (200)."""

    auth_resource = "flows.deployments"

    @authenticated
    @authorized
    async def put(self, flow_id: str, name: str) -> None:
        from jupyter_flows.server.wire import EnsureDeployment

        body = self.body(EnsureDeployment, optional=True)
        result, created = await self.run(deployments.ensure_deployment, flow_id, name, body)
        location = f"deployments/{result['id']}" if created else None
        self.reply(result, 201 if created else 200, location=location)


class DeploymentHandler(FlowsHandler):
    auth_resource = "flows.deployments"

    @authenticated
    @authorized
    async def get(self, deployment_id: str) -> None:
        self.reply(await self.run(deployments.read_deployment, deployment_id, readonly=True))

    @authenticated
    @authorized
    async def patch(self, deployment_id: str) -> None:
        from jupyter_flows.server.wire import UpdateDeployment

        body = self.body(UpdateDeployment)
        self.reply(await self.run(deployments.update_deployment, deployment_id, body))

    @authenticated
    @authorized
    async def delete(self, deployment_id: str) -> None:
        await self.run(deployments.delete_deployment, deployment_id)
        self.no_content()


class PauseHandler(FlowsHandler):
    auth_resource = "flows.deployments"

    @authenticated
    @authorized
    async def post(self, deployment_id: str, action: str) -> None:
        paused = action == "pause"
        self.reply(await self.run(deployments.pause_deployment, deployment_id, paused))


class DeploymentRunsHandler(FlowsHandler):
    auth_resource = "flows.deployments"

    @authenticated
    @authorized
    async def post(self, deployment_id: str) -> None:
        from jupyter_flows.server.wire import RunDeployment

        body = self.body(RunDeployment, optional=True)
        run = await self.run(deployments.run_deployment, deployment_id, body)
        self.reply(run, 201, location=f"flow-runs/{run['id']}")


default_handlers = [
    (rf"{API_PREFIX}/deployments", DeploymentsHandler),
    (rf"{API_PREFIX}/deployments/{ID}", DeploymentHandler),
    (rf"{API_PREFIX}/deployments/{ID}/(?P<action>pause|resume)", PauseHandler),
    (rf"{API_PREFIX}/deployments/{ID}/runs", DeploymentRunsHandler),
    (rf"{API_PREFIX}/flows/(?P<flow_id>[^/]+)/deployments/(?P<name>[^/]+)", FlowDeploymentHandler),
]
