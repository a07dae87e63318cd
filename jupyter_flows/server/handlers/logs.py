"""Log lines: ``POST logs`` (a list of lines) and ``GET logs`` (filtered, paginated)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server import access
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import credentials, logs

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from jupyter_flows.server.wire import CreateLog


@functools.cache
def lines_body() -> TypeAdapter[list[CreateLog]]:
    """The body of ``POST logs``: a list of lines (built on first use)."""
    from pydantic import TypeAdapter

    from jupyter_flows.server.wire import CreateLog

    return TypeAdapter(list[CreateLog])


class LogsHandler(FlowsHandler):
    auth_resource = "flows.logs"
    agent_access = {"POST": "body"}

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        result = await self.run(
            logs.read_logs,
            flow_run_id=self.str_arg("flow_run_id"),
            task_run_id=self.str_arg("task_run_id"),
            level=self.str_arg("level"),
            q=self.str_arg("q"),
            limit=limit,
            offset=offset,
            readonly=True,
        )
        self.reply(result)

    @authenticated
    @authorized
    async def post(self) -> None:
        lines = self.body(lines_body())
        if self.agent_key_id is not None:  # an agent's job logs: of runs it holds
            runs = {line.flow_run_id for line in lines}
            await self.run(access.check_runs, self.agent_key_id, runs, readonly=True)
        # The agent masked its runs' credentials in their job logs; this is the guard.
        keyring = self.context.keyring
        lines = await self.run(credentials.redacted_lines, keyring, lines, readonly=True)
        count = await self.run(logs.insert_logs, lines)
        self.reply({"count": count}, 201)


default_handlers = [(rf"{API_PREFIX}/logs", LogsHandler)]
