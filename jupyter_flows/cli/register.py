"""Registering a notebook, some of its cells or a script on a server, through the client.

What ``jupyter flows register FILE`` and ``%flow register`` share: convert, store the
notebook blob, ``POST flows``, then make sure the flow has a deployment (``default`` unless
named) with the schedule and work queue asked for, so that ``jupyter flows run
FLOW/default`` works at once. :func:`parse_schedule` reads the schedules people type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_flows.client import FlowsClient
    from jupyter_flows.client_models import Deployment, FlowVersion
    from jupyter_flows.spec.flow_spec import FlowSpec

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^(?:every\s+)?(\d+(?:\.\d+)?)\s*([smhd]?)$", re.IGNORECASE)


class ScheduleError(ValueError):
    pass


def parse_schedule(text: str, timezone: str = "UTC") -> dict[str, Any]:
    """``"0 6 * * *"`` → a cron schedule; ``"300"``, ``"10m"``, ``"every 2h"`` → an interval."""
    value = text.strip()
    found = _INTERVAL.match(value)
    if found:
        seconds = float(found.group(1)) * _UNITS[(found.group(2) or "s").lower()]
        if seconds <= 0:
            raise ScheduleError(f"schedule {text!r}: an interval must be positive")
        return {"interval_seconds": seconds}
    if len(value.split()) in (5, 6):
        return {"cron": value, "timezone": timezone}
    raise ScheduleError(
        f"schedule {text!r}: give a cron expression ('0 6 * * *') or an interval "
        "('300', '10m', '2h', '1d')"
    )


@dataclass
class NotebookRegistered:
    spec: FlowSpec
    version: FlowVersion
    new: bool
    deployment: Deployment


def register_notebook(
    api: FlowsClient,
    notebook: Any,
    *,
    cells: Iterable[int | str] | None = None,
    engine: str = "kernel",
    name: str | None = None,
    project: str | None = None,
    schedule: dict[str, Any] | None = None,
    queue: str | None = None,
    deployment: str = "default",
    path: str | None = None,
    blob_storage: str | None = None,
    credentials: Iterable[str] = (),
    resource_spec: dict[str, Any] | None = None,
) -> NotebookRegistered:
    """Register ``notebook`` (a path, or a notebook dict with ``path``) and its deployment,
    with the environment ``resource_spec`` describes (``spec.capture``); ``credentials``:
    names of stored credentials its runs receive as variables."""
    from jupyter_flows.spec.notebook_flows import notebook_registration

    spec, body = notebook_registration(
        notebook,
        cells=cells,
        engine=engine,
        name=name,
        project=project,
        path=path,
        blob_storage=blob_storage,
        resource_spec=resource_spec,
    )
    content = body["content"]
    if credentials:
        content = with_credentials(content, credentials)
    registered = api.register_flow(
        body["name"],
        content,
        project=body.get("project"),
        entrypoint=body["entrypoint"],
    )
    version = registered.version
    made = ensure_deployment(api, version.flow_id, deployment, schedule=schedule, queue=queue)
    return NotebookRegistered(spec, version, registered.new, made)


def with_credentials(content: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """``content`` whose runs receive the stored credentials ``names`` (its run config's
    ``credentials``: part of the version, so a changed list is a new version)."""
    config = dict(content.get("run_config") or {})
    listed = list(config.get("credentials") or [])
    known = {c if isinstance(c, str) else c.get("name") for c in listed}
    listed += [name for name in names if name not in known]
    return {**content, "run_config": {**config, "credentials": listed}}


def ensure_deployment(
    api: FlowsClient,
    flow_id: str,
    name: str,
    *,
    schedule: dict[str, Any] | None = None,
    queue: str | None = None,
) -> Deployment:
    """The flow's deployment ``name``: created, or changed where a schedule or queue is given
    (the server's rule: ``FlowsClient.ensure_deployment``)."""
    return api.ensure_deployment(flow_id, name, schedule=schedule, work_queue=queue)


def request_rerun(
    api: FlowsClient,
    flow_run_id: str,
    parameters: dict[str, Any] | None = None,
    *,
    from_failed: bool = True,
    trigger: str | None = None,
) -> Any:
    """A new run of the deployment of notebook run ``flow_run_id`` that reruns it.

    The agent's run process sees the ``rerun-of:`` tag and starts from the first failed
    cell (tasks engine), reusing the earlier results, or from the start (``from_failed``
    False, any engine). ``parameters`` update the earlier run's.
    """
    from jupyter_flows.notebooks.engines.registered import FROM_START_TAG, RERUN_TAG

    earlier = api.get_flow_run(flow_run_id)
    if earlier.deployment_id is None:
        raise ValueError(
            f"flow run {earlier.name} ({flow_run_id}) has no deployment: rerun it in the "
            "process that ran it (notebooks.engines.rerun_notebook_flow)"
        )
    tags = [f"{RERUN_TAG}{earlier.id}"] + ([] if from_failed else [FROM_START_TAG])
    values = {**earlier.parameters, **dict(parameters or {})}
    return api.run_deployment(earlier.deployment_id, values, tags=tags, trigger=trigger)


def dag_lines(spec: FlowSpec) -> list[tuple[str, str, str]]:
    """``(task, cells, what it needs)`` per task, for printing the DAG."""
    rows = []
    for task in spec.tasks:
        needs = []
        for edge in spec.edges:
            if edge.target == task.key:
                carried = ", ".join(edge.names) if edge.names else "order"
                needs.append(f"{edge.source} ({carried})")
        cells = ", ".join(str(i) for i in task.cell_indices) or "-"
        label = task.key + (" [parameters]" if task.kind == "parameters" else "")
        rows.append((label, cells, "; ".join(needs) or "-"))
    return rows
