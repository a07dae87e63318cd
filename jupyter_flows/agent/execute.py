"""``python -m jupyter_flows.agent.execute RUN_ID``: run one claimed flow run in this process.

What the agent starts for each run (locally, in a Dask run's process, in a Kubernetes pod).
The agent hands it a :class:`~jupyter_flows.engine.run_env.RunEnv` in the environment; its
run document (:class:`~jupyter_flows.agent.run_document.RunDocument`: the run's name,
parameters, run config and flow version) comes with it, or is fetched from the server by
id when it was too large for the environment. Then it loads the flow by its kind
(``spec.flow_kind.kind_of``, as ``FlowSpec.from_content`` reads it):

- a notebook or script flow runs through ``notebooks.engines.execute_registered``;
- a module of ``@flow`` functions: its entrypoint ``path.py:function`` is imported (a
  relative path from the run config's ``working_dir``, else this process's working
  directory).

The flow runs as the claimed run itself (``run_flow(..., flow_run_id=RUN_ID)``): the
engine's HTTP reporter (the hand-off's API URL and key or token) reports its states, task
runs and logs into that run; the hand-off's ``run_process`` lets a timed-out flow end this
process, and its ``dask`` settings put the flow's tasks on a Dask cluster. If the flow
cannot even be loaded, the run is reported Failed with the reason. Exit code: 0 when the
run completed, 1 otherwise.

While the hand-off names the agent's pid, a watchdog ends this process (and its process
group: Dask workers) if that agent dies, so nothing keeps running a run whose agent is gone
(the server's reaper crashes and retries it).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

from jupyter_flows.agent.run_document import RunDocument
from jupyter_flows.engine.run_env import RunEnv
from jupyter_flows.spec.flow_kind import FlowKind


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jupyter_flows.agent.execute RUN_ID", file=sys.stderr)
        return 2
    run_id = args[0]
    handoff = RunEnv.take()  # the flow's code and its children do not see the hand-off
    _watch_agent(handoff.agent_pid)
    document = RunDocument.from_run_env(handoff) or _fetch(run_id)
    if not _prepare_environment(run_id, handoff, document):
        return 1
    try:
        kind = document.kind
    except Exception as error:
        _fail(run_id, f"cannot load the flow: {type(error).__name__}: {error}")
        return 1
    if kind is not FlowKind.MODULE:
        return _run_notebook(run_id, document)
    try:
        flow = _load_flow(document)
    except Exception as error:
        _fail(run_id, f"cannot load the flow: {type(error).__name__}: {error}")
        return 1
    from jupyter_flows.engine.flow import run_flow
    from jupyter_flows.engine.runners import DaskTaskRunner

    runner = DaskTaskRunner.from_run_env(handoff)
    if runner is not None:
        flow = flow.with_options(task_runner=runner)
    try:
        state = run_flow(
            flow, (), document.parameters, True, flow_run_id=run_id, flow_run_name=document.name
        )
    except Exception as error:  # before the run started: the parameters do not bind
        _fail(run_id, f"cannot start the flow: {type(error).__name__}: {error}")
        return 1
    return 0 if state.is_completed() else 1


def _prepare_environment(run_id: str, handoff: RunEnv, document: RunDocument) -> bool:
    """Reproduce the flow's environment and check this one against it (agent/environment.py);
    False when the run cannot go on (it was reported Failed, with the reason)."""
    try:
        spec = document.resource_spec
    except Exception as error:  # an unreadable spec: say so, and run as before specs
        print(f"the flow's resource spec cannot be read: {error}", file=sys.stderr, flush=True)
        return True
    if spec is None:
        return True
    from jupyter_flows.agent import environment

    if handoff.overlay:  # started (or restarted) in the flow's own environment
        print(f"running in the flow's environment at {sys.prefix}", flush=True)
    if handoff.reproduce:
        try:
            python = environment.interpreter_for(spec, log=lambda line: print(line, flush=True))
        except environment.BuildFailed as error:
            _fail(run_id, str(error))
            return False
        if os.path.abspath(python) != os.path.abspath(sys.executable):  # venvs symlink
            environment.exec_in(python, run_id, handoff, document.to_json())  # no return
    try:
        fetched = environment.fetch_working_files(spec)
    except Exception as error:
        _fail(run_id, f"cannot fetch the working files: {type(error).__name__}: {error}")
        return False
    if fetched is not None:
        os.chdir(fetched)
        print(f"working files fetched into {fetched}", flush=True)
    drift = environment.check_drift(spec)
    address = (handoff.dask or {}).get("address")
    if address:  # an existing cluster: its workers were not started from this spec
        try:
            drift += environment.check_dask_workers(spec, str(address))
        except Exception as error:
            print(f"cannot check the Dask workers' packages: {error}", file=sys.stderr)
    if drift:
        message = "the environment differs from the flow's spec: " + "; ".join(drift)
        if environment.is_strict(document.tags):
            _fail(run_id, f"{message} (strict: the run stops before any task)")
            return False
        _warn(run_id, message)
    return _start_script(run_id, spec.document.get("start_script"))


def _start_script(run_id: str, script: str | None) -> bool:
    """Run the spec's start script (its output in the job log); False if it failed."""
    if not script:
        return True
    import subprocess

    done = subprocess.run(["sh", "-c", script], stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        _fail(run_id, f"the start script exited with code {done.returncode}")
        return False
    return True


def _warn(run_id: str, message: str) -> None:
    """A WARNING on the run (and in its job log) before the flow starts."""
    print(f"WARNING: {message}", file=sys.stderr, flush=True)
    from jupyter_flows.agent.logs import log_line
    from jupyter_flows.client import FlowsAPIError, FlowsClient

    line = log_line(30, message, "jupyter_flows.environment", flow_run_id=run_id)
    try:
        with FlowsClient() as client:
            client.create_logs([line])
    except FlowsAPIError as error:
        print(f"could not report the warning: {error}", file=sys.stderr, flush=True)


def _fetch(run_id: str) -> RunDocument:
    """The run document from the server (a pod, or a document too large for the env)."""
    from jupyter_flows.client import FlowsClient

    with FlowsClient() as client:
        return RunDocument.fetch(client, run_id)


def _run_notebook(run_id: str, document: RunDocument) -> int:
    from jupyter_flows.notebooks.engines.registered import execute_registered

    try:
        result = execute_registered(
            document.flow_version,
            document.parameters,
            flow_run_id=run_id,
            flow_run_name=document.name,
        )
    except Exception as error:
        _fail(run_id, f"cannot run the notebook: {type(error).__name__}: {error}")
        return 1
    return 0 if result.is_completed() else 1


def _load_flow(document: RunDocument) -> Any:
    version = document.flow_version
    entrypoint = version.entrypoint if version is not None else None
    if not entrypoint or ":" not in entrypoint:
        raise ValueError(f"the flow version has no entrypoint 'path.py:function' ({entrypoint!r})")
    path, _, attr = entrypoint.rpartition(":")
    folder = document.run_config.get("working_dir")
    if folder and not os.path.isabs(path):
        path = os.path.join(folder, path)
    from jupyter_flows.engine.flow import Flow
    from jupyter_flows.spec.python_flows import load_module

    module = load_module(path)
    flow = getattr(module, attr, None)
    if not isinstance(flow, Flow):
        raise ValueError(f"{entrypoint}: {attr!r} is not a @flow of {path}")
    return flow


def _fail(run_id: str, message: str) -> None:
    """Report a run that could not start as Failed (Pending → Failed), and say why."""
    print(message, file=sys.stderr, flush=True)
    from jupyter_flows.client import FlowsAPIError, FlowsClient
    from jupyter_flows.client_models import RunLease

    held = RunEnv.from_environ().lease_of()
    lease = RunLease.model_validate(held) if held else None
    try:
        with FlowsClient() as client:
            client.set_flow_run_state(run_id, "FAILED", message=message, lease=lease)
    except FlowsAPIError as error:
        print(f"could not report the failure: {error}", file=sys.stderr, flush=True)


def _watch_agent(agent: int | None) -> None:
    """End this process group if the agent that started it dies."""
    if agent is None:
        return

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != agent:  # reparented: the agent is gone (and so is our stdout)
                try:
                    os.killpg(os.getpgid(0), signal.SIGKILL)
                finally:
                    os._exit(137)

    threading.Thread(target=watch, name="agent-watchdog", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
