"""Agents: ``agent start`` (run one here), ``agent ls``, ``agent logs``; and ``pending``."""

from __future__ import annotations

import click

from jupyter_flows.cli.common import (
    LEVEL_NAMES,
    api_errors,
    client,
    console,
    json_option,
    level_number,
    print_json,
    state_text,
    table,
    when,
)


@click.group()
def agent() -> None:
    """Agents: processes that claim runs from a work queue and run them."""


@agent.command("start")
@click.option("--queue", default="default", show_default=True, help="The work queue to serve.")
@click.option("--name", help="The agent's name (default: HOST-PID); a known name reconnects.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N runs at once.")
@click.option(
    "--infra",
    type=click.Choice(["local", "dask", "kubernetes"]),
    default="local",
    show_default=True,
    help="Where runs run: local processes, Dask, Kubernetes Jobs.",
)
@click.option(
    "--dask-address",
    metavar="ADDRESS",
    help="With --infra dask: run the tasks on this running scheduler (tcp://host:8786) "
    "instead of a LocalCluster per run.",
)
@click.option(
    "--heartbeat", type=float, default=10.0, show_default=True, help="Seconds between heartbeats."
)
@click.option(
    "--wait", type=float, default=10.0, show_default=True, help="Seconds each claim long-polls."
)
@click.option(
    "--grace",
    type=float,
    default=30.0,
    show_default=True,
    help="On SIGTERM, seconds running work may take to finish before it is stopped.",
)
@click.pass_context
def agent_start(
    ctx: click.Context,
    queue: str,
    name: str | None,
    limit: int | None,
    infra: str,
    dask_address: str | None,
    heartbeat: float,
    wait: float,
    grace: float,
) -> None:
    """Run an agent here until SIGTERM/Ctrl-C (a second one stops running work at once)."""
    from jupyter_flows.agent.agent import run_agent
    from jupyter_flows.agent.infra.base import infrastructure_from_name
    from jupyter_flows.client import FlowsAPIError

    if dask_address and infra != "dask":
        raise click.UsageError("--dask-address goes with --infra dask")
    options = ctx.find_root().obj.get("options", {})
    try:
        code = run_agent(
            queue=queue,
            name=name,
            limit=limit,
            infra=infrastructure_from_name("dask", address=dask_address) if dask_address else infra,
            url=options.get("url"),
            api_key=options.get("api_key"),
            token=options.get("token"),
            heartbeat=heartbeat,
            wait=wait,
            grace=grace,
        )
    except FlowsAPIError as exc:
        raise click.ClickException(exc.message) from None
    raise click.exceptions.Exit(code)


@agent.command("ls")
@json_option
@api_errors
def agent_ls(as_json: bool) -> None:
    """List agents: their queue, infrastructure, status, last heartbeat and runs in progress."""
    api = client()
    items = list(api.iterate(api.list_agents))
    if as_json:
        print_json(items)
        return
    grid = table("ID", "NAME", "QUEUE", "INFRASTRUCTURE", "STATUS", "LAST HEARTBEAT", "RUNNING")
    for a in items:
        grid.add_row(
            a.id,
            a.name,
            a.work_queue or "-",
            a.infrastructure or "-",
            a.status,
            when(a.last_heartbeat_at),
            str(a.running),
        )
    console().print(grid if items else "No agents.")


@agent.command("logs")
@click.argument("ref", metavar="AGENT")
@click.option("--level", help="The lowest level shown: DEBUG, INFO, WARNING, ERROR.")
@json_option
@api_errors
def agent_logs(ref: str, level: str | None, as_json: bool) -> None:
    """Show an agent's own log (AGENT: its id or name)."""
    api = client()
    agent_id = ref
    known = {a.name: a.id for a in api.iterate(api.list_agents)}
    if ref in known:
        agent_id = known[ref]
    lines = list(api.iterate(api.get_agent_logs, agent_id, level=level_number(level)))
    if as_json:
        print_json(lines)
        return
    out = console()
    for line in lines:
        out.print(
            f"{when(line.timestamp)} | {LEVEL_NAMES.get(line.level, line.level):<7} | "
            f"{line.message}",
            markup=False,
        )
    if not lines:
        out.print("No log lines.")


@click.command()
@click.argument("run_id")
@json_option
@api_errors
def pending(run_id: str, as_json: bool) -> None:
    """Say why a due run is not running yet (no agent, paused, concurrency, infrastructure)."""
    reason = client().get_pending_reason(run_id)
    if as_json:
        print_json(reason)
        return
    out = console()
    if not reason.due:
        out.print("Run ", run_id, " is not waiting (state ", state_text(reason.state), ")", sep="")
    else:
        out.print(f"Run {run_id} is due and waits: {reason.pending_reason}")
