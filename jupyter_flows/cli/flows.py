"""Flows and deployments: ``register``, ``deployment …`` and ``run``."""

from __future__ import annotations

from typing import Any

import click

from jupyter_flows.cli.common import (
    BadArgument,
    CLIError,
    api_errors,
    client,
    console,
    json_option,
    notebook_engine,
    parse_cells,
    parse_params,
    print_json,
    resolve_deployment,
    resolve_flow,
    state_text,
    table,
)
from jupyter_flows.cli.live import open_events, watch_run
from jupyter_flows.cli.spec import capture, capture_options
from jupyter_flows.client_models import Deployment


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--name", help="The flow's name on the server (default: the @flow's or file's).")
@click.option("--flow", "flow_attr", metavar="FUNC", help="Which @flow of the file.")
@click.option("--project", help="The project to register in (default: 'default').")
@click.option(
    "--cells",
    metavar="CELLS",
    help="Notebooks and scripts: only these cells and what they need (e.g. 3,5-7).",
)
@click.option(
    "--engine",
    callback=notebook_engine,
    help="Notebooks and scripts: kernel (one kernel, papermill; the default) or tasks "
    "(each cell a task on the task runner).",
)
@click.option(
    "--schedule",
    metavar="WHEN",
    help="Notebooks and scripts: the deployment's schedule, a cron expression "
    "('0 6 * * *') or an interval ('300', '10m', '1h').",
)
@click.option("--timezone", default="UTC", show_default=True, help="The cron's time zone.")
@click.option("--queue", metavar="QUEUE", help="Notebooks and scripts: the deployment's queue.")
@click.option(
    "--deployment",
    "deployment_name",
    default="default",
    show_default=True,
    help="Notebooks and scripts: the deployment made or updated with the version.",
)
@capture_options
@api_errors
def register(
    file: str,
    name: str | None,
    flow_attr: str | None,
    project: str | None,
    cells: str | None,
    engine: str | None,
    schedule: str | None,
    timezone: str,
    queue: str | None,
    deployment_name: str,
    **environment: Any,
) -> None:
    """Register FILE: a notebook (.ipynb), a script, or a .py of @flow functions.

    A new version is made only when the content changed. A notebook or script is
    converted into tasks (one per cell, see `jupyter flows inspect`), stored, and given a
    deployment; the version and its DAG are printed. The environment (interpreter,
    packages, variables, hardware, the folder's files) is captured with it: a changed
    environment is a new version too (`jupyter flows spec diff`).
    """
    from jupyter_flows.notebooks import NotebookError, is_flow_module

    if file.endswith(".ipynb") or (file.endswith(".py") and not is_flow_module(file)):
        try:
            _register_notebook(
                file,
                name=name,
                project=project,
                cells=cells,
                engine=engine or "kernel",
                schedule=schedule,
                timezone=timezone,
                queue=queue,
                deployment_name=deployment_name,
                environment=environment,
            )
        except NotebookError as exc:
            raise CLIError(str(exc)) from None
        return
    for option, value in (("--cells", cells), ("--engine", engine), ("--schedule", schedule)):
        if value is not None:
            raise BadArgument(f"{option} is for notebooks and scripts, not a module of @flows")
    from jupyter_flows.spec.python_flows import FlowFileError, registration

    out = console()
    with out.status(f"Importing {file}…"):
        try:
            body = registration(file, flow=flow_attr, name=name, project=project)
        except FlowFileError as exc:
            raise CLIError(str(exc)) from None
    captured = capture(file, environment)
    if captured is not None:
        body["content"]["resource_spec"] = dict(captured.spec.document)
    # --credential (and secrets stored by capture): the runs receive these credentials
    # (their run config names them even when --no-env captures no ResourceSpec).
    credentials = tuple(environment.get("credentials") or ())
    if credentials:
        from jupyter_flows.cli.register import with_credentials

        body["content"] = with_credentials(body["content"], credentials)
    api = client()
    with out.status(f"Registering {body['name']!r} at {api.api_url}…"):
        result = api.register_flow(**body)
    version = result.version
    what = "registered as new version" if result.new else "unchanged: still version"
    out.print(
        f"Flow {body['name']!r} {what} {version.version_number} "
        f"(flow {version.flow_id}, version {version.id})"
    )


def _register_notebook(
    file: str,
    *,
    name: str | None,
    project: str | None,
    cells: str | None,
    engine: str,
    schedule: str | None,
    timezone: str,
    queue: str | None,
    deployment_name: str,
    environment: dict[str, Any],
) -> None:
    from jupyter_flows.cli.register import (
        ScheduleError,
        dag_lines,
        parse_schedule,
        register_notebook,
    )
    from jupyter_flows.notebooks.engines import NotebookRunError

    refs = parse_cells(cells) if cells is not None else None
    try:
        when = parse_schedule(schedule, timezone) if schedule is not None else None
    except ScheduleError as exc:
        raise BadArgument(str(exc)) from None
    out = console()
    api = client()
    captured = capture(file, environment)
    credentials = tuple(environment.get("credentials") or ())
    with out.status(f"Registering {file} at {api.api_url}…"):
        try:
            done = register_notebook(
                api,
                file,
                cells=refs,
                engine=engine,
                name=name,
                project=project,
                schedule=when,
                queue=queue,
                deployment=deployment_name,
                credentials=credentials,
                resource_spec=dict(captured.spec.document) if captured else None,
            )
        except NotebookRunError as exc:
            raise CLIError(str(exc)) from None
    from rich.text import Text

    version, spec = done.version, done.spec
    flow_name = name or spec.name
    what = "registered as new version" if done.new else "unchanged: still version"
    out.print(
        f"Flow {flow_name!r} {what} {version.version_number} "
        f"(flow {version.flow_id}, version {version.id}), engine {engine}"
    )
    grid = table("TASK", "CELLS", "NEEDS")
    for row in dag_lines(spec):
        grid.add_row(*(Text(cell) for cell in row))
    out.print(grid)
    for warning in spec.warnings:
        out.print(Text(f"! {warning.message}", style="yellow"))
    d = done.deployment
    out.print(
        f"Deployment {d.name!r} ({d.id}): queue {d.work_queue or 'default'}, "
        f"schedule {_schedule_text(d)}"
    )


# ------------------------------------------------------------------ deployments


@click.group()
def deployment() -> None:
    """Deployments: a flow + default parameters + schedule + work queue."""


@deployment.command("create")
@click.argument("flow")
@click.argument("name")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A default parameter (JSON when it parses, else text). Repeatable.",
)
@click.option("--queue", "work_queue", metavar="QUEUE", help="Work queue (default: 'default').")
@click.option("--tag", "tags", multiple=True, help="A tag for its runs. Repeatable.")
@click.option("--interval", type=float, metavar="SECONDS", help="Run every SECONDS.")
@click.option("--cron", metavar="EXPR", help="Run on a cron schedule, e.g. '0 6 * * *'.")
@click.option("--timezone", default="UTC", show_default=True, help="The cron's time zone.")
@click.option(
    "--pin",
    "version_id",
    metavar="VERSION_ID",
    help="Always run this flow version (default: the latest).",
)
@click.option("--paused", is_flag=True, help="Create it paused (no scheduled runs).")
@json_option
@api_errors
def deployment_create(
    flow: str,
    name: str,
    params: tuple[str, ...],
    work_queue: str | None,
    tags: tuple[str, ...],
    interval: float | None,
    cron: str | None,
    timezone: str,
    version_id: str | None,
    paused: bool,
    as_json: bool,
) -> None:
    """Create deployment NAME of FLOW (a flow name or id)."""
    parameters = parse_params(params)
    if interval is not None and cron is not None:
        raise BadArgument("give --interval or --cron, not both")
    schedule: dict[str, Any] | None = None
    if interval is not None:
        schedule = {"interval_seconds": interval}
    elif cron is not None:
        schedule = {"cron": cron, "timezone": timezone}
    api = client()
    group = resolve_flow(api, flow)
    created = api.create_deployment(
        group.id,
        name,
        parameters=parameters,
        work_queue=work_queue,
        tags=tags,
        paused=paused,
        schedule=schedule,
        version_policy="pinned" if version_id else "latest",
        version_id=version_id,
    )
    if as_json:
        print_json(created)
        return
    console().print(f"Created deployment {group.name}/{created.name} ({created.id})")


def _schedule_text(d: Deployment) -> str:
    if not d.schedule:
        return "-"
    if d.schedule.get("cron"):
        return f"cron {d.schedule['cron']} {d.schedule.get('timezone', 'UTC')}"
    if d.schedule.get("interval_seconds"):
        return f"every {d.schedule['interval_seconds']:g}s"
    return "-"


@deployment.command("ls")
@click.option("--flow", help="Only this flow's deployments (name or id).")
@json_option
@api_errors
def deployment_ls(flow: str | None, as_json: bool) -> None:
    """List deployments."""
    api = client()
    flow_id = resolve_flow(api, flow).id if flow else None
    items = list(api.iterate(api.list_deployments, flow_id=flow_id))
    if as_json:
        print_json(items)
        return
    names = {f.id: f.name for f in api.iterate(api.list_flows)}
    grid = table("ID", "NAME", "FLOW", "QUEUE", "SCHEDULE", "PAUSED", "PARAMETERS")
    for d in items:
        grid.add_row(
            d.id,
            d.name,
            names.get(d.flow_id, d.flow_id),
            d.work_queue or "-",
            _schedule_text(d),
            "yes" if d.paused else "no",
            ", ".join(f"{k}={v!r}" for k, v in d.parameters.items()) or "-",
        )
    console().print(grid if items else "No deployments.")


@deployment.command("pause")
@click.argument("ref", metavar="DEPLOYMENT")
@api_errors
def deployment_pause(ref: str) -> None:
    """Pause a deployment (its future scheduled runs are removed)."""
    api = client()
    paused = api.pause_deployment(resolve_deployment(api, ref).id)
    console().print(f"Paused deployment {paused.name} ({paused.id})")


@deployment.command("resume")
@click.argument("ref", metavar="DEPLOYMENT")
@api_errors
def deployment_resume(ref: str) -> None:
    """Resume a paused deployment."""
    api = client()
    resumed = api.resume_deployment(resolve_deployment(api, ref).id)
    console().print(f"Resumed deployment {resumed.name} ({resumed.id})")


@deployment.command("delete")
@click.argument("ref", metavar="DEPLOYMENT")
@api_errors
def deployment_delete(ref: str) -> None:
    """Delete a deployment."""
    api = client()
    found = resolve_deployment(api, ref)
    api.delete_deployment(found.id)
    console().print(f"Deleted deployment {found.name} ({found.id})")


# ------------------------------------------------------------------ run


@click.command()
@click.argument("ref", metavar="DEPLOYMENT")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter (JSON when it parses, else text). Repeatable.",
)
@click.option("--tag", "tags", multiple=True, help="A tag for this run. Repeatable.")
@click.option(
    "--watch", is_flag=True, help="Show the run live; exit 0 if it completes, 1 otherwise."
)
@api_errors
def run(ref: str, params: tuple[str, ...], tags: tuple[str, ...], watch: bool) -> None:
    """Start a run of DEPLOYMENT (its id, FLOW/NAME, or its name when unique)."""
    parameters = parse_params(params)
    api = client()
    found = resolve_deployment(api, ref)
    out = console()
    # Piped, --watch prints every state from the event stream: open it before the run exists.
    events = open_events(api, found.flow_id) if watch and not out.is_terminal else None
    try:
        created = api.run_deployment(found.id, parameters, tags=tags or None, trigger="cli")
        out.print(
            f"Created flow run {created.name} ({created.id}) of deployment {found.name}, state ",
            state_text(created.state),
            sep="",
        )
        if not watch:
            return
        ended = watch_run(api, created.id, events)
    finally:
        if events is not None:
            events.close()
    assert ended.state is not None
    out.print(f"Flow run {ended.name} ended ", state_text(ended.state), sep="")
    if any(a.type == "notebook" for a in api.iterate(api.list_artifacts, ended.id)):
        out.print(f"Its executed notebook: jupyter flows artifacts {ended.id} --save .")
    if ended.state.type != "COMPLETED":
        raise click.exceptions.Exit(1)
