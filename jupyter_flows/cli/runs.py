"""Flow runs: ``runs ls``, ``runs prune``, ``logs``, ``cancel``, ``artifacts`` and ``watch``
(the event stream)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from jupyter_flows.cli.common import (
    LEVEL_NAMES,
    STATE_STYLES,
    CLIError,
    api_errors,
    client,
    console,
    duration,
    json_option,
    level_number,
    no_log_lines,
    print_json,
    resolve_deployment,
    resolve_flow,
    state_text,
    state_types,
    table,
    when,
)
from jupyter_flows.client import FlowsClient
from jupyter_flows.client_models import LogLine

FOLLOW_POLL_SECONDS = 0.5
#: A followed log re-reads this many lines back, for lines that arrive late (out of order).
FOLLOW_OVERLAP = 200


@click.group()
def runs() -> None:
    """Flow runs."""


@runs.command("ls")
@click.option("--flow", help="Only runs of this flow (name or id).")
@click.option("--state", help="Only runs in these states, e.g. failed,crashed.")
@click.option("--tag", help="Only runs with this tag.")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@json_option
@api_errors
def runs_ls(
    flow: str | None, state: str | None, tag: str | None, limit: int, as_json: bool
) -> None:
    """List flow runs, newest first."""
    types = state_types(state)
    api = client()
    flow_id = resolve_flow(api, flow).id if flow else None
    page = api.list_flow_runs(flow_id=flow_id, state=types, tag=tag, limit=limit)
    if as_json:
        print_json(page.items)
        return
    grid = table("ID", "NAME", "FLOW", "STATE", "STARTED", "DURATION")
    for r in page.items:
        grid.add_row(
            r.id,
            r.name,
            r.flow_name or "-",
            state_text(r.state),
            when(r.start_time or r.expected_start_time),
            duration(r.total_run_time) if r.start_time else "-",
        )
    out = console()
    if not page.items:
        out.print("No flow runs.")
        return
    out.print(grid)
    if page.total > len(page.items):
        out.print(f"[dim]{len(page.items)} of {page.total}; --limit shows more[/dim]")


@runs.command("prune")
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option("--deployment", "deployment_ref", help="Only this deployment's runs (FLOW/NAME).")
@json_option
@api_errors
def runs_prune(dry_run: bool, deployment_ref: str | None, as_json: bool) -> None:
    """Delete the finished runs the retention settings let go, now.

    Each deployment keeps what its own retention says, else the server's default; their
    task runs, states, logs, artifacts and the blobs nothing else names go with them.
    """
    api = client()
    deployment_id = resolve_deployment(api, deployment_ref).id if deployment_ref else None
    result = api.prune_runs(dry_run=dry_run, deployment_id=deployment_id, limit=100_000)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    out = console()
    if dry_run:
        out.print(
            f"Would delete {result['runs']} runs and {result['blobs']} blobs"
            " (nothing deleted: --dry-run)."
        )
        for run_id in result.get("run_ids", [])[:20]:
            out.print(f"  {run_id}")
        if result["runs"] > 20:
            out.print(f"  [dim]… and {result['runs'] - 20} more (--json lists them)[/dim]")
        return
    out.print(
        f"Deleted {result['runs']} runs ({result.get('task_runs', 0)} task runs,"
        f" {result.get('log_lines', 0)} log lines, {result.get('artifacts', 0)} artifacts)"
        f" and {result['blobs']} blobs."
    )


@click.command()
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run ends.")
@click.option("--level", help="The lowest level shown: DEBUG, INFO, WARNING, ERROR.")
@click.option("--search", help="Only lines containing this text (case-insensitive).")
@click.option("--task", "task_run_id", metavar="TASK_RUN_ID", help="Only this task run's lines.")
@api_errors
def logs(
    run_id: str, follow: bool, level: str | None, search: str | None, task_run_id: str | None
) -> None:
    """Print the log of flow run RUN_ID, oldest first."""
    minimum = level_number(level)
    api = client()
    run = api.get_flow_run(run_id)  # an unknown id fails here, with the server's message
    names = _task_names(api, run_id)
    seen: set[Any] = set()
    out = console()

    def fetch() -> int:
        """Print lines not yet seen; re-read a window back for lines that arrived late."""
        printed, offset = 0, max(0, len(seen) - FOLLOW_OVERLAP)
        while True:
            page = api.get_flow_run_logs(
                run_id, task_run_id=task_run_id, level=minimum, q=search, limit=500, offset=offset
            )
            for entry in page.items:
                key = entry.id if entry.id is not None else (entry.timestamp, entry.message)
                if key in seen:
                    continue
                seen.add(key)
                if entry.task_run_id and entry.task_run_id not in names:
                    names.update(_task_names(api, run_id))
                out.print(_log_text(entry, names))
                printed += 1
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return printed

    printed = fetch()
    if follow:
        with out.status("Following the log (Ctrl-C stops)…"):
            while not (run.state is not None and run.state.is_final):
                time.sleep(FOLLOW_POLL_SECONDS)
                run = api.get_flow_run(run_id)
                printed += fetch()
        printed += fetch()  # lines delivered after the final state
    if not printed:  # on stderr: what is piped stays log lines
        said = no_log_lines(api, run_id, minimum, search, task_run_id)
        click.echo(f"{said[0].upper()}{said[1:]}.", err=True)
    if follow:
        out.print(Text.assemble("Flow run ended ", state_text(run.state)))


def _task_names(api: FlowsClient, run_id: str) -> dict[str, str]:
    return {t.id: t.name for t in api.iterate(api.list_task_runs, run_id)}


def _log_text(entry: LogLine, names: dict[str, str]) -> Text:
    level = LEVEL_NAMES.get(entry.level, str(entry.level))
    style = "red" if entry.level >= 40 else "yellow" if entry.level >= 30 else ""
    stamp = entry.timestamp.astimezone().strftime("%H:%M:%S.%f")[:-3]
    source = names.get(entry.task_run_id or "", "flow") if entry.task_run_id else "flow"
    return Text.assemble(
        (stamp, "dim"),
        " | ",
        (f"{level:<7}", style),
        " | ",
        (source, "bold"),
        " - ",
        entry.message,
    )


@click.command()
@click.argument("run_id")
@api_errors
def cancel(run_id: str) -> None:
    """Cancel flow run RUN_ID (Scheduled/Pending end Cancelled; Running becomes Cancelling)."""
    api = client()
    api.cancel_flow_run(run_id)
    run = api.get_flow_run(run_id)
    console().print(Text.assemble(f"Flow run {run.name} ({run.id}) is ", state_text(run.state)))


@click.command()
@click.argument("run_id")
@click.option(
    "--save",
    "save_to",
    metavar="PATH",
    type=click.Path(dir_okay=True, path_type=Path),
    help="Write the run's executed notebook to PATH (a folder: under the artifact's name).",
)
@json_option
@api_errors
def artifacts(run_id: str, save_to: Path | None, as_json: bool) -> None:
    """List what flow run RUN_ID made, or save its executed notebook (--save)."""
    api = client()
    items = list(FlowsClient.iterate(api.list_artifacts, run_id))
    if save_to is not None:
        notebooks = [a for a in items if a.type == "notebook"]
        if not notebooks:
            raise CLIError(f"flow run {run_id} has no executed notebook")
        chosen = notebooks[-1]  # the newest
        target = save_to
        if target.is_dir():
            target = target / (chosen.data.get("name") or f"{run_id}.ipynb")
        content = api.artifact_content(chosen.id)
        target.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
        console().print(f"Saved the executed notebook of flow run {run_id} to {target}")
        return
    if as_json:
        print_json(items)
        return
    out = console()
    if not items:
        out.print("No artifacts.")
        return
    grid = table("ID", "TYPE", "KEY", "WHAT", "CREATED")
    for a in items:
        what = a.data.get("name") or a.data.get("path") or a.data.get("url") or a.description
        grid.add_row(a.id, a.type, a.key or "-", str(what or "-"), when(a.created))
    out.print(grid)


@click.command()
@click.option("--flow", help="Only events of this flow (name or id).")
@click.option("--run", "run_id", metavar="RUN_ID", help="Only events of this flow run.")
@api_errors
def watch(flow: str | None, run_id: str | None) -> None:
    """Print events as they happen: runs created, states, log lines (Ctrl-C stops)."""
    api = client()
    flow_id = resolve_flow(api, flow).id if flow else None
    out = console()
    names: dict[str, str] = {}
    with api.events(flow_id=flow_id, flow_run_id=run_id) as stream:
        out.print(f"[dim]Watching {api.api_url}events (Ctrl-C stops)…[/dim]")
        for event in stream:
            text = _event_text(event, names)
            if text is not None:
                out.print(text)


def _event_text(event: dict[str, Any], names: dict[str, str]) -> Text | None:
    kind = event.get("type")
    stamp = Text(datetime.now().strftime("%H:%M:%S"), style="dim")
    if kind in ("flow_run", "task_run"):
        run = event.get(kind) or {}
        names[run.get("id", "")] = run.get("name", "?")
        label = "flow run" if kind == "flow_run" else "task run"
        return Text.assemble(stamp, f" {label} created ", (run.get("name", "?"), "bold"))
    if kind == "state":
        state = event.get("state") or {}
        run_id = event.get("run_id", "")
        label = "flow run" if event.get("kind") == "flow_run" else "task run"
        style = STATE_STYLES.get(state.get("type", ""), "")
        return Text.assemble(
            stamp,
            f" {label} ",
            (names.get(run_id, run_id[-8:]), "bold"),
            " → ",
            (state.get("name") or state.get("type", "?"), style),
        )
    if kind == "log":
        line = event.get("log") or {}
        level = LEVEL_NAMES.get(line.get("level", 20), str(line.get("level")))
        run_id = line.get("task_run_id") or line.get("flow_run_id") or ""
        return Text.assemble(
            stamp,
            f" {level:<7} ",
            (names.get(run_id, run_id[-8:]), "bold"),
            " - ",
            str(line.get("message", "")),
        )
    return None
