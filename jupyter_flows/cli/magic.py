"""The ``%flow`` magic: register, run and follow flows from the notebook itself.

``%load_ext jupyter_flows`` registers it. Commands::

    %flow register [--cells 3,5-7] [--name N] [--engine kernel|tasks] [--schedule WHEN]
                   [--queue Q] [--deployment D] [--project P]
    %flow run NAME [-p x=1 …] [--wait] [--timeout S]
    %flow rerun RUN_ID [-p x=1 …] [--from-start] [--wait] [--timeout S]
    %flow runs NAME [--limit N]
    %flow logs RUN_ID [--level L]
    %%flow task NAME        (cell magic: run this cell as a task of an ad-hoc flow)

``%flow register`` registers the notebook this kernel belongs to. The kernel finds it
through its session: ``JPY_SESSION_NAME`` (which jupyter_server sets for the kernels it
starts), else the server's sessions API (the session whose kernel is this one). It must be
saved: a cell this kernel ran after the file was last written must be in the file, else the
notebook has changes that are not saved and nothing is registered. (Cells edited but not
run are not seen: what is saved is what is registered.)

``NAME`` is a deployment: ``FLOW/DEPLOYMENT``, a deployment name or id, or a flow's name
(its ``default`` deployment). Errors are one short line (IPython's UsageError), never a
traceback.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import posixpath
import shlex
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from jupyter_flows.engine.run_env import RunEnv
from jupyter_flows.engine.states import FINAL_TYPES


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, never SystemExit
        raise UsageError(f"%flow {self.prog.split()[-1]}: {message}")


def _parser(command: str) -> _Parser:
    return _Parser(prog=f"%flow {command}", add_help=False)


def _run_options(parser: _Parser, args: list[str]) -> tuple[argparse.Namespace, dict[str, Any]]:
    """``-p name=value …``, ``--wait`` and ``--timeout``, which starting a run shares with
    rerunning one, parsed with the command's own arguments."""
    from jupyter_flows.cli.common import parse_params

    parser.add_argument("-p", "--param", action="append", default=[])
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--timeout", type=float)
    options = parser.parse_args(args)
    try:
        return options, parse_params(options.param)
    except Exception as exc:
        raise UsageError(f"%flow {parser.prog.split()[-1]}: {_short(exc)}") from None


@magics_class
class FlowMagics(Magics):
    """``%flow`` and ``%%flow``."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        #: (time, source) of each cell run since the extension was loaded.
        self.ran: list[tuple[float, str]] = []
        shell.events.register("pre_run_cell", self._remember)

    def _remember(self, info: Any) -> None:
        source = getattr(info, "raw_cell", None)
        if source:
            self.ran.append((time.time(), source))
            del self.ran[:-500]

    @line_cell_magic
    def flow(self, line: str, cell: str | None = None) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%flow: {exc}") from None
        if not words:
            raise UsageError(
                "%flow needs a command: register, run NAME, rerun RUN_ID, runs NAME, "
                "logs RUN_ID (or %%flow task NAME on a cell)"
            )
        command, args = words[0], words[1:]
        handlers = {
            "register": self._register,
            "run": self._run,
            "rerun": self._rerun,
            "runs": self._runs,
            "logs": self._logs,
        }
        try:
            if command == "task":
                if cell is None:
                    raise UsageError("%%flow task NAME runs the cell below it: use two %%")
                return self._task(args, cell)
            if command not in handlers:
                raise UsageError(
                    f"%flow: unknown command {command!r}; commands: register, run, runs, logs, task"
                )
            if cell is not None:
                raise UsageError(f"%%flow {command}: use it as a line magic, %flow {command}")
            return handlers[command](args)
        except UsageError:
            raise
        except Exception as exc:  # a short message, never a traceback dump
            raise UsageError(f"%flow {command}: {_short(exc)}") from None

    # ---------------------------------------------------------------- register
    def _register(self, args: list[str]) -> None:
        from jupyter_flows.cli.common import counted, parse_cells
        from jupyter_flows.cli.register import dag_lines, parse_schedule, register_notebook
        from jupyter_flows.cli.spec import credential_name, store_secrets

        parser = _parser("register")
        parser.add_argument("--cells")
        parser.add_argument("--name")
        parser.add_argument("--engine", default="kernel")
        parser.add_argument("--schedule")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--queue")
        parser.add_argument("--deployment", default="default")
        parser.add_argument("--project")
        parser.add_argument("--credential", dest="credentials", action="append", default=[])
        parser.add_argument("--store-secrets", action="store_true")
        options = parser.parse_args(args)
        from jupyter_flows.notebooks.engines import NOTEBOOK_ENGINES

        if options.engine not in NOTEBOOK_ENGINES:
            known = ", ".join(NOTEBOOK_ENGINES.names())
            raise UsageError(
                f"%flow register: no notebook engine {options.engine!r}; there are: {known}"
            )
        try:
            cells = parse_cells(options.cells) if options.cells else None
        except Exception as exc:
            raise UsageError(f"%flow register: --cells: {_short(exc)}") from None
        schedule = parse_schedule(options.schedule, options.timezone) if options.schedule else None
        path = find_notebook_path()
        self.check_saved(path)
        from jupyter_flows.spec.capture import (
            build_spec,
            notebook_kernel_spec,
            probe_here,
            store_working_files,
        )

        # This kernel is the notebook's: its environment is the one to capture.
        files = store_working_files(os.path.dirname(os.path.abspath(path)))
        kernel_spec = notebook_kernel_spec(path)
        probe = probe_here()
        credentials = list(options.credentials)
        with _client() as api:
            if options.store_secrets:
                # The kernel holds the values: they go to the server, never into the spec.
                credentials += store_secrets(api, list(probe.get("dropped") or []), True)
            captured = build_spec(
                probe,
                kernel_spec=kernel_spec,
                working_files=files,
                source="kernel",
                credentials=credentials,
            )
            left = [v for v in captured.dropped_env if credential_name(v) not in credentials]
            if left:
                print(
                    f"Left out of the environment (they look secret): {', '.join(left)}; "
                    "--store-secrets stores them as credentials the runs get"
                )
            done = register_notebook(
                api,
                path,
                cells=cells,
                engine=options.engine,
                name=options.name,
                project=options.project,
                schedule=schedule,
                queue=options.queue,
                deployment=options.deployment,
                credentials=credentials,
                resource_spec=dict(captured.spec.document),
            )
        spec, version = done.spec, done.version
        what = "new version" if done.new else "unchanged, version"
        print(
            f"Registered {options.name or spec.name!r} ({what} {version.version_number}, "
            f"engine {options.engine}): {counted(len(spec.tasks), 'task')}, "
            f"{counted(len(spec.edges), 'edge')}"
        )
        _print_table([("TASK", "CELLS", "NEEDS"), *dag_lines(spec)], indent="  ")
        for warning in spec.warnings:
            print(f"  ! {warning.message}")
        d = done.deployment
        print(f"Deployment {d.name!r}: queue {d.work_queue or 'default'}; run it with:")
        print(f"  %flow run {options.name or spec.name}/{d.name}")

    def check_saved(self, path: str) -> None:
        """Refuse a notebook with cells run after it was written that are not in it."""
        try:
            written = os.path.getmtime(path)
            saved = _code_sources(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise UsageError(f"%flow register: cannot read {path}: {_short(exc)}") from None
        for ran_at, source in reversed(self.ran):
            if ran_at <= written:
                break
            text = source.strip()
            if not text or text.startswith(("%flow", "%%flow", "%load_ext")):
                continue
            if text not in saved:
                when = datetime.fromtimestamp(ran_at).strftime("%H:%M:%S")
                raise UsageError(
                    f"%flow register: {Path(path).name} has changes that are not saved (the "
                    f"cell run at {when} is not in the file): save the notebook and run "
                    "%flow register again"
                )

    # ---------------------------------------------------------------- run, runs, logs
    def _run(self, args: list[str]) -> None:

        parser = _parser("run")
        parser.add_argument("name")
        options, parameters = _run_options(parser, args)
        with _client() as api:
            deployment = _deployment(api, options.name)
            run = api.run_deployment(deployment.id, parameters, trigger="magic")
            print(f"Flow run {run.name} ({run.id}) of {options.name}: {_state(run)}")
            if options.wait:
                run = _wait(api, run.id, options.timeout)
                _print_outcome(api, run)

    def _rerun(self, args: list[str]) -> None:
        from jupyter_flows.cli.register import request_rerun

        parser = _parser("rerun")
        parser.add_argument("run_id")
        parser.add_argument("--from-start", action="store_true")
        options, parameters = _run_options(parser, args)
        with _client() as api:
            run = request_rerun(
                api, options.run_id, parameters, from_failed=not options.from_start, trigger="magic"
            )
            how = "from the start" if options.from_start else "from its first failed cell"
            print(f"Flow run {run.name} ({run.id}) reruns {options.run_id} {how}: {_state(run)}")
            if options.wait:
                run = _wait(api, run.id, options.timeout)
                _print_outcome(api, run)

    def _runs(self, args: list[str]) -> None:
        parser = _parser("runs")
        parser.add_argument("name")
        parser.add_argument("--limit", type=int, default=10)
        options = parser.parse_args(args)
        with _client() as api:
            flow_id = _flow(api, options.name.split("/")[0]).id
            page = api.list_flow_runs(flow_id=flow_id, limit=options.limit)
            if not page.items:
                print(f"No runs of {options.name} yet.")
                return
            rows = [("RUN", "ID", "STATE", "STARTED", "DURATION")]
            for run in page.items:
                started = (
                    run.start_time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
                    if run.start_time
                    else "-"
                )
                duration = f"{run.total_run_time:.1f}s" if run.total_run_time else "-"
                rows.append((run.name, run.id, _state(run), started, duration))
            _print_table(rows)

    def _logs(self, args: list[str]) -> None:
        from jupyter_flows.cli.common import level_number, no_log_lines

        parser = _parser("logs")
        parser.add_argument("run_id")
        parser.add_argument("--level")
        options = parser.parse_args(args)
        minimum = level_number(options.level)
        with _client() as api:
            names = {t.id: t.name for t in api.iterate(api.list_task_runs, options.run_id)}
            lines = list(api.iterate(api.get_flow_run_logs, options.run_id, level=minimum))
            if not lines:
                said = no_log_lines(api, options.run_id, minimum)
                print(f"{said[0].upper()}{said[1:]}.")
        for line in lines:
            at = line.timestamp.astimezone().strftime("%H:%M:%S")
            level = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR"}.get(line.level, "")
            where = names.get(line.task_run_id or "", "flow")
            print(f"{at} {level:<7} {where}: {line.message}")

    # ---------------------------------------------------------------- %%flow task
    def _task(self, args: list[str], cell: str) -> Any:
        from jupyter_flows.engine.flow import Flow
        from jupyter_flows.engine.task import Task
        from jupyter_flows.notebooks.engines.tasks import echo_output

        parser = _parser("task")
        parser.add_argument("name")
        parser.add_argument("--flow", dest="flow_name")
        options = parser.parse_args(args)
        shell = self.shell
        source = shell.transform_cell(cell)
        tree = ast.parse(source)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        filename = f"<flow task {options.name}>"

        def run_cell() -> Any:
            with echo_output():
                exec(compile(tree, filename, "exec"), shell.user_ns)  # noqa: S102
                if last is not None:
                    return eval(compile(last, filename, "eval"), shell.user_ns)  # noqa: S307
            return None

        task: Task[..., Any] = Task(run_cell, name=options.name)
        task.task_key = f"cell:{options.name}"
        flow_name = options.flow_name or _default_flow_name()

        def adhoc() -> Any:
            return task()

        flow: Flow[..., Any] = Flow(adhoc, name=flow_name, validate_parameters=False)
        state = flow(return_state=True)
        if not state.is_completed():
            raise UsageError(f"task {options.name!r} ended {state.name}: {state.message}")
        return state.data


# ------------------------------------------------------------------ finding the notebook


def find_notebook_path() -> str:
    """The path of the notebook this kernel belongs to (see the module doc)."""
    named = os.environ.get("JPY_SESSION_NAME")
    if named and named.endswith(".ipynb"):
        if os.path.isabs(named) and os.path.exists(named):
            return named
        if os.path.exists(named):
            return os.path.abspath(named)
    found = _path_from_sessions()
    if found is not None:
        return found
    raise UsageError(
        "%flow register: cannot tell which notebook this kernel belongs to (no "
        "JPY_SESSION_NAME, and the server's sessions API does not know this kernel)"
    )


def _path_from_sessions() -> str | None:
    """The notebook of this kernel's session, on this machine."""
    path = _session_path()
    if path is None:
        return None
    for candidate in (path, os.path.join(os.getcwd(), os.path.basename(path))):
        if candidate and os.path.exists(candidate):
            return os.path.abspath(candidate)
    return None


def _session_path() -> str | None:
    """Ask the Jupyter server which session runs this kernel: its path below the root."""
    env = RunEnv.from_environ()
    url, token = env.api_url, env.api_token
    if not url:
        return None
    try:
        from ipykernel.connect import get_connection_file

        kernel_id = Path(get_connection_file()).stem.removeprefix("kernel-")
    except Exception:
        return None
    import httpx

    base = url.split("api/flows")[0]
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        sessions = httpx.get(f"{base}api/sessions", headers=headers, timeout=5).json()
    except Exception:
        return None
    for session in sessions if isinstance(sessions, list) else []:
        if (session.get("kernel") or {}).get("id") == kernel_id:
            return str(session.get("path") or "") or None
    return None


def _code_sources(notebook: dict[str, Any]) -> set[str]:
    sources = set()
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            text = cell.get("source", "")
            sources.add(("".join(text) if isinstance(text, list) else text).strip())
    return sources


def _default_flow_name() -> str:
    named = os.environ.get("JPY_SESSION_NAME")
    return Path(named).stem if named else "notebook"


# ------------------------------------------------------------------ the server


def _client() -> Any:
    from jupyter_flows.client import FlowsClient

    try:
        return FlowsClient()
    except ValueError as exc:
        raise UsageError(f"%flow: {exc}") from None


#: Where a notebook's flow is registered from (the CLI says ``jupyter flows register``).
REGISTER_HINT = "%flow register, in its notebook"


def _flow(api: Any, name: str) -> Any:
    from jupyter_flows.cli.common import CLIError, resolve_flow

    try:
        return resolve_flow(api, name, register_hint=REGISTER_HINT)
    except CLIError as exc:
        raise UsageError(f"%flow: {exc.message}") from None


def _deployment(api: Any, ref: str) -> Any:
    """A deployment as the CLI finds it, or a flow's name for its ``default`` deployment."""
    from jupyter_flows.cli.common import CLIError, looks_like_id, resolve_deployment

    refs = [ref] if "/" in ref or looks_like_id(ref) else [ref, f"{ref}/default"]
    last = ""
    for candidate in refs:
        try:
            return resolve_deployment(api, candidate, register_hint=REGISTER_HINT)
        except CLIError as exc:
            last = exc.message
    raise UsageError(f"%flow run: {last}")


def _state(run: Any) -> str:
    return run.state.name if run.state is not None else "no state"


def _wait(api: Any, run_id: str, timeout: float | None) -> Any:
    """Poll the run, showing one live status line, until it settles (or ``timeout``)."""
    from IPython.display import display

    handle = display(_status_text(api, run_id), display_id=True)
    deadline = time.monotonic() + timeout if timeout else None
    try:
        while True:
            run = api.get_flow_run(run_id)
            line = _status_text(api, run_id, run)
            if handle is not None:
                handle.update(line)
            if run.state is not None and run.state.type in FINAL_TYPES:
                return run
            if deadline is not None and time.monotonic() > deadline:
                waiting = f"; {run.pending_reason}" if getattr(run, "pending_reason", None) else ""
                raise UsageError(
                    f"%flow run: flow run {run.name} is still {_state(run)} after {timeout:g} s"
                    f"{waiting} (it goes on; %flow runs shows it)"
                )
            time.sleep(0.5)
    except KeyboardInterrupt:
        raise UsageError(
            "%flow run: stopped waiting; the run goes on (%flow runs shows it)"
        ) from None


def _status_text(api: Any, run_id: str, run: Any = None) -> Any:
    from IPython.display import Pretty

    run = run or api.get_flow_run(run_id)
    counts: dict[str, int] = {}
    for task in api.iterate(api.list_task_runs, run_id):
        name = task.state.name if task.state is not None else "Pending"
        counts[name] = counts.get(name, 0) + 1
    tasks = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no task runs yet"
    elapsed = ""
    if run.start_time is not None:
        end = run.end_time or datetime.now(timezone.utc)
        elapsed = f" {max(0.0, (end - run.start_time).total_seconds()):.1f}s"
    return Pretty(f"Flow run {run.name}: {_state(run)}{elapsed}; tasks: {tasks}")


def _print_outcome(api: Any, run: Any) -> None:
    state = run.state
    message = f": {state.message}" if state is not None and state.message else ""
    print(f"Flow run {run.name} ended {_state(run)}{message}")
    try:
        artifacts = list(api.iterate(api.list_artifacts, run.id))
    except Exception:
        artifacts = []
    notebooks = [a for a in artifacts if a.type == "notebook"]
    for artifact in artifacts:
        if artifact.type != "notebook":
            data = artifact.data
            print(f"  {artifact.type}: {data.get('path') or data.get('url') or data.get('uri')}")
    if notebooks:
        _show_executed_notebook(api, run, notebooks[-1])


def _show_executed_notebook(api: Any, run: Any, artifact: Any) -> None:
    """A link that opens the run's executed notebook in JupyterLab.

    The server writes it below its root, where the open-artifact command writes it; the
    link is relative to this notebook's folder, which JupyterLab opens in a tab. Where
    there is no such server (a team server's kernel), the command that saves it.
    """
    from IPython.display import display

    from jupyter_flows.client import FlowsAPIError

    here = _session_path()
    path = None
    if here is not None:
        with contextlib.suppress(FlowsAPIError):  # no contents manager, or no blob
            path = api.open_artifact(artifact.id)
    if here is None or path is None:
        name = artifact.data.get("name") or "."
        print(f"  Executed notebook: jupyter flows artifacts {run.id} --save {name}")
        return
    href = quote(posixpath.relpath(path, posixpath.dirname(here) or "."))
    text = f"Executed notebook: {path}"
    markdown = f"Executed notebook: [{path}]({href})"
    display({"text/markdown": markdown, "text/plain": text}, raw=True)  # type: ignore[no-untyped-call]


def _print_table(rows: list[tuple[str, ...]], indent: str = "") -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (str(text).ljust(width) for text, width in zip(row, widths, strict=True))
        print((indent + "  ".join(cells)).rstrip())


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(FlowMagics(ipython))
