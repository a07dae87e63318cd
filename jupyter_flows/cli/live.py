"""Live views: one run and its task runs until the run ends (``run --watch``).

On a terminal the view redraws in place. Piped (a CI log, ``| tee``) each state change is
a line, read from the event stream: in the order the server applied them, every state
each task run went through (polling would show only what each poll happened to see).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.text import Text

from jupyter_flows.cli.common import STATE_STYLES, console, duration, state_text, table
from jupyter_flows.client import EventStream, FlowsAPIError, FlowsClient
from jupyter_flows.client_models import FINAL_STATE_TYPES, FlowRun, TaskRun

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


#: How long the piped view waits for an event before it asks whether the run has ended.
EVENT_WAIT_SECONDS = 5.0


def open_events(api: FlowsClient, flow_id: str) -> EventStream | None:
    """The flow's event stream, opened before its run is made so no state is missed; None
    when it cannot be (the piped view then polls)."""
    try:
        return api.events(flow_id=flow_id, timeout=EVENT_WAIT_SECONDS)
    except FlowsAPIError:
        return None


def watch_run(api: FlowsClient, run_id: str, events: EventStream | None = None) -> FlowRun:
    """Show the run until it reaches a final state; return it as it ended.

    On a terminal the view redraws in place. Piped, each state change is printed as a line
    (from ``events``, the flow's event stream opened before the run was made; else by
    polling), and the final view once at the end.
    """
    out = console()
    if not out.is_terminal:
        if events is not None:
            ended = _print_events(api, run_id, events)
            if ended is not None:
                return ended
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


def _print_events(api: FlowsClient, run_id: str, events: EventStream) -> FlowRun | None:
    """Print the run's states as the server applied them; None if the stream ended first."""
    out = console()
    labels = {run_id: "flow run"}

    def show(run: dict[str, Any], label: str, state: dict[str, Any] | None) -> None:
        labels[run["id"]] = f"{label} {run.get('name', '?')}"
        if state:
            _print_state(out, labels[run["id"]], state)

    while True:
        try:
            for event in events:
                kind = event.get("type")
                if kind == "flow_run" and event["flow_run"].get("id") == run_id:
                    show(event["flow_run"], "flow run", event["flow_run"].get("state"))
                elif kind == "task_run" and event["task_run"].get("flow_run_id") == run_id:
                    show(event["task_run"], "task run", event["task_run"].get("state"))
                elif kind == "state" and event.get("flow_run_id") == run_id:
                    run = event.get("run_id", "")
                    _print_state(out, labels.get(run, f"task run {run[-8:]}"), event["state"])
                    if run == run_id and event["state"].get("type") in FINAL_STATE_TYPES:
                        return _end(api, run_id)
                elif kind == "lagged":
                    out.print(f"[dim]({event.get('dropped')} events dropped: too slow)[/dim]")
            return None  # the server closed the stream
        except TimeoutError:  # quiet for a while: has the run ended unseen?
            run = api.get_flow_run(run_id)
            if run.state is not None and run.state.is_final:
                return _end(api, run_id)


def _print_state(out: Any, label: str, state: dict[str, Any]) -> None:
    at = state.get("timestamp")
    stamp = datetime.fromisoformat(at).astimezone() if at else datetime.now()
    name = state.get("name") or str(state.get("type", "?")).capitalize()
    shown = Text(name, style=STATE_STYLES.get(state.get("type", ""), ""))
    out.print(Text.assemble(f"{stamp.strftime('%H:%M:%S')} {label} ", shown))


def _end(api: FlowsClient, run_id: str) -> FlowRun:
    run, task_runs = _poll(api, run_id)
    console().print(render(run, task_runs))
    return run


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
