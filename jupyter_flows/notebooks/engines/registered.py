"""Running a registered notebook or script flow in a run's process.

Registering one stores the notebook as a blob and names it in the version's entrypoint
(:mod:`jupyter_flows.spec.notebook_flows`). :func:`execute_registered` is what an agent's
run process calls::

    execute_registered(version, parameters, flow_run_id=run.id, flow_name=run.flow_name)

It reads the version's FlowSpec (:meth:`~jupyter_flows.spec.flow_spec.FlowSpec.
from_content`), fetches the notebook blob (or takes ``notebook``, a path or notebook dict),
converts it again, checks every task's code hash against the version, and runs it on the
engine the version names, as the flow run ``flow_run_id``.

A run tagged ``rerun-of:<flow run id>`` (see :func:`~jupyter_flows.cli.register.
request_rerun`) is a rerun of that run from its first failed cell (tasks engine), or from
the start when it is also tagged ``rerun-from-start``: ``execute_registered`` reads the
run's tags from the server when ``flow_run_id`` is given and ``JUPYTER_FLOWS_API_URL`` is
set, or takes ``rerun_of`` / ``from_failed`` from its caller.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from jupyter_flows.engine.run_env import RunEnv
from jupyter_flows.engine.runners import DaskTaskRunner
from jupyter_flows.notebooks.engines.base import NotebookDocument, NotebookRunError
from jupyter_flows.notebooks.engines.run import NotebookRunResult, run_notebook_flow
from jupyter_flows.spec.flow_spec import FlowKind, FlowSpec, FlowSpecError, parse_entrypoint

#: Tags of a run that reruns another (``rerun-of:<id>``), and of one that starts afresh.
RERUN_TAG = "rerun-of:"
FROM_START_TAG = "rerun-from-start"


def execute_registered(
    version: Any,
    parameters: Mapping[str, Any] | None = None,
    notebook: str | os.PathLike[str] | Mapping[str, Any] | bytes | None = None,
    *,
    flow_run_id: str | None = None,
    flow_run_name: str | None = None,
    flow_name: str | None = None,
    blob_storage: str | None = None,
    rerun_of: str | None = None,
    from_failed: bool | None = None,
    **options: Any,
) -> NotebookRunResult:
    """Run a registered notebook flow's version in this process (what an agent calls).

    ``version``: the flow version (the ``GET flow-versions/{id}`` answer, as a dict or the
    client's ``FlowVersion``). ``parameters``: the run's (checked against the version's
    schema first: ParameterError). ``notebook``: the notebook to run (path, notebook dict
    or its JSON bytes); by default the blob the entrypoint names, from ``blob_storage``
    (default: ``JUPYTER_FLOWS_STORAGE_URL``, else the local blob folder). ``flow_run_id``:
    the claimed run to run as, named ``flow_run_name`` (default: its name on the server,
    so log lines and the executed notebook name the run as the API does). ``options`` go
    to :func:`run_notebook_flow`
    (``task_runner``, ``result_storage``, ``cwd``, ``kernel_name``, ``timeout_seconds``…).
    ``rerun_of``: the flow run this one reruns (default: the run's ``rerun-of:`` tag), from
    its first failed cell unless ``from_failed`` is False (or the run is tagged
    ``rerun-from-start``). Raises NotebookRunError when the version is not a notebook flow
    or its notebook does not match it; a failed cell does not raise (see ``state``).
    """
    content, entrypoint, version_id = _version_parts(version)
    try:
        registered = FlowSpec.from_content(content, entrypoint=entrypoint, name=flow_name)
    except FlowSpecError as error:
        raise NotebookRunError(f"flow version {version_id}: {error}") from None
    engine = registered.notebook_engine
    if engine is None:
        raise NotebookRunError(
            f"flow version {version_id} is not a notebook flow (its task runner is "
            f"{content.get('task_runner')!r})"
        )
    document = _document(notebook, entrypoint, registered.kind, blob_storage, version_id)
    cell_ids = [cell for task in registered.tasks for cell in task.cell_ids]
    spec = document.inspect(cell_ids or None, engine, flow_name)
    _check_same_code(spec, registered, version_id)
    # The notebook's folder when the registered path is there (the same machine, or the
    # server's root), else this process's working directory (the agent's working_dir).
    options.setdefault("cwd", document.cwd or os.getcwd())
    if engine == "tasks" and options.get("task_runner") is None:
        # What the agent's Dask infrastructure asks for, else the version's own runner.
        options["task_runner"] = DaskTaskRunner.from_run_env(RunEnv.from_environ())
    if flow_run_id is not None and (rerun_of is None or flow_run_name is None):
        name, tagged_rerun_of, tagged_from_start = _run_facts(flow_run_id)
        flow_run_name = flow_run_name or name
        if rerun_of is None:
            rerun_of = tagged_rerun_of
            if from_failed is None and tagged_from_start:
                from_failed = False
    if flow_run_name is not None:
        options["flow_run_name"] = flow_run_name
    if rerun_of is not None:
        from jupyter_flows.notebooks.engines.rerun import rerun_notebook_flow

        return rerun_notebook_flow(
            rerun_of,
            from_failed=True if from_failed is None else from_failed,
            parameters=parameters,
            notebook=document,
            flow_name=flow_name,
            flow_version=version_id,
            flow_run_id=flow_run_id,
            blob_storage=blob_storage,
            **options,
        )
    return run_notebook_flow(
        spec,
        document,
        parameters,
        engine=engine,
        flow_name=flow_name,
        flow_version=version_id,
        flow_run_id=flow_run_id,
        blob_storage=blob_storage,
        **options,
    )


def _run_facts(flow_run_id: str) -> tuple[str | None, str | None, bool]:
    """``(name, rerun_of, from_start)``: the run's name, and what its tags say, from the
    server, if there is one."""
    if not RunEnv.from_environ().api_url:
        return None, None, False
    from jupyter_flows.client import FlowsAPIError, FlowsClient

    try:
        with FlowsClient() as api:
            run = api.get_flow_run(flow_run_id)
    except (FlowsAPIError, ValueError):
        return None, None, False
    tags = run.tags
    rerun_of = next((t[len(RERUN_TAG) :] for t in tags if t.startswith(RERUN_TAG)), None)
    return run.name, rerun_of, FROM_START_TAG in tags


def _version_parts(version: Any) -> tuple[dict[str, Any], str | None, str | None]:
    if isinstance(version, Mapping):
        return dict(version.get("content") or {}), version.get("entrypoint"), version.get("id")
    return (
        dict(getattr(version, "content", None) or {}),
        getattr(version, "entrypoint", None),
        getattr(version, "id", None),
    )


def _document(
    notebook: Any,
    entrypoint: str | None,
    kind: FlowKind,
    blob_storage: str | None,
    version_id: str | None,
) -> NotebookDocument:
    located = parse_entrypoint(entrypoint)
    shown = located[0] if located is not None else "notebook.ipynb"
    if isinstance(notebook, (bytes, bytearray)):
        return _from_bytes(bytes(notebook), shown, kind)
    if notebook is not None:
        return NotebookDocument.load(notebook)
    if located is None:
        raise NotebookRunError(
            f"flow version {version_id} names no stored notebook (entrypoint {entrypoint!r}); "
            "pass the notebook to run"
        )
    from jupyter_flows.storage import BlobStore

    # BlobNotFound / StorageUnavailable name the digest and the store.
    return _from_bytes(BlobStore(blob_storage).get(located[1]), shown, kind)


def _from_bytes(data: bytes, path: str, kind: FlowKind) -> NotebookDocument:
    """A stored notebook (JSON) or script (its text), named as it was registered."""
    text = data.decode("utf-8")
    if kind is FlowKind.SCRIPT:
        document = NotebookDocument.from_script(text, path)
    else:
        document = NotebookDocument.load(json.loads(text))
        document.path = path
    return document


def _check_same_code(spec: FlowSpec, registered: FlowSpec, version_id: str | None) -> None:
    expected = {task.key: task.code_hash for task in registered.tasks}
    found = {task.key: task.code_hash for task in spec.tasks}
    if set(expected) != set(found):
        missing = sorted(set(expected) ^ set(found))
        raise NotebookRunError(
            f"the notebook does not match flow version {version_id}: tasks differ "
            f"({', '.join(missing)})"
        )
    changed = sorted(key for key in expected if expected[key] != found[key])
    if changed:
        raise NotebookRunError(
            f"the notebook does not match flow version {version_id}: the code of "
            f"{', '.join(changed)} changed"
        )
