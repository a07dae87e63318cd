"""`jupyter flows notify …` (destinations, policies, test, log) and `jupyter flows
automation …` (rules and their firings).

A destination's URL is a secret (a webhook's token, a mail password): it is read from a
hidden prompt or from stdin, never from the command line, like a credential's value.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from jupyter_flows.cli.common import (
    CLIError,
    api_errors,
    client,
    console,
    json_option,
    resolve_deployment,
    resolve_flow,
    table,
    when,
)
from jupyter_flows.cli.credentials import _read_value

EVENTS = ("Failed", "Crashed", "TimedOut", "Completed", "Late", "Running")


def _when(value: str | None) -> str:
    return when(datetime.fromisoformat(value)) if value else "-"


@click.group("notify")
def notify() -> None:
    """Notifications: destinations (apprise URLs, stored encrypted), policies (which runs'
    events go where), a test message, and the log of every delivery attempt."""


@notify.command("add")
@click.argument("name")
@click.option("--replace", is_flag=True, help="Replace the URL of an existing destination.")
@api_errors
def notify_add(name: str, replace: bool) -> None:
    """Add destination NAME; its apprise URL (mailto://…, json://…, slack://…) comes from a
    hidden prompt, or from stdin when stdin is not a terminal."""
    url = _read_value(name).strip()
    if not url:
        raise click.UsageError("the URL is empty")
    made = client().create_notification_destination(name, url, replace=replace)
    console().print(f"Stored destination {made['name']} ({made['scheme']})")


@notify.command("policy")
@click.argument("name")
@click.option("--deployment", "deployment", metavar="DEPLOYMENT", help="FLOW/NAME or id.")
@click.option("--flow", "flow", metavar="FLOW", help="Every deployment of this flow.")
@click.option(
    "--on",
    "events",
    multiple=True,
    required=True,
    type=click.Choice(EVENTS),
    help="An event to notify (repeat the option for several).",
)
@click.option("--to", "destinations", multiple=True, required=True, help="A destination.")
@click.option("--cooldown", type=float, default=0.0, help="At most one message per S seconds.")
@click.option("--running-after", type=float, help='Seconds after which "Running" notifies.')
@click.option("--replace", is_flag=True, help="Replace an existing policy of this name.")
@api_errors
def notify_policy(
    name: str,
    deployment: str | None,
    flow: str | None,
    events: tuple[str, ...],
    destinations: tuple[str, ...],
    cooldown: float,
    running_after: float | None,
    replace: bool,
) -> None:
    """Add policy NAME: the events of a deployment's runs (or a flow's) that notify."""
    if (deployment is None) == (flow is None):
        raise click.UsageError("give --deployment or --flow (one of them)")
    api = client()
    body: dict[str, Any] = {
        "name": name,
        "events": list(events),
        "destinations": list(destinations),
        "cooldown_seconds": cooldown,
        "running_after_seconds": running_after,
        "replace": replace,
    }
    if deployment is not None:
        body["deployment_id"] = resolve_deployment(api, deployment).id
    else:
        body["flow_id"] = resolve_flow(api, flow or "").id
    made = api.create_notification_policy(**body)
    console().print(
        f"Policy {made['name']}: {', '.join(made['events'])} → {', '.join(made['destinations'])}"
    )


@notify.command("ls")
@json_option
@api_errors
def notify_ls(as_json: bool) -> None:
    """List destinations (never their URLs) and policies."""
    api = client()
    destinations = api.list_notification_destinations()["items"]
    policies = api.list_notification_policies()["items"]
    if as_json:
        click.echo(json.dumps({"destinations": destinations, "policies": policies}, indent=2))
        return
    out = console()
    grid = table("DESTINATION", "KIND", "STATUS", "FAILURES", "LAST ERROR")
    for d in destinations:
        status = "dead since " + _when(d["dead_since"]) if d["status"] == "dead" else "ok"
        grid.add_row(
            d["name"], d["scheme"], status, str(d["consecutive_failures"]), d["last_error"] or ""
        )
    out.print(grid if destinations else "No destinations (add one: jupyter flows notify add).")
    grid = table("POLICY", "FOR", "EVENTS", "TO", "COOL-DOWN")
    for p in policies:
        target = f"deployment {p['deployment']}" if p["deployment_id"] else f"flow {p['flow_id']}"
        grid.add_row(
            p["name"],
            target,
            ", ".join(p["events"]),
            ", ".join(p["destinations"]),
            f"{p['cooldown_seconds']:g} s" if p["cooldown_seconds"] else "-",
        )
    out.print(grid if policies else "No policies.")


@notify.command("test")
@click.argument("name")
@api_errors
def notify_test(name: str) -> None:
    """Send a test message to destination NAME now (a success revives a dead one)."""
    result = client().test_notification_destination(name)
    if not result["ok"]:
        raise CLIError(f"the test to {name} failed: {result['error']}")
    console().print(f"Sent a test to {name}")


@notify.command("log")
@click.option("--destination", help="Only the attempts to this destination.")
@click.option("--run", "flow_run_id", help="Only the attempts about this flow run.")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@api_errors
def notify_log(destination: str | None, flow_run_id: str | None, limit: int, as_json: bool) -> None:
    """Every try to send a notification (and every test), newest first."""
    page = client().list_notification_attempts(
        destination=destination, flow_run_id=flow_run_id, limit=limit
    )
    items = page["items"]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    grid = table("WHEN", "DESTINATION", "EVENT", "RUN", "TRY", "OUTCOME")
    for a in items:
        delivery = a["delivery"] or {}
        outcome = "sent" if a["ok"] else f"failed: {a['error']}"
        if not a["ok"] and delivery.get("status") == "pending":
            outcome += f" (next try {_when(delivery.get('next_attempt_at'))})"
        grid.add_row(
            _when(a["started_at"]),
            a["destination"],
            delivery.get("event", "test"),
            (delivery.get("flow_run_id") or "-")[-12:],
            str(a["attempt"]),
            outcome,
        )
    console().print(grid if items else "No delivery attempts yet.")


@notify.command("rm")
@click.argument("name")
@click.option("--policy", is_flag=True, help="NAME is a policy, not a destination.")
@api_errors
def notify_rm(name: str, policy: bool) -> None:
    """Delete destination NAME (with its stored URL), or policy NAME with --policy."""
    api = client()
    if policy:
        api.delete_notification_policy(name)
        console().print(f"Deleted policy {name}")
    else:
        api.delete_notification_destination(name)
        console().print(f"Deleted destination {name}")


# ------------------------------------------------------------------ automations


@click.group("automation")
def automation() -> None:
    """Automations: "when EVENT then ACTION" on a deployment's runs, evaluated by the
    server; each firing is recorded."""


def _json_arg(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint=what) from None
    if not isinstance(value, dict):
        raise click.BadParameter("a JSON object", param_hint=what)
    return value


@automation.command("add")
@click.argument("name")
@click.argument("deployment")
@click.option(
    "--when",
    "trigger",
    required=True,
    help='JSON: {"event": "state", "states": ["Failed"]}, {"event": '
    '"consecutive_failures", "count": 3} or {"event": "late"}.',
)
@click.option(
    "--then",
    "action",
    required=True,
    help='JSON: {"type": "pause"}, {"type": "cancel"}, {"type": "notify", "destinations": '
    '[…]} or {"type": "run_deployment", "deployment": "FLOW/NAME", "parameters": {…}}.',
)
@click.option("--replace", is_flag=True, help="Replace an existing automation of this name.")
@api_errors
def automation_add(name: str, deployment: str, trigger: str, action: str, replace: bool) -> None:
    """Add automation NAME on DEPLOYMENT (FLOW/NAME or id)."""
    api = client()
    then = _json_arg(action, "--then")
    if "deployment" in then:  # a name for people; the server wants the id
        then["deployment_id"] = resolve_deployment(api, then.pop("deployment")).id
    made = api.create_automation(
        name=name,
        deployment_id=resolve_deployment(api, deployment).id,
        trigger=_json_arg(trigger, "--when"),
        action=then,
        replace=replace,
    )
    console().print(f"Automation {made['name']} added")


@automation.command("ls")
@json_option
@api_errors
def automation_ls(as_json: bool) -> None:
    """List automations."""
    items = client().list_automations()["items"]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    grid = table("AUTOMATION", "WHEN", "THEN", "LAST FIRED")
    for a in items:
        grid.add_row(
            a["name"],
            json.dumps(a["trigger"]),
            json.dumps(a["action"]),
            _when(a["last_fired_at"]),
        )
    console().print(grid if items else "No automations.")


@automation.command("log")
@click.option("--automation", "name", help="Only this automation's firings.")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@api_errors
def automation_log(name: str | None, limit: int, as_json: bool) -> None:
    """Each time an automation fired, and what its action did."""
    items = client().list_automation_firings(automation=name, limit=limit)["items"]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    grid = table("WHEN", "AUTOMATION", "RUN", "OK", "RESULT")
    for f in items:
        grid.add_row(
            _when(f["fired_at"]),
            f["automation"],
            (f["flow_run_id"] or "-")[-12:],
            "yes" if f["ok"] else "no",
            json.dumps(f["result"]),
        )
    console().print(grid if items else "No firings yet.")


@automation.command("rm")
@click.argument("name")
@api_errors
def automation_rm(name: str) -> None:
    """Delete automation NAME."""
    client().delete_automation(name)
    console().print(f"Deleted automation {name}")
