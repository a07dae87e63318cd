"""Work queues, addressed by name: CRUD, pause/resume, preview."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import queues

NAME = r"(?P<name>[^/]+)"


class WorkQueuesHandler(FlowsHandler):
    auth_resource = "flows.work_queues"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        self.reply(await self.run(queues.list_queues, limit=limit, offset=offset, readonly=True))

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import CreateWorkQueue

        queue = await self.run(queues.create_queue, self.body(CreateWorkQueue))
        self.reply(queue, 201, location=f"work-queues/{queue['name']}")


class WorkQueueHandler(FlowsHandler):
    auth_resource = "flows.work_queues"

    @authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.reply(await self.run(queues.read_queue, name, readonly=True))

    @authenticated
    @authorized
    async def patch(self, name: str) -> None:
        from jupyter_flows.server.wire import UpdateWorkQueue

        body = self.body(UpdateWorkQueue)
        self.reply(await self.run(queues.update_queue, name, body))

    @authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.run(queues.delete_queue, name)
        self.no_content()


class PauseHandler(FlowsHandler):
    auth_resource = "flows.work_queues"

    @authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        self.reply(await self.run(queues.set_paused, name, action == "pause"))


class PreviewHandler(FlowsHandler):
    auth_resource = "flows.work_queues"
    agent_access = {"GET": "queue"}

    @authenticated
    @authorized
    async def get(self, name: str) -> None:
        limit, offset = self.page_args()
        result = await self.run(queues.preview, name, limit=limit, offset=offset, readonly=True)
        self.reply(result)


default_handlers = [
    (rf"{API_PREFIX}/work-queues", WorkQueuesHandler),
    (rf"{API_PREFIX}/work-queues/{NAME}", WorkQueueHandler),
    (rf"{API_PREFIX}/work-queues/{NAME}/(?P<action>pause|resume)", PauseHandler),
    (rf"{API_PREFIX}/work-queues/{NAME}/preview", PreviewHandler),
]
