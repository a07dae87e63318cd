"""Live views: one run and its task runs until the run ends (``run --watch``)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from rich.console import Group
from rich.live import Live
from rich.text import Text

from jupyter_flows.cli.common import console, duration, state_text, table
from jupyter_flows.client import FlowsAPIError, FlowsClient
from jupyter_flows.client_models import FlowRun, TaskRun

POLL_SECONDS = 0.5


def render(run: FlowRun, task_runs: list[TaskRun], waiting: str | None = None) -> Group:
    head = Text.assemble(
        ("Flow run ", "bold"),
        (run.name, "bold"),
        f" ({run.id}) ",
        state_text(run.state),
    )
    if run.state is not None and run.state.message:
        head.append(f": {run.state.message}", style="dim")
    if waiting:
        head.append(f" (waiting: {waiting})", style="yellow")
    grid = table("TASK RUN", "STATE", "TRIES", "DURATION")
    for task_run in sorted(task_runs, key=lambda t: (t.start_time is None, t.start_time, t.name)):
        grid.add_row(
            task_run.name,
            state_text(task_run.state),
            str(task_run.run_count),
            duration(_ran_for(task_run)),
        )
    done = sum(1 for t in task_runs if t.state is not None and t.state.is_final)
    foot = Text(f"{done}/{len(task_runs)} task runs finished", style="dim")
    return Group(head, grid, foot) if task_runs else Group(head, foot)


def _ran_for(run: TaskRun) -> float | None:
    """Seconds spent running, counting the current attempt while it runs."""
    seconds = run.total_run_time or 0.0
    state = run.state
    if state is not None and state.type == "RUNNING" and state.timestamp is not None:
        seconds += max(0.0, (datetime.now(timezone.utc) - state.timestamp).total_seconds())
    return seconds


def _pending_reason(api: FlowsClient, run: FlowRun) -> str | None:
    """Why a due Scheduled run waits, from its work queue's preview (None if unknown)."""
    if run.state is None or run.state.type != "SCHEDULED" or not run.work_queue:
        return None
    try:
        queued = api.preview_work_queue(run.work_queue)
    except FlowsAPIError:  # e.g. an agent key may not read queues
        return None
    return next((q.pending_reason for q in queued if q.id == run.id), None)


def watch_run(api: FlowsClient, run_id: str) -> FlowRun:
    """Show the run until it reaches a final state; return it as it ended.

    On a terminal the view redraws in place. Piped (a CI log, ``| tee``), a redrawn view
    would only show at the end, so each state change is printed as a line instead, and the
    final view once at the end.
    """
    out = console()
    if not out.is_terminal:
        return _print_changes(api, run_id)
    run = api.get_flow_run(run_id)
    task_runs: list[TaskRun] = []
    with Live(render(run, task_runs), console=out, refresh_per_second=4) as live:
        while True:
            run, task_runs = _poll(api, run_id)
            live.update(render(run, task_runs, _pending_reason(api, run)))
            if run.state is not None and run.state.is_final:
                return run
            time.sleep(POLL_SECONDS)


def _poll(api: FlowsClient, run_id: str) -> tuple[FlowRun, list[TaskRun]]:
    return api.get_flow_run(run_id), list(api.iterate(api.list_task_runs, run_id))


def _print_changes(api: FlowsClient, run_id: str) -> FlowRun:
    out = console()
    last: dict[str, str | None] = {}
    while True:
        run, task_runs = _poll(api, run_id)
        for key, label, state in [
            (run.id, f"flow run {run.name}", run.state),
            *((t.id, f"task run {t.name}", t.state) for t in task_runs),
        ]:
            name = state.name if state is not None else None
            if last.get(key, "") != name:
                last[key] = name
                stamp = datetime.now().strftime("%H:%M:%S")
                out.print(Text.assemble(f"{stamp} {label} ", state_text(state)))
        if run.state is not None and run.state.is_final:
            out.print(render(run, task_runs))
            return run
        time.sleep(POLL_SECONDS)
