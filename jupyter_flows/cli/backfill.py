"""``deployment backfill`` (past runs of a schedule, or one per value of a parameter) and
``deployment retention`` (how many finished runs a deployment keeps)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from jupyter_flows.cli.common import (
    BadArgument,
    api_errors,
    client,
    console,
    json_option,
    resolve_deployment,
    table,
)

PREVIEW_ROWS = 20


def _time(value: str, option: str) -> str:
    """An ISO 8601 time; one without a zone is read as UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadArgument(f"{option}: not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.now().astimezone().tzinfo).astimezone()
    return parsed.isoformat()


def _values(spec: str) -> tuple[str, list[Any]]:
    name, sep, raw = spec.partition("=")
    if not sep or not name.strip() or not raw:
        raise BadArgument(f"--each: expected NAME=V1,V2,…, got {spec!r}")
    values: list[Any] = []
    for text in raw.split(","):
        try:
            values.append(json.loads(text))
        except ValueError:
            values.append(text)
    return name.strip(), values


@click.command("backfill")
@click.argument("ref", metavar="DEPLOYMENT")
@click.option(
    "--start", metavar="TIME", help="The window's start (ISO 8601; local time if no zone)."
)
@click.option("--end", metavar="TIME", help="The window's end, included.")
@click.option(
    "--each",
    metavar="NAME=V1,V2,…",
    help="Instead of a window: one run per value of parameter NAME (JSON when it parses).",
)
@click.option(
    "--slot-parameter",
    metavar="NAME",
    help="The parameter that gets each run's slot time (default: scheduled_time, when the "
    "flow has it).",
)
@click.option("--max-concurrent", type=click.IntRange(min=1), help="Most runs unfinished at once.")
@click.option("--dry-run", is_flag=True, help="Only show the runs it would make.")
@click.option("--yes", "-y", is_flag=True, help="Make the runs without asking.")
@json_option
@api_errors
def backfill(
    ref: str,
    start: str | None,
    end: str | None,
    each: str | None,
    slot_parameter: str | None,
    max_concurrent: int | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Make the runs DEPLOYMENT's schedule would have made from --start to --end.

    Each slot is one run, however often you ask (a slot the scheduler ran is not run
    again); the preview comes first. `deployment backfill-cancel ID` stops the rest.
    """
    body: dict[str, Any] = {}
    if each is not None:
        if start or end:
            raise BadArgument("give either --start and --end, or --each")
        body["parameter"], body["values"] = _values(each)
    elif start and end:
        body["start"], body["end"] = _time(start, "--start"), _time(end, "--end")
    else:
        raise BadArgument("give --start and --end (or --each NAME=V1,V2,…)")
    if slot_parameter:
        body["slot_parameter"] = slot_parameter
    if max_concurrent:
        body["max_concurrent"] = max_concurrent
    api = client()
    deployment = resolve_deployment(api, ref)
    preview = api.create_backfill(deployment.id, {**body, "dry_run": True})
    out = console()
    if dry_run or not (as_json or yes):
        if as_json:
            click.echo(json.dumps(preview, indent=2))
            return
        _print_preview(preview, deployment.name)
        if dry_run or preview["new"] == 0:
            return
        if not click.confirm(f"Make {preview['new']} runs?", default=True):
            return
    made = api.create_backfill(deployment.id, body)
    if as_json:
        click.echo(json.dumps(made, indent=2))
        return
    out.print(
        f"Backfill {made['id']} of {deployment.name}: {made['total']} runs planned,"
        f" {made['runs']} made so far"
        + (f" (at most {made['max_concurrent']} at once)" if made["max_concurrent"] else "")
    )


def _print_preview(preview: dict[str, Any], name: str) -> None:
    out = console()
    grid = table("SLOT", "PARAMETERS", "")
    for item in preview["items"][:PREVIEW_ROWS]:
        params = ", ".join(f"{k}={json.dumps(v)}" for k, v in item["parameters"].items())
        grid.add_row(item["slot"] or "-", params, "exists" if item["exists"] else "new")
    out.print(grid)
    more = preview["total"] - PREVIEW_ROWS
    if more > 0:
        out.print(f"[dim]… and {more} more[/dim]")
    out.print(f"{name}: {preview['new']} new runs of {preview['total']}.")


@click.command("backfill-cancel")
@click.argument("backfill_id", metavar="ID")
@api_errors
def backfill_cancel(backfill_id: str) -> None:
    """Cancel a backfill: no more runs; its runs not finished are cancelled."""
    done = client().cancel_backfill(backfill_id)
    states = ", ".join(f"{n} {state.lower()}" for state, n in sorted(done["states"].items()))
    console().print(f"Cancelled backfill {done['id']} ({states or 'no runs'})")


@click.command("retention")
@click.argument("ref", metavar="DEPLOYMENT")
@click.option("--keep-runs", type=click.IntRange(min=0), help="Keep the last N finished runs.")
@click.option("--keep-days", type=click.FloatRange(min=0), help="Keep runs younger than D days.")
@click.option(
    "--keep-last-failure/--no-keep-last-failure",
    default=None,
    help="Always keep the last failed run.",
)
@click.option("--default", "use_default", is_flag=True, help="Follow the server's settings.")
@api_errors
def retention(
    ref: str,
    keep_runs: int | None,
    keep_days: float | None,
    keep_last_failure: bool | None,
    use_default: bool,
) -> None:
    """Show or set how many finished runs DEPLOYMENT keeps (unset: the server's default)."""
    api = client()
    found = resolve_deployment(api, ref)
    given = {
        "keep_runs": keep_runs,
        "keep_days": keep_days,
        "keep_last_failure": keep_last_failure,
    }
    if use_default:
        found = api.update_deployment(found.id, retention=None)
    elif any(value is not None for value in given.values()):
        current = dict(getattr(found, "retention", None) or {})
        merged = {**current, **{k: v for k, v in given.items() if v is not None}}
        found = api.update_deployment(found.id, retention=merged)
    settings = dict(getattr(found, "retention", None) or {})
    shown = ", ".join(
        f"{key}={'default' if settings.get(key) is None else settings[key]}" for key in given
    )
    console().print(f"{found.name}: {shown}")
