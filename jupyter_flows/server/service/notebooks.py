"""Notebooks and scripts on the server: what registering would make (inspect), and
registering them with a deployment — what the JupyterLab extension's "register this
notebook / these cells" calls.

The handler reads the file through Jupyter's contents manager (paths relative to the server
root) and hands its text here; a notebook held by the client (unsaved) can be inspected as
JSON. The notebook is stored as a blob in the code storage (``JUPYTER_FLOWS_STORAGE_URL``,
else the local blob folder) before the flow version is registered, as the CLI does.

``jupyter_flows.notebooks`` (the cell analysis, its own pydantic models) is imported by the
functions that use it, so a server that is not asked about notebooks never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from jupyter_flows.server.errors import InvalidInput
from jupyter_flows.server.service import deployments, flows

if TYPE_CHECKING:
    from jupyter_flows.notebooks.engines.base import NotebookDocument
    from jupyter_flows.server.wire import CaptureEnvironment, InspectNotebook, RegisterNotebook
    from jupyter_flows.spec.capture import Captured


def document_of(path: str | None, text: str | None, notebook: Any = None) -> NotebookDocument:
    """The document of a file's text (``path`` says which kind) or of notebook JSON."""
    from jupyter_flows.notebooks.engines.base import NotebookDocument
    from jupyter_flows.notebooks.reader import NotebookError

    try:
        if notebook is not None:
            document = NotebookDocument.load(notebook)
            document.path = path
            return document
        assert path is not None and text is not None
        if path.endswith(".ipynb"):
            from jupyter_flows.notebooks.reader import read_notebook_text

            read_notebook_text(text, path)  # its messages name the problem
            import json

            document = NotebookDocument.load(json.loads(text))
            document.path = path
            return document
        if path.endswith(".py"):
            return NotebookDocument.from_script(text, path)
    except NotebookError as exc:
        raise InvalidInput(str(exc)) from None
    raise InvalidInput(f"{path}: expected a notebook (.ipynb) or a Python script (.py)")


def inspect(document: NotebookDocument, body: InspectNotebook) -> dict[str, Any]:
    """The FlowSpec document (docs/notebooks.md) of the notebook or of its selected cells."""
    from jupyter_flows.notebooks.engines.base import NotebookRunError
    from jupyter_flows.notebooks.reader import NotebookError

    try:
        spec = document.inspect(body.cells, body.engine, body.name)
    except (NotebookError, NotebookRunError) as exc:
        raise InvalidInput(str(exc)) from None
    return spec.to_document()


def register_notebook(
    session: Session,
    document: NotebookDocument,
    body: RegisterNotebook,
    captured: Captured | None = None,
) -> tuple[dict[str, Any], bool]:
    """Register the notebook's flow version, with the environment ``captured`` for it, and
    make or update its deployment."""
    from jupyter_flows.notebooks.engines.base import NotebookRunError
    from jupyter_flows.notebooks.reader import NotebookError
    from jupyter_flows.server.wire import EnsureDeployment, RegisterFlow
    from jupyter_flows.spec.notebook_flows import notebook_registration

    try:
        spec, registration = notebook_registration(
            document,
            cells=body.cells,
            engine=body.engine,
            name=body.name,
            project=body.project,
            path=body.path,
            resource_spec=dict(captured.spec.document) if captured else None,
        )
    except (NotebookError, NotebookRunError) as exc:
        raise InvalidInput(str(exc)) from None
    version, created = flows.register_flow(session, RegisterFlow(**registration))
    wanted = EnsureDeployment(schedule=body.schedule, work_queue=body.queue)
    deployment, _ = deployments.ensure_deployment(
        session, version["flow_id"], body.deployment, wanted
    )
    answer = {"version": version, "deployment": deployment, "spec": spec.to_document()}
    if captured is not None:  # where the environment came from, and what was left out
        answer["environment"] = {"source": captured.source, "dropped_env": captured.dropped_env}
    return answer, created


def environment_preview(
    session: Session, body: CaptureEnvironment, captured: Captured
) -> dict[str, Any]:
    """What registering would record as the environment, and what changed from the flow's
    latest version (found by project and name; the file's name when none is given)."""
    from pathlib import PurePosixPath

    from jupyter_flows.spec.resource_spec import describe_changes
    from jupyter_flows.store import flows as store_flows

    spec = captured.spec
    answer: dict[str, Any] = {
        "source": captured.source,
        "dropped_env": captured.dropped_env,
        "resource_spec_hash": spec.hash(),
        "resource_spec": dict(spec.document),
        "previous": None,
    }
    name = body.name or PurePosixPath(body.path).stem
    group = store_flows.find_flow_group(session, body.project or "default", name)
    latest = store_flows.latest_flow_version(session, group.id) if group else None
    if latest is not None:
        content = latest.content or {}
        before = content.get("resource_spec")
        answer["previous"] = {
            "flow_version_id": latest.id,
            "version_number": latest.version_number,
            "changed": content.get("resource_spec_hash") != spec.hash(),
            "changes": (
                describe_changes(before, spec.document)
                if before is not None
                else ["the previous version has no resource spec"]
            ),
        }
    return answer
