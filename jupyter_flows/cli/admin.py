"""Work queues, API keys and the standalone server."""

from __future__ import annotations

import click
from rich.text import Text

from jupyter_flows.cli.common import (
    api_errors,
    client,
    console,
    json_option,
    print_json,
    state_text,
    table,
    when,
)


@click.group("work-queue")
def work_queue() -> None:
    """Work queues: where deployments' runs wait for an agent."""


@work_queue.command("create")
@click.argument("name")
@click.option("--tag", "tags", multiple=True, help="Only runs with this tag. Repeatable.")
@click.option("--concurrency-limit", type=int, help="At most this many runs at once.")
@click.option("--paused", is_flag=True, help="Create it paused.")
@json_option
@api_errors
def queue_create(
    name: str, tags: tuple[str, ...], concurrency_limit: int | None, paused: bool, as_json: bool
) -> None:
    """Create work queue NAME."""
    created = client().create_work_queue(
        name, tags=tags, concurrency_limit=concurrency_limit, paused=paused
    )
    if as_json:
        print_json(created)
        return
    console().print(f"Created work queue {created.name}")


@work_queue.command("ls")
@json_option
@api_errors
def queue_ls(as_json: bool) -> None:
    """List work queues."""
    api = client()
    items = list(api.iterate(api.list_work_queues))
    if as_json:
        print_json(items)
        return
    grid = table("NAME", "TAGS", "CONCURRENCY", "PAUSED")
    for q in items:
        limit = "-" if q.concurrency_limit is None else str(q.concurrency_limit)
        grid.add_row(q.name, ", ".join(q.tags) or "-", limit, "yes" if q.paused else "no")
    console().print(grid if items else "No work queues.")


@work_queue.command("pause")
@click.argument("name")
@api_errors
def queue_pause(name: str) -> None:
    """Pause work queue NAME: agents take no new runs from it."""
    client().pause_work_queue(name)
    console().print(f"Paused work queue {name}")


@work_queue.command("resume")
@click.argument("name")
@api_errors
def queue_resume(name: str) -> None:
    """Resume work queue NAME."""
    client().resume_work_queue(name)
    console().print(f"Resumed work queue {name}")


@work_queue.command("preview")
@click.argument("name")
@json_option
@api_errors
def queue_preview(name: str, as_json: bool) -> None:
    """Show the due and upcoming runs of work queue NAME, and why due ones wait."""
    items = client().preview_work_queue(name)
    if as_json:
        print_json(items)
        return
    grid = table("ID", "NAME", "FLOW", "STATE", "DUE", "WAITING BECAUSE")
    for r in items:
        grid.add_row(
            r.id,
            r.name,
            r.flow_name or "-",
            state_text(r.state),
            when(r.expected_start_time),
            r.pending_reason or "-",
        )
    console().print(grid if items else f"No runs in work queue {name}.")


# ------------------------------------------------------------------ API keys


@click.group("api-key")
def api_key() -> None:
    """API keys of a standalone server (user keys only)."""


@api_key.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["user", "agent"]),
    default="user",
    show_default=True,
    help="agent: may only claim, heartbeat and report runs.",
)
@json_option
@api_errors
def key_create(name: str, role: str, as_json: bool) -> None:
    """Create an API key; its token is shown this once."""
    created = client().create_api_key(name, role)
    if as_json:
        print_json(created)
        return
    out = console()
    out.print(f"Created {created.role} key {created.name} ({created.id}). Its token, shown once:")
    out.print(Text(created.token or "", style="bold"), soft_wrap=True)


@api_key.command("ls")
@json_option
@api_errors
def key_ls(as_json: bool) -> None:
    """List API keys (never their tokens)."""
    api = client()
    items = list(api.iterate(api.list_api_keys))
    if as_json:
        print_json(items)
        return
    grid = table("ID", "NAME", "ROLE", "CREATED")
    for k in items:
        grid.add_row(k.id, k.name, k.role, when(k.created))
    console().print(grid if items else "No API keys.")


@api_key.command("revoke")
@click.argument("key_id")
@api_errors
def key_revoke(key_id: str) -> None:
    """Revoke API key KEY_ID: it stops working at once."""
    client().delete_api_key(key_id)
    console().print(f"Revoked API key {key_id}")


# ------------------------------------------------------------------ server


@click.command()
@click.option("--ip", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8765, show_default=True, help="The port to listen on.")
@click.option(
    "--db",
    metavar="URL_OR_PATH",
    help="SQLAlchemy URL or SQLite file of the store (default: $JUPYTER_FLOWS_DB_URL, else "
    "a SQLite file in the Jupyter data dir).",
)
@click.option("--token", help="The server's own admin token (default: a random one).")
@click.option(
    "--create-key", metavar="NAME", help="Create a user API key NAME first and print its token."
)
@click.option("--base-url", default="/", show_default=True, help="URL prefix of every route.")
@click.option(
    "--max-body-bytes",
    type=int,
    help="The largest request body the server reads (default 10 MiB); 413 above.",
)
@click.option(
    "--reaper-threshold",
    type=float,
    help="Seconds a claimed attempt's lease lasts without a heartbeat; then its run is "
    "crashed (and retried if the flow allows). Default 60.",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    help="DEBUG, INFO, WARNING, ERROR or CRITICAL.",
)
def server(
    ip: str,
    port: int,
    db: str | None,
    token: str | None,
    create_key: str | None,
    base_url: str,
    max_body_bytes: int | None,
    reaper_threshold: float | None,
    log_level: str,
) -> None:
    """Start a standalone jupyter-flows server (the REST API alone, with API keys)."""
    from jupyter_flows.server import standalone

    argv = [f"--ip={ip}", f"--port={port}", f"--base-url={base_url}", f"--log-level={log_level}"]
    for flag, value in (
        ("--db", db),
        ("--token", token),
        ("--create-key", create_key),
        ("--max-body-bytes", max_body_bytes),
        ("--reaper-threshold", reaper_threshold),
    ):
        if value is not None and value != "":
            argv.append(f"{flag}={value}")
    raise click.exceptions.Exit(standalone.main(argv))
