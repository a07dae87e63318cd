"""``python -m jupyter_flows.agent.execute RUN_ID``: run one claimed flow run in this process.

What the agent starts for each run (locally, in a Dask run's process, in a Kubernetes pod).
It reads what it needs from ``JUPYTER_FLOWS_RUN_SPEC`` (JSON the agent passes: the run's
name, parameters, run config and flow version), or fetches the run and its version from the
server when the spec is not there; then it loads the flow:

- a notebook or script flow (the kind ``spec.flow_kind.kind_of`` reads from its content,
  as ``FlowSpec.from_content`` does) runs through ``notebooks.engines.execute_registered``;
- a module of ``@flow`` functions: its entrypoint ``path.py:function`` is imported (a
  relative path from the run config's ``working_dir``, else this process's working
  directory).

The flow runs as the claimed run itself (``run_flow(..., flow_run_id=RUN_ID)``): the
engine's HTTP reporter (``JUPYTER_FLOWS_API_URL``/``_KEY``/``_TOKEN``) reports its states,
task runs and logs into that run. With ``JUPYTER_FLOWS_RUN_PROCESS=1`` a timed-out flow ends
this process. If the flow cannot even be loaded, the run is reported Failed with the reason.
Exit code: 0 when the run completed, 1 otherwise.

While ``JUPYTER_FLOWS_AGENT_PID`` is set, a watchdog ends this process (and its process
group: Dask workers) if that agent dies, so nothing keeps running a run whose agent is gone
(the server's reaper crashes and retries it).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from typing import Any

from jupyter_flows.spec.flow_kind import FlowKind, kind_of

RUN_SPEC_ENV = "JUPYTER_FLOWS_RUN_SPEC"
AGENT_PID_ENV = "JUPYTER_FLOWS_AGENT_PID"
DASK_ENV = "JUPYTER_FLOWS_DASK"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jupyter_flows.agent.execute RUN_ID", file=sys.stderr)
        return 2
    run_id = args[0]
    _watch_agent()
    spec = _spec(run_id)
    version = spec.get("flow_version") or {}
    config = spec.get("run_config") or {}
    parameters = dict(spec.get("parameters") or {})
    try:
        kind = _kind(version)
    except Exception as error:
        _fail(run_id, f"cannot load the flow: {type(error).__name__}: {error}")
        return 1
    if kind is not FlowKind.MODULE:
        return _run_notebook(run_id, version, parameters)
    try:
        flow = _load_flow(version, config)
    except Exception as error:
        _fail(run_id, f"cannot load the flow: {type(error).__name__}: {error}")
        return 1
    from jupyter_flows.engine.flow import run_flow

    dask = os.environ.get(DASK_ENV)
    if dask:
        from jupyter_flows.engine.runners import DaskTaskRunner

        settings = json.loads(dask)
        runner = DaskTaskRunner(settings.get("address"), settings.get("cluster_kwargs"))
        flow = flow.with_options(task_runner=runner)
    try:
        name = spec.get("name")
        state = run_flow(flow, (), parameters, True, flow_run_id=run_id, flow_run_name=name)
    except Exception as error:  # before the run started: the parameters do not bind
        _fail(run_id, f"cannot start the flow: {type(error).__name__}: {error}")
        return 1
    return 0 if state.is_completed() else 1


def _spec(run_id: str) -> dict[str, Any]:
    text = os.environ.pop(RUN_SPEC_ENV, "")
    if text:
        spec: dict[str, Any] = json.loads(text)
        return spec
    from jupyter_flows.client import FlowsClient

    with FlowsClient() as client:  # a pod, or a spec too large for the environment
        run = client.get_flow_run(run_id)
        version = client.get_flow_version(run.flow_version_id) if run.flow_version_id else None
    content = version.content if version is not None else {}
    return {
        "id": run.id,
        "name": run.name,
        "parameters": run.parameters,
        "run_config": content.get("run_config") or {},
        "flow_version": version.model_dump(mode="json") if version is not None else None,
    }


def _kind(version: dict[str, Any]) -> FlowKind:
    return kind_of(version.get("content") or {}, version.get("entrypoint"))


def _run_notebook(run_id: str, version: dict[str, Any], parameters: dict[str, Any]) -> int:
    from jupyter_flows.notebooks.engines.registered import execute_registered

    try:
        result = execute_registered(version, parameters, flow_run_id=run_id)
    except Exception as error:
        _fail(run_id, f"cannot run the notebook: {type(error).__name__}: {error}")
        return 1
    return 0 if result.is_completed() else 1


def _load_flow(version: dict[str, Any], config: dict[str, Any]) -> Any:
    entrypoint = version.get("entrypoint")
    if not entrypoint or ":" not in entrypoint:
        raise ValueError(f"the flow version has no entrypoint 'path.py:function' ({entrypoint!r})")
    path, _, attr = entrypoint.rpartition(":")
    folder = config.get("working_dir")
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
    from jupyter_flows.engine.http_reporter import lease_from_environment

    held = lease_from_environment()
    lease = RunLease.model_validate(held) if held else None
    try:
        with FlowsClient() as client:
            client.set_flow_run_state(run_id, "FAILED", message=message, lease=lease)
    except FlowsAPIError as error:
        print(f"could not report the failure: {error}", file=sys.stderr, flush=True)


def _watch_agent() -> None:
    """End this process group if the agent that started it dies."""
    raw = os.environ.pop(AGENT_PID_ENV, "")
    if not raw.isdigit():
        return
    agent = int(raw)

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
