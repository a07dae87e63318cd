"""Task runs: create, read, propose a state."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server import access
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import run_states, runs

ID = r"(?P<task_run_id>[^/]+)"


class TaskRunsHandler(FlowsHandler):
    auth_resource = "flows.task_runs"
    agent_access = {"POST": "body"}

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import CreateTaskRun

        body = self.body(CreateTaskRun)
        if self.agent_key_id is not None:
            held = [body.flow_run_id]
            await self.run(access.check_runs, self.agent_key_id, held, readonly=True)
        run, created = await self.run(runs.create_task_run, body)
        self.reply(run, 201 if created else 200, location=f"task-runs/{run['id']}")


class TaskRunHandler(FlowsHandler):
    auth_resource = "flows.task_runs"
    agent_access = {"GET": "task_run"}

    @authenticated
    @authorized
    async def get(self, task_run_id: str) -> None:
        self.reply(await self.run(runs.read_task_run, task_run_id, readonly=True))


class TaskRunStateHandler(FlowsHandler):
    auth_resource = "flows.task_runs"
    agent_access = {"POST": "task_run"}

    @authenticated
    @authorized
    async def post(self, task_run_id: str) -> None:
        from jupyter_flows.server.wire import ProposeState

        body = self.body(ProposeState)
        self.reply(await self.run(run_states.set_state, "task_run", task_run_id, body))


class TaskRunStatesHandler(FlowsHandler):
    auth_resource = "flows.task_runs"
    agent_access = {"GET": "task_run"}

    @authenticated
    @authorized
    async def get(self, task_run_id: str) -> None:
        limit, offset = self.page_args()
        result = await self.run(
            run_states.read_history,
            "task_run",
            task_run_id,
            limit=limit,
            offset=offset,
            readonly=True,
        )
        self.reply(result)


default_handlers = [
    (rf"{API_PREFIX}/task-runs", TaskRunsHandler),
    (rf"{API_PREFIX}/task-runs/{ID}", TaskRunHandler),
    (rf"{API_PREFIX}/task-runs/{ID}/state", TaskRunStateHandler),
    (rf"{API_PREFIX}/task-runs/{ID}/states", TaskRunStatesHandler),
]
