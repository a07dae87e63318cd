"""What the CLI's commands share: the client, errors as one line, tables, parsing."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jupyter_flows.client import FlowsAPIError, FlowsClient
from jupyter_flows.client_models import Deployment, FlowGroup, Model

F = TypeVar("F", bound=Callable[..., Any])

STATE_STYLES = {
    "COMPLETED": "green",
    "RUNNING": "blue",
    "RETRYING": "yellow",
    "PENDING": "cyan",
    "SCHEDULED": "dim",
    "CANCELLING": "yellow",
    "CANCELLED": "yellow",
    "FAILED": "red",
    "CRASHED": "red",
    "TIMED_OUT": "red",
}
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}
LEVEL_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}


class CLIError(click.ClickException):
    """One line on stderr (``Error: …``) and exit code 1."""


class BadArgument(CLIError):
    """A bad argument or option: one line on stderr and exit code 2."""

    exit_code = 2


def console() -> Console:
    """Rich output on stdout; wide when piped, so ids are never cut."""
    terminal = sys.stdout.isatty()
    return Console(width=None if terminal else 200, highlight=False, soft_wrap=not terminal)


def client(ctx: click.Context | None = None) -> FlowsClient:
    """The command's client, made once from the global options and the environment."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    root.ensure_object(dict)
    if "client" not in root.obj:
        options = root.obj.get("options", {})
        try:
            made = FlowsClient(options.get("url"), options.get("api_key"), options.get("token"))
        except ValueError as exc:
            raise BadArgument(str(exc)) from None
        root.call_on_close(made.close)
        root.obj["client"] = made
    result: FlowsClient = root.obj["client"]
    return result


def api_errors(fn: F) -> F:
    """Turn the client's errors into one clear line and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FlowsAPIError as exc:
            raise CLIError(exc.message) from None
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def parse_params(pairs: Sequence[str], option: str = "-p") -> dict[str, Any]:
    """``name=value`` pairs; a value is JSON when it parses (``3``, ``[1]``), else text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise BadArgument(f"bad {option} {pair!r}: expected NAME=VALUE, e.g. {option} n=3")
        try:
            params[name] = json.loads(raw)
        except ValueError:
            params[name] = raw
    return params


def parse_cells(text: str) -> list[int | str]:
    """``3,5-7,a1b2c3`` → ``[3, 5, 6, 7, "a1b2c3"]`` (indices from 0, or cell ids)."""
    refs: list[int | str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if dash and first.isdigit() and last.isdigit():
            if int(last) < int(first):
                raise click.BadParameter(f"{part!r}: a range runs from low to high")
            refs.extend(range(int(first), int(last) + 1))
        elif part.isdigit():
            refs.append(int(part))
        else:
            refs.append(part)
    if not refs:
        raise click.BadParameter("name at least one cell")
    return refs


def state_types(value: str | None) -> list[str] | None:
    """``failed,crashed`` or ``TimedOut`` → the wire's state types."""
    if not value:
        return None
    known = set(STATE_STYLES)
    types = []
    for part in value.split(","):
        word = part.strip()
        kind = "TIMED_OUT" if word.replace("_", "").upper() == "TIMEDOUT" else word.upper()
        if kind not in known:
            raise BadArgument(f"unknown state {word!r}; states are: {', '.join(sorted(known))}")
        types.append(kind)
    return types


def level_number(value: str | None) -> int | None:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    if value.upper() in LEVELS:
        return LEVELS[value.upper()]
    raise BadArgument(f"unknown log level {value!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL")


# ------------------------------------------------------------------ looking things up by name

#: Ids are UUIDs; anything else is a name, looked up with a list filter, so that a name is
#: never first tried as an id (a 404 in the server's log for every lookup by name).
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
#: How a person registers a flow, in a terminal (the magic says ``%flow register``).
REGISTER_HINT = "jupyter flows register FILE.py"


def counted(number: int, noun: str) -> str:
    """``1 edge``, ``2 edges``: a count with its noun (plural by ``s``)."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def notebook_engine(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback: ``value`` names a registered notebook engine (kernel, tasks, or one
    another package adds), else the error lists those there are."""
    from jupyter_flows.notebooks.engines import NOTEBOOK_ENGINES

    if value is not None and value not in NOTEBOOK_ENGINES:
        known = ", ".join(NOTEBOOK_ENGINES.names())
        raise click.BadParameter(f"no notebook engine {value!r}; there are: {known}")
    return value


def looks_like_id(ref: str) -> bool:
    return bool(_ID.match(ref))


def _by_id(get: Callable[[str], Any], ref: str) -> Any:
    """``get(ref)`` when ``ref`` is an id, else None; None too for an id that is not found."""
    if not looks_like_id(ref):
        return None
    try:
        return get(ref)
    except FlowsAPIError as exc:
        if exc.status != 404:
            raise
    return None


def resolve_flow(api: FlowsClient, ref: str, *, register_hint: str = REGISTER_HINT) -> FlowGroup:
    """A flow by id or by name (in any project; ``project/name`` to choose)."""
    found: FlowGroup | None = _by_id(api.get_flow, ref)
    if found is not None:
        return found
    project, _, name = ref.rpartition("/")
    matches = list(api.iterate(api.list_flows, name=name, project=project or None))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CLIError(f"no flow {ref!r}: register it first ({register_hint})")
    raise CLIError(f"several flows are named {name!r}: use PROJECT/{name} or the flow's id")


def resolve_deployment(
    api: FlowsClient, ref: str, *, register_hint: str = REGISTER_HINT
) -> Deployment:
    """A deployment by id, by ``FLOW/DEPLOYMENT`` or by its name alone when unique."""
    if "/" in ref:
        flow_ref, _, name = ref.rpartition("/")
        flow = resolve_flow(api, flow_ref, register_hint=register_hint)
        for deployment in api.iterate(api.list_deployments, flow_id=flow.id):
            if deployment.name == name:
                return deployment
        raise CLIError(f"flow {flow.name!r} has no deployment named {name!r}")
    found: Deployment | None = _by_id(api.get_deployment, ref)
    if found is not None:
        return found
    matches = [d for d in api.iterate(api.list_deployments) if d.name == ref]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CLIError(f"no deployment {ref!r} (give its id or FLOW/NAME)")
    raise CLIError(f"several deployments are named {ref!r}: use FLOW/{ref} or the id")


def no_log_lines(
    api: FlowsClient,
    run_id: str,
    minimum: int | None = None,
    search: str | None = None,
    task_run_id: str | None = None,
) -> str:
    """Why nothing was printed: ``no log lines at warning or above (12 lines in all)``."""
    total = api.get_flow_run_logs(run_id, limit=1).total
    if not total:
        return f"no log lines for flow run {run_id} yet"
    what = []
    if minimum is not None:
        what.append(f"at {LEVEL_NAMES.get(minimum, str(minimum)).lower()} or above")
    if search:
        what.append(f"containing {search!r}")
    if task_run_id:
        what.append(f"of task run {task_run_id}")
    lines = "line" if total == 1 else "lines"
    return f"no log lines {' '.join(what) or 'yet'} ({total} {lines} in all)"


# ------------------------------------------------------------------ output


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON, not a table.")(fn)


def print_json(items: Iterable[Model] | Model) -> None:
    if isinstance(items, Model):
        data: Any = items.model_dump(mode="json")
    else:
        data = [item.model_dump(mode="json") for item in items]
    click.echo(json.dumps(data, indent=2))


def table(*columns: str, title: str | None = None) -> Table:
    grid = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for column in columns:
        grid.add_column(column, no_wrap=column in ("ID", "NAME", "STATE"))
    return grid


def state_text(state: Any) -> Text:
    if state is None:
        return Text("-", style="dim")
    return Text(state.name, style=STATE_STYLES.get(state.type, ""))


def when(value: datetime | None) -> str:
    """A UTC time from the API, shown in local time."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
