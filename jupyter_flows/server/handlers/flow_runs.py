"""Flow runs: create, list, read, delete, propose a state, cancel; their task runs and logs."""

from __future__ import annotations

import re
from datetime import datetime

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.engine.states import StateType
from jupyter_flows.server.errors import Forbidden, InvalidInput
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import agents, logs, run_graph, run_states, runs
from jupyter_flows.store.run_queries import FlowRunFilter, FlowRunSort

ID = r"(?P<flow_run_id>[^/]+)"


#: RFC 3339's date-time (what openapi.yaml's ``format: date-time`` means); Python's
#: fromisoformat alone also takes dates, week dates and compact forms.
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<zone>[Zz]|[+-]\d{2}:\d{2})?$"
)


def parse_time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    matched = _DATE_TIME.match(value)
    try:
        if matched is None:
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time such as 2026-01-31T06:00:00Z, not {value!r}"
        ) from None
    if not matched.group("zone"):
        raise InvalidInput(f"{name} needs a timezone (times are UTC: add 'Z')")
    return parsed


def parse_states(values: list[str]) -> list[StateType] | None:
    names = [n.strip().upper() for v in values for n in v.split(",") if n.strip()]
    if not names:
        return None
    try:
        return [StateType(n) for n in names]
    except ValueError:
        known = ", ".join(t.value for t in StateType)
        raise InvalidInput(f"state must be among {known}; got {','.join(names)}") from None


#: ``sort`` of ``GET flow-runs``: a column, ``-`` first for descending.
RUN_SORTS: dict[str, FlowRunSort] = {
    "-start": "expected_start_desc",
    "start": "expected_start_asc",
    "-state": "state_desc",
    "state": "state_asc",
    "-duration": "duration_desc",
    "duration": "duration_asc",
}


def parse_run_sort(value: str | None) -> FlowRunSort:
    if value is None:
        return "expected_start_desc"
    if value not in RUN_SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(RUN_SORTS)}; got {value!r}")
    return RUN_SORTS[value]


class FlowRunsHandler(FlowsHandler):
    auth_resource = "flows.flow_runs"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        flow_id, deployment_id = self.str_arg("flow_id"), self.str_arg("deployment_id")
        backfill_id = self.str_arg("backfill_id")
        flow_version_id = self.str_arg("flow_version_id")
        tags = [t for t in self.get_query_arguments("tag") if t]
        flt = FlowRunFilter(
            flow_group_ids=[flow_id] if flow_id else None,
            deployment_ids=[deployment_id] if deployment_id else None,
            backfill_ids=[backfill_id] if backfill_id else None,
            flow_version_ids=[flow_version_id] if flow_version_id else None,
            state_types=parse_states(self.get_query_arguments("state")),
            tags=tags or None,
            start_after=parse_time("since", self.get_query_argument("since", None)),
            start_before=parse_time("until", self.get_query_argument("until", None)),
        )
        self.reply(
            await self.run(
                runs.list_flow_runs,
                flt,
                limit=limit,
                offset=offset,
                sort=parse_run_sort(self.str_arg("sort")),
                readonly=True,
            )
        )

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import CreateFlowRun

        run, created = await self.run(runs.create_flow_run, self.body(CreateFlowRun))
        self.reply(run, 201 if created else 200, location=f"flow-runs/{run['id']}")


class FlowRunHandler(FlowsHandler):
    auth_resource = "flows.flow_runs"
    agent_access = {"GET": "run"}

    @authenticated
    @authorized
    async def get(self, flow_run_id: str) -> None:
        self.reply(await self.run(runs.read_flow_run, flow_run_id, readonly=True))

    @authenticated
    @authorized
    async def delete(self, flow_run_id: str) -> None:
        await self.run(runs.delete_flow_run, flow_run_id)
        self.no_content()


class FlowRunStateHandler(FlowsHandler):
    auth_resource = "flows.flow_run_states"
    agent_access = {"POST": "run"}

    @authenticated
    @authorized
    async def post(self, flow_run_id: str) -> None:
        from jupyter_flows.server.wire import SetRunState

        body = self.body(SetRunState)
        if self.agent_key_id is not None and body.lease is None:
            raise Forbidden("an agent key sends the lease of the attempt it reports")
        self.reply(await self.run(run_states.set_state, "flow_run", flow_run_id, body))


class FlowRunStatesHandler(FlowsHandler):
    auth_resource = "flows.flow_runs"
    agent_access = {"GET": "run"}

    @authenticated
    @authorized
    async def get(self, flow_run_id: str) -> None:
        limit, offset = self.page_args()
        result = await self.run(
            run_states.read_history,
            "flow_run",
            flow_run_id,
            limit=limit,
            offset=offset,
            readonly=True,
        )
        self.reply(result)


class CancelHandler(FlowsHandler):
    auth_resource = "flows.flow_runs"

    @authenticated
    @authorized
    async def post(self, flow_run_id: str) -> None:
        self.reply(await self.run(run_states.cancel_flow_run, flow_run_id), 202)


class FlowRunTaskRunsHandler(FlowsHandler):
    auth_resource = "flows.task_runs"
    agent_access = {"GET": "run"}

    @authenticated
    @authorized
    async def get(self, flow_run_id: str) -> None:
        limit, offset = self.page_args()
        result = await self.run(
            runs.list_task_runs, flow_run_id, limit=limit, offset=offset, readonly=True
        )
        self.reply(result)


class FlowRunGraphHandler(FlowsHandler):
    """The run, its tasks with their task runs, and the edges between them, at once."""

    auth_resource = "flows.task_runs"
    agent_access = {"GET": "run"}

    @authenticated
    @authorized
    async def get(self, flow_run_id: str) -> None:
        self.reply(await self.run(run_graph.read_run_graph, flow_run_id, readonly=True))


class FlowRunLogsHandler(FlowsHandler):
    auth_resource = "flows.logs"
    agent_access = {"GET": "run"}

    @authenticated
    @authorized
    async def get(self, flow_run_id: str) -> None:
        limit, offset = self.page_args()
        result = await self.run(
            logs.read_logs,
            flow_run_id=flow_run_id,
            task_run_id=self.str_arg("task_run_id"),
            level=self.str_arg("level"),
            q=self.str_arg("q"),
            source=self.str_arg("source"),
            cursor=self.str_arg("cursor"),
            tail=self.flag_arg("tail"),
            limit=limit,
            offset=offset,
            readonly=True,
        )
        self.reply(result)


class LogDownloadHandler(FlowsHandler):
    """The whole log, streamed in chunks (each read in its own short transaction)."""

    auth_resource = "flows.logs"
    agent_access = {"GET": "run"}
    _TYPES = {
        "text": ("text/plain; charset=utf-8", "log"),
        "jsonl": ("application/x-ndjson", "jsonl"),
    }

    @authenticated
    @authorized
    async def get(self, flow_run_id: str) -> None:
        fmt = self.get_query_argument("format", "text")
        if fmt not in self._TYPES:
            raise InvalidInput("format must be 'text' or 'jsonl'")
        content_type, suffix = self._TYPES[fmt]
        chunk, cursor = await self.run(logs.download_chunk, flow_run_id, fmt, None, readonly=True)
        self.set_header("Content-Type", content_type)
        self.set_header(
            "Content-Disposition", f'attachment; filename="flow-run-{flow_run_id}.{suffix}"'
        )
        while chunk:
            self.write(chunk)
            await self.flush()
            if cursor is None:
                break
            chunk, cursor = await self.run(
                logs.download_chunk, flow_run_id, fmt, cursor, readonly=True
            )
        self.finish(set_content_type=content_type)


class PendingReasonHandler(FlowsHandler):
    """Why a due run is not running (no agent, queue paused, concurrency, infrastructure)."""

    auth_resource = "flows.flow_runs"
    agent_access = {"GET": "run"}

    @authenticated
    @authorized
    async def get(self, flow_run_id: str) -> None:
        self.reply(await self.run(agents.pending_reason, flow_run_id, readonly=True))


default_handlers = [
    (rf"{API_PREFIX}/flow-runs", FlowRunsHandler),
    (rf"{API_PREFIX}/flow-runs/{ID}", FlowRunHandler),
    (rf"{API_PREFIX}/flow-runs/{ID}/state", FlowRunStateHandler),
    (rf"{API_PREFIX}/flow-runs/{ID}/states", FlowRunStatesHandler),
    (rf"{API_PREFIX}/flow-runs/{ID}/cancel", CancelHandler),
    (rf"{API_PREFIX}/flow-runs/{ID}/pending-reason", PendingReasonHandler),
    (rf"{API_PREFIX}/flow-runs/{ID}/task-runs", FlowRunTaskRunsHandler),
    (rf"{API_PREFIX}/flow-runs/{ID}/graph", FlowRunGraphHandler),
    (rf"{API_PREFIX}/flow-runs/{ID}/logs", FlowRunLogsHandler),
    (rf"{API_PREFIX}/flow-runs/{ID}/logs/download", LogDownloadHandler),
]
