"""Typed Python client of the REST API (docs/rest-api.md): one method per endpoint.

>>> client = FlowsClient()  # JUPYTER_FLOWS_API_URL, JUPYTER_FLOWS_API_KEY / _API_TOKEN
>>> for run in client.iterate(client.list_flow_runs, state=["FAILED"]):
...     print(run.name, run.state.name)

Every refusal of the server raises :class:`FlowsAPIError` with the server's ``error`` code and
``message``; a server that cannot be reached raises :class:`FlowsConnectionError` (a
subclass) whose message names the URL. The CLI, the agents and the ``%flow`` magic use this
client; the engine's HTTP reporter does not (the engine imports nothing outside itself).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from jupyter_flows.client_models import (
    Agent,
    AgentLogLine,
    ApiKey,
    Artifact,
    ClaimedRun,
    Credential,
    Deployment,
    FlowGroup,
    FlowRun,
    FlowVersion,
    HeartbeatAnswer,
    IngestResult,
    LogLine,
    Page,
    PendingReason,
    QueuedRun,
    Registration,
    RunCredential,
    RunLease,
    StateInfo,
    TaskRun,
    WorkQueue,
)
from jupyter_flows.engine import run_env

__all__ = ["DEFAULT_API_URL", "FlowsAPIError", "FlowsClient", "FlowsConnectionError"]

DEFAULT_API_URL = "http://127.0.0.1:8888/api/flows/"
T = TypeVar("T")


class FlowsAPIError(Exception):
    """The server refused a request (``status``, its ``error`` code and ``message``)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message

    def __str__(self) -> str:
        return self.message


class FlowsConnectionError(FlowsAPIError):
    """No answer at all: the server is down, the URL is wrong, or the network is."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            0, "unreachable", f"cannot reach the jupyter-flows server at {url}: {reason}"
        )
        self.url = url


def normalize_api_url(url: str) -> str:
    """The API root with a trailing slash; a bare server URL gets ``api/flows/`` appended."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r} (e.g. {DEFAULT_API_URL})")
    path = parts.path.rstrip("/") + "/"
    if not path.endswith("/api/flows/"):
        path += "api/flows/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _params(**values: Any) -> dict[str, Any]:
    """Query parameters without the Nones; lists become comma-separated; times ISO 8601."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[key] = value
    return out


def _body(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class FlowsClient:
    """A synchronous client of one jupyter-flows server.

    ``api_url`` defaults to ``JUPYTER_FLOWS_API_URL`` (else a local JupyterLab on port 8888);
    ``api_key`` (sent as ``Bearer``) to ``JUPYTER_FLOWS_API_KEY``; ``token`` (a jupyter-server
    token, sent as ``token``) to ``JUPYTER_FLOWS_API_TOKEN``. Use it as a context manager or
    call :meth:`close`.
    """

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = normalize_api_url(
            api_url or os.environ.get(run_env.API_URL) or DEFAULT_API_URL
        )
        api_key = api_key or os.environ.get(run_env.API_KEY)
        token = token or os.environ.get(run_env.API_TOKEN)
        self.headers: dict[str, str] = {"Accept": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        elif token:
            self.headers["Authorization"] = f"token {token}"
        self._http = httpx.Client(
            base_url=self.api_url, headers=self.headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> FlowsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ transport
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request; raise FlowsAPIError for any answer that is not 2xx.

        ``timeout``: seconds for this request (a long poll), instead of the client's.
        """
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.request(method, path, params=params, json=json_body, **extra)
        except httpx.TransportError as exc:
            raise FlowsConnectionError(self.api_url, str(exc) or type(exc).__name__) from None
        if response.is_success:
            return response
        raise _error_of(response)

    def _get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=_params(**params)).json()

    def _post(self, path: str, body: Any = None) -> Any:
        response = self.request("POST", path, json_body=body if body is not None else {})
        return response.json() if response.content else None

    def _page(self, model: type[T], path: str, **params: Any) -> Page[T]:
        data = self._get(path, **params)
        if isinstance(data, list):  # a bare list: the whole result in one page
            data = {"items": data, "total": len(data), "limit": len(data), "offset": 0}
        return Page[model].model_validate(data)  # type: ignore[valid-type]

    @staticmethod
    def iterate(
        method: Callable[..., Page[T]], *args: Any, page_size: int = 500, **filters: Any
    ) -> Iterator[T]:
        """Every item of a list endpoint, fetched a page at a time."""
        offset = 0
        while True:
            page = method(*args, limit=page_size, offset=offset, **filters)
            yield from page.items
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    # ------------------------------------------------------------------ server
    def version(self) -> str:
        return str(self._get("version")["version"])

    # ------------------------------------------------------------------ flows
    def register_flow(
        self,
        name: str,
        content: dict[str, Any],
        *,
        project: str | None = None,
        description: str | None = None,
        entrypoint: str | None = None,
    ) -> Registration:
        """Register a flow version; the same content again returns the existing version."""
        body = _body(
            name=name,
            project=project,
            description=description,
            content=content,
            entrypoint=entrypoint,
        )
        response = self.request("POST", "flows", json_body=body)
        data = response.json()
        new = response.status_code == 201
        for flag in ("new", "created"):  # the body may say it too
            if isinstance(data.get(flag), bool):
                new = data[flag]
        version = data.get("version") if isinstance(data.get("version"), dict) else data
        return Registration(version=FlowVersion.model_validate(version), new=new)

    def list_flows(self, *, limit: int = 50, offset: int = 0, **filters: Any) -> Page[FlowGroup]:
        return self._page(FlowGroup, "flows", limit=limit, offset=offset, **filters)

    def get_flow(self, flow_id: str) -> FlowGroup:
        return FlowGroup.model_validate(self._get(f"flows/{flow_id}"))

    def list_flow_versions(
        self, flow_id: str, *, limit: int = 50, offset: int = 0
    ) -> Page[FlowVersion]:
        return self._page(FlowVersion, f"flows/{flow_id}/versions", limit=limit, offset=offset)

    def get_flow_version(self, version_id: str) -> FlowVersion:
        return FlowVersion.model_validate(self._get(f"flow-versions/{version_id}"))

    def get_resource_spec(self, version_id: str) -> dict[str, Any]:
        """``{flow_version_id, resource_spec_hash, resource_spec}`` (the spec may be None)."""
        result: dict[str, Any] = self._get(f"flow-versions/{version_id}/resource-spec")
        return result

    def diff_resource_specs(self, version_id: str, from_version_id: str) -> dict[str, Any]:
        """``{from, to, changed, changes}``: the environment's changes, in words."""
        path = f"flow-versions/{version_id}/resource-spec/diff"
        result: dict[str, Any] = self._get(path, **{"from": from_version_id})
        return result

    # ------------------------------------------------------------------ deployments
    def create_deployment(
        self,
        flow_id: str,
        name: str,
        *,
        parameters: dict[str, Any] | None = None,
        work_queue: str | None = None,
        tags: Iterable[str] = (),
        paused: bool = False,
        schedule: dict[str, Any] | None = None,
        version_policy: str = "latest",
        version_id: str | None = None,
    ) -> Deployment:
        body = _body(
            flow_id=flow_id,
            name=name,
            version_policy=version_policy,
            version_id=version_id,
            parameters=parameters or {},
            work_queue=work_queue,
            tags=list(tags),
            paused=paused,
            schedule=schedule,
        )
        return Deployment.model_validate(self._post("deployments", body))

    def ensure_deployment(
        self,
        flow_id: str,
        name: str,
        *,
        schedule: dict[str, Any] | None = None,
        work_queue: str | None = None,
    ) -> Deployment:
        """The flow's deployment ``name``, made (queue "default" unless given) or changed
        only where ``schedule`` or ``work_queue`` is given and differs (the server's rule)."""
        body = _body(schedule=schedule, work_queue=work_queue)
        path = f"flows/{quote(flow_id, safe='')}/deployments/{quote(name, safe='')}"
        response = self.request("PUT", path, json_body=body)
        return Deployment.model_validate(response.json())

    def list_deployments(
        self, *, flow_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[Deployment]:
        return self._page(Deployment, "deployments", flow_id=flow_id, limit=limit, offset=offset)

    def get_deployment(self, deployment_id: str) -> Deployment:
        return Deployment.model_validate(self._get(f"deployments/{deployment_id}"))

    def update_deployment(self, deployment_id: str, **changes: Any) -> Deployment:
        response = self.request("PATCH", f"deployments/{deployment_id}", json_body=changes)
        return Deployment.model_validate(response.json())

    def delete_deployment(self, deployment_id: str) -> None:
        self.request("DELETE", f"deployments/{deployment_id}")

    def pause_deployment(self, deployment_id: str) -> Deployment:
        return Deployment.model_validate(self._post(f"deployments/{deployment_id}/pause"))

    def resume_deployment(self, deployment_id: str) -> Deployment:
        return Deployment.model_validate(self._post(f"deployments/{deployment_id}/resume"))

    def run_deployment(
        self,
        deployment_id: str,
        parameters: dict[str, Any] | None = None,
        *,
        tags: Iterable[str] | None = None,
        scheduled_start: datetime | None = None,
        trigger: str | None = None,
    ) -> FlowRun:
        """A new Scheduled run of the deployment (parameters checked by the server);
        ``trigger``: where the request comes from (``cli``, ``magic``), the run's trigger."""
        body = _body(
            parameters=parameters or {},
            tags=list(tags) if tags is not None else None,
            scheduled_start=scheduled_start.isoformat() if scheduled_start else None,
            trigger=trigger,
        )
        return FlowRun.model_validate(self._post(f"deployments/{deployment_id}/runs", body))

    def create_backfill(self, deployment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A backfill of the deployment (``body``: window or parameter values, cap, ...);
        with ``dry_run`` the runs it would make, nothing made."""
        answer: dict[str, Any] = self._post(f"deployments/{deployment_id}/backfills", body)
        return answer

    def get_backfill(self, backfill_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._get(f"backfills/{backfill_id}")
        return answer

    def cancel_backfill(self, backfill_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._post(f"backfills/{backfill_id}/cancel")
        return answer

    # ------------------------------------------------------------------ retention

    def prune_runs(
        self, *, dry_run: bool = False, deployment_id: str | None = None, limit: int = 1000
    ) -> dict[str, Any]:
        """Delete what the retention policies let go now (``dry_run``: only list it)."""
        body = _body(dry_run=dry_run, deployment_id=deployment_id, limit=limit)
        answer: dict[str, Any] = self._post("retention/prune", body)
        return answer

    # ------------------------------------------------------------------ flow runs
    def create_flow_run(self, body: dict[str, Any]) -> FlowRun:
        return FlowRun.model_validate(self._post("flow-runs", body))

    def list_flow_runs(
        self,
        *,
        flow_id: str | None = None,
        deployment_id: str | None = None,
        state: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        tag: str | None = None,
        sort: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[FlowRun]:
        """Runs newest first; ``state`` takes state types (``["FAILED", "CRASHED"]``);
        ``sort``: ``start``, ``state`` or ``duration``, ``-`` first for descending."""
        return self._page(
            FlowRun,
            "flow-runs",
            sort=sort,
            flow_id=flow_id,
            deployment_id=deployment_id,
            state=list(state) if state else None,
            since=since,
            until=until,
            tag=tag,
            limit=limit,
            offset=offset,
        )

    def get_flow_run(self, flow_run_id: str) -> FlowRun:
        return FlowRun.model_validate(self._get(f"flow-runs/{flow_run_id}"))

    def set_flow_run_state(
        self,
        flow_run_id: str,
        type: str,
        name: str | None = None,
        message: str | None = None,
        timestamp: datetime | None = None,
        *,
        lease: RunLease | None = None,
    ) -> StateInfo:
        """Propose a state; ``lease``: the attempt this comes from (refused if stale)."""
        extra = {"lease": lease.wire()} if lease is not None else {}
        return self._set_state(
            f"flow-runs/{flow_run_id}/state", type, name, message, timestamp, **extra
        )

    def get_flow_run_states(self, flow_run_id: str) -> list[StateInfo]:
        data = self._get(f"flow-runs/{flow_run_id}/states")
        items = data["items"] if isinstance(data, dict) else data
        return [StateInfo.model_validate(item) for item in items]

    def cancel_flow_run(self, flow_run_id: str) -> FlowRun | None:
        """Ask the run to stop: Scheduled/Pending become Cancelled, Running Cancelling."""
        data = self._post(f"flow-runs/{flow_run_id}/cancel")
        return FlowRun.model_validate(data) if isinstance(data, dict) and "id" in data else None

    def delete_flow_run(self, flow_run_id: str) -> None:
        self.request("DELETE", f"flow-runs/{flow_run_id}")

    def list_task_runs(
        self, flow_run_id: str, *, limit: int = 50, offset: int = 0
    ) -> Page[TaskRun]:
        return self._page(TaskRun, f"flow-runs/{flow_run_id}/task-runs", limit=limit, offset=offset)

    def get_flow_run_logs(
        self,
        flow_run_id: str,
        *,
        task_run_id: str | None = None,
        level: int | str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[LogLine]:
        """A run's log lines, oldest first; ``level`` is the minimum, ``q`` a text search."""
        return self._page(
            LogLine,
            f"flow-runs/{flow_run_id}/logs",
            task_run_id=task_run_id,
            level=level,
            q=q,
            limit=limit,
            offset=offset,
        )

    def download_logs(self, flow_run_id: str, format: str = "text") -> str:
        response = self.request(
            "GET", f"flow-runs/{flow_run_id}/logs/download", params={"format": format}
        )
        return response.text

    # ------------------------------------------------------------------ artifacts
    def list_artifacts(
        self, flow_run_id: str, *, type: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[Artifact]:
        return self._page(
            Artifact, f"flow-runs/{flow_run_id}/artifacts", type=type, limit=limit, offset=offset
        )

    def get_artifact(self, artifact_id: str) -> Artifact:
        return Artifact.model_validate(self._get(f"artifacts/{artifact_id}"))

    def artifact_content(self, artifact_id: str) -> dict[str, Any]:
        """The executed notebook of a ``notebook`` artifact, as notebook JSON."""
        return dict(self._get(f"artifacts/{artifact_id}/content"))

    def open_artifact(self, artifact_id: str) -> str:
        """Write a ``notebook`` artifact below the server's root; return its path there."""
        return str(self._post(f"artifacts/{artifact_id}/open")["path"])

    # ------------------------------------------------------------------ task runs
    def create_task_run(self, body: dict[str, Any]) -> TaskRun:
        return TaskRun.model_validate(self._post("task-runs", body))

    def get_task_run(self, task_run_id: str) -> TaskRun:
        return TaskRun.model_validate(self._get(f"task-runs/{task_run_id}"))

    def get_task_run_states(self, task_run_id: str) -> list[StateInfo]:
        data = self._get(f"task-runs/{task_run_id}/states")
        items = data["items"] if isinstance(data, dict) else data
        return [StateInfo.model_validate(item) for item in items]

    def set_task_run_state(
        self,
        task_run_id: str,
        type: str,
        name: str | None = None,
        message: str | None = None,
        timestamp: datetime | None = None,
    ) -> StateInfo:
        return self._set_state(f"task-runs/{task_run_id}/state", type, name, message, timestamp)

    def _set_state(
        self,
        path: str,
        type: str,
        name: str | None,
        message: str | None,
        timestamp: datetime | None,
        **extra: Any,
    ) -> StateInfo:
        body = _body(
            type=type,
            name=name,
            message=message,
            timestamp=timestamp.isoformat() if timestamp else None,
            **extra,
        )
        data = self._post(path, body)
        return StateInfo.model_validate(data.get("state", data))

    # ------------------------------------------------------------------ logs and ingest
    def create_logs(self, lines: list[dict[str, Any]]) -> int:
        return int(self._post("logs", lines)["count"])

    def list_logs(
        self,
        *,
        flow_run_id: str | None = None,
        task_run_id: str | None = None,
        level: int | str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[LogLine]:
        return self._page(
            LogLine,
            "logs",
            flow_run_id=flow_run_id,
            task_run_id=task_run_id,
            level=level,
            q=q,
            limit=limit,
            offset=offset,
        )

    def ingest(self, batch: dict[str, list[dict[str, Any]]]) -> IngestResult:
        """What the engine's reporter sends: runs, states and logs in one idempotent batch."""
        return IngestResult.model_validate(self._post("ingest", batch))

    # ------------------------------------------------------------------ work queues
    def create_work_queue(
        self,
        name: str,
        *,
        tags: Iterable[str] = (),
        concurrency_limit: int | None = None,
        paused: bool = False,
    ) -> WorkQueue:
        body = _body(name=name, tags=list(tags), concurrency_limit=concurrency_limit, paused=paused)
        return WorkQueue.model_validate(self._post("work-queues", body))

    def list_work_queues(self, *, limit: int = 50, offset: int = 0) -> Page[WorkQueue]:
        return self._page(WorkQueue, "work-queues", limit=limit, offset=offset)

    def get_work_queue(self, name: str) -> WorkQueue:
        return WorkQueue.model_validate(self._get(f"work-queues/{name}"))

    def update_work_queue(self, name: str, **changes: Any) -> WorkQueue:
        response = self.request("PATCH", f"work-queues/{name}", json_body=changes)
        return WorkQueue.model_validate(response.json())

    def delete_work_queue(self, name: str) -> None:
        self.request("DELETE", f"work-queues/{name}")

    def pause_work_queue(self, name: str) -> WorkQueue:
        return WorkQueue.model_validate(self._post(f"work-queues/{name}/pause"))

    def resume_work_queue(self, name: str) -> WorkQueue:
        return WorkQueue.model_validate(self._post(f"work-queues/{name}/resume"))

    def preview_work_queue(self, name: str) -> list[QueuedRun]:
        """The queue's due and upcoming runs; due runs that wait say why."""
        data = self._get(f"work-queues/{name}/preview")
        items = data.get("items") or data.get("runs") or [] if isinstance(data, dict) else data
        return [QueuedRun.model_validate(item) for item in items]

    # ------------------------------------------------------------------ agents
    def register_agent(
        self, name: str, work_queue: str = "default", *, infrastructure: str | None = None
    ) -> Agent:
        """Register an agent on a work queue (a known name comes back online);
        ``infrastructure`` says where its runs go, for people reading runs and agents."""
        body = {"name": name, "work_queue": work_queue, "infrastructure": infrastructure}
        return Agent.model_validate(self._post("agents", body))

    def list_agents(self, *, limit: int = 50, offset: int = 0) -> Page[Agent]:
        return self._page(Agent, "agents", limit=limit, offset=offset)

    def get_agent(self, agent_id: str) -> Agent:
        return Agent.model_validate(self._get(f"agents/{agent_id}"))

    def heartbeat(
        self,
        agent_id: str,
        running: Iterable[str] = (),
        *,
        status: str = "online",
        leases: Iterable[RunLease] = (),
    ) -> HeartbeatAnswer:
        """Say the agent is alive and holds ``leases`` (renewing them; or works on
        ``running``, by id alone); the answer names the runs to stop."""
        body: dict[str, Any] = {"status": status}
        if leases:
            body["leases"] = [lease.wire() for lease in leases]
        if running:
            body["running"] = list(running)
        return HeartbeatAnswer.model_validate(self._post(f"agents/{agent_id}/heartbeat", body))

    def claim(self, work_queue: str, agent_id: str, *, wait: float = 0.0) -> ClaimedRun | None:
        """Claim the queue's next due run (now Pending), waiting up to ``wait`` seconds
        (at most 30) for one; None if there was none."""
        response = self.request(
            "POST",
            f"work-queues/{work_queue}/claim",
            json_body={"agent_id": agent_id, "wait": wait},
            timeout=wait + 30.0,
        )
        if response.status_code == 204 or not response.content:
            return None
        return ClaimedRun.model_validate(response.json())

    def create_agent_logs(self, agent_id: str, lines: list[dict[str, Any]]) -> int:
        return int(self._post(f"agents/{agent_id}/logs", lines)["count"])

    def get_agent_logs(
        self,
        agent_id: str,
        *,
        level: int | str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[AgentLogLine]:
        return self._page(
            AgentLogLine, f"agents/{agent_id}/logs", level=level, limit=limit, offset=offset
        )

    def get_pending_reason(self, flow_run_id: str) -> PendingReason:
        """Whether a run is due, and if it waits, why (no agent, paused, concurrency…)."""
        return PendingReason.model_validate(self._get(f"flow-runs/{flow_run_id}/pending-reason"))

    # ------------------------------------------------------------------ API keys
    def create_api_key(self, name: str, role: str = "user") -> ApiKey:
        """A new key; its ``token`` is in this answer only."""
        return ApiKey.model_validate(self._post("api-keys", {"name": name, "role": role}))

    def list_api_keys(self, *, limit: int = 50, offset: int = 0) -> Page[ApiKey]:
        return self._page(ApiKey, "api-keys", limit=limit, offset=offset)

    def delete_api_key(self, key_id: str) -> None:
        self.request("DELETE", f"api-keys/{key_id}")

    # ------------------------------------------------------------------ notifications
    # Answers as plain dicts (the shapes of schema/openapi.yaml's Notification* schemas).

    def create_notification_destination(
        self, name: str, url: str, *, replace: bool = False
    ) -> dict[str, Any]:
        """A destination; its apprise URL travels in the body only and is never answered."""
        body = {"name": name, "url": url, "replace": replace}
        return dict(self._post("notifications/destinations", body))

    def list_notification_destinations(self, *, limit: int = 500, offset: int = 0) -> dict:
        return dict(self._get("notifications/destinations", limit=limit, offset=offset))

    def delete_notification_destination(self, name: str) -> None:
        self.request("DELETE", f"notifications/destinations/{quote(name, safe='')}")

    def test_notification_destination(self, name: str) -> dict[str, Any]:
        return dict(self._post(f"notifications/destinations/{quote(name, safe='')}/test"))

    def create_notification_policy(self, **body: Any) -> dict[str, Any]:
        return dict(self._post("notifications/policies", body))

    def list_notification_policies(self, *, limit: int = 500, offset: int = 0) -> dict:
        return dict(self._get("notifications/policies", limit=limit, offset=offset))

    def delete_notification_policy(self, name: str) -> None:
        self.request("DELETE", f"notifications/policies/{quote(name, safe='')}")

    def list_notification_attempts(
        self,
        *,
        destination: str | None = None,
        flow_run_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        return dict(
            self._get(
                "notifications/attempts",
                destination=destination,
                flow_run_id=flow_run_id,
                limit=limit,
                offset=offset,
            )
        )

    def create_automation(self, **body: Any) -> dict[str, Any]:
        return dict(self._post("automations", body))

    def list_automations(self, *, limit: int = 500, offset: int = 0) -> dict[str, Any]:
        return dict(self._get("automations", limit=limit, offset=offset))

    def delete_automation(self, name: str) -> None:
        self.request("DELETE", f"automations/{quote(name, safe='')}")

    def list_automation_firings(
        self, *, automation: str | None = None, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        return dict(
            self._get("automation-firings", automation=automation, limit=limit, offset=offset)
        )

    # ------------------------------------------------------------------ credentials
    def create_credential(
        self, name: str, value: str, *, env: str | None = None, replace: bool = False
    ) -> Credential:
        """Store a credential (its value travels in the body only, never in a URL)."""
        body: dict[str, Any] = {"name": name, "value": value, "replace": replace}
        if env:
            body["env"] = env
        return Credential.model_validate(self._post("credentials", body))

    def list_credentials(self, *, limit: int = 50, offset: int = 0) -> Page[Credential]:
        return self._page(Credential, "credentials", limit=limit, offset=offset)

    def delete_credential(self, name: str) -> None:
        self.request("DELETE", f"credentials/{quote(name, safe='')}")

    def rotate_credentials_key(self) -> dict[str, Any]:
        """Re-encrypt every value with a new key; ``{"rotated": count}``."""
        return dict(self._post("credentials/rotate-key"))

    def run_credentials(self, flow_run_id: str, lease: RunLease) -> list[RunCredential]:
        """The values a claimed run references, for its current attempt (``lease``); a name
        the server does not hold is left out (the infrastructure may have it)."""
        data = self._post(
            f"flow-runs/{quote(flow_run_id, safe='')}/credentials", {"lease": lease.wire()}
        )
        return [RunCredential.model_validate(item) for item in data["items"]]

    # ------------------------------------------------------------------ events
    def events(
        self,
        *,
        flow_id: str | None = None,
        flow_run_id: str | None = None,
        timeout: float | None = None,
    ) -> EventStream:
        """The event stream (WebSocket), connected when this returns: iterate it for events.

        ``timeout`` bounds each wait for the next event (``TimeoutError`` when it passes).
        """
        parts = urlsplit(self.api_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = httpx.QueryParams(_params(flow_id=flow_id, flow_run_id=flow_run_id))
        url = urlunsplit((scheme, parts.netloc, parts.path + "events", str(query), ""))
        auth = self.headers.get("Authorization")
        return EventStream(url, self.api_url, [f"Authorization: {auth}"] if auth else [], timeout)


class EventStream:
    """An open event stream: one dict per event, until the server closes it or ``close()``."""

    def __init__(self, url: str, api_url: str, header: list[str], timeout: float | None) -> None:
        import websocket  # websocket-client: a jupyter_server dependency

        self._errors = websocket
        self.timeout = timeout
        try:
            self._ws = websocket.create_connection(url, header=header, timeout=timeout)
        except websocket.WebSocketBadStatusException as exc:
            raise _error_of_ws(exc) from None
        except (OSError, websocket.WebSocketException) as exc:
            raise FlowsConnectionError(api_url, str(exc) or type(exc).__name__) from None

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        errors = self._errors
        while True:
            try:
                message = self._ws.recv()
            except errors.WebSocketTimeoutException:
                raise TimeoutError(f"no event within {self.timeout} s") from None
            except (errors.WebSocketConnectionClosedException, OSError):
                return
            if not message:
                return
            yield json.loads(message)

    def close(self) -> None:
        self._ws.close()


def _error_of(response: httpx.Response) -> FlowsAPIError:
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and "message" in data:
        return FlowsAPIError(status, str(data.get("error", "http_error")), str(data["message"]))
    text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    reason = response.reason_phrase or "error"
    return FlowsAPIError(
        status,
        "http_error",
        f"{response.request.method} {response.request.url} answered {status} {reason}"
        + (f": {text}" if text else ""),
    )


def _error_of_ws(exc: Any) -> FlowsAPIError:
    status = int(getattr(exc, "status_code", 0) or 0)
    body = getattr(exc, "resp_body", None) or b""
    try:
        data = json.loads(body)
        return FlowsAPIError(status, str(data.get("error", "http_error")), str(data["message"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return FlowsAPIError(status, "http_error", f"event stream refused: {exc}")
