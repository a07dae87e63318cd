"""The environment of a notebook registered from JupyterLab (``POST notebooks/register``).

Asked of the notebook's own running kernel first (the probe executed in it through
jupyter-server's kernel manager), else of its kernel spec's interpreter (a subprocess,
off the event loop), else of the server's interpreter. Its folder, under the server's
root, gives the working files.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async

from jupyter_flows.server.errors import InvalidInput

if TYPE_CHECKING:
    from jupyter_flows.notebooks.engines.base import NotebookDocument
    from jupyter_flows.server.handlers.base import FlowsHandler
    from jupyter_flows.server.wire import RegisterNotebook
    from jupyter_flows.spec.capture import Captured


async def running_kernel(handler: FlowsHandler, path: str) -> str | None:
    """The id of a kernel running for the notebook at ``path``, if any."""
    manager = handler.settings.get("session_manager")
    if manager is None:
        return None
    for session in await ensure_async(manager.list_sessions()):
        kernel = session.get("kernel") or {}
        if session.get("path") == path and kernel.get("id"):
            return str(kernel["id"])
    return None


def kernel_spec_of(document: NotebookDocument) -> str | None:
    """The kernel spec the notebook's metadata names (None for a script)."""
    if document.kind != "notebook":
        return None
    name = ((document.nb.get("metadata") or {}).get("kernelspec") or {}).get("name")
    return name if isinstance(name, str) and name else None


async def capture_notebook(
    handler: FlowsHandler, body: RegisterNotebook, document: NotebookDocument
) -> Captured | None:
    """The environment to register with the notebook, or None when the body opts out."""
    if not body.capture_environment:
        return None
    return await capture_environment(
        handler, document, body.path, credentials=body.credentials, hardware=body.hardware
    )


async def capture_environment(
    handler: FlowsHandler,
    document: NotebookDocument,
    path: str,
    *,
    credentials: list[str],
    hardware: dict[str, Any] | None,
) -> Captured:
    from jupyter_flows.spec.capture import (
        CaptureError,
        build_spec,
        kernel_spec_python,
        probe_here,
        probe_interpreter,
        probe_kernel,
        store_working_files,
    )
    from jupyter_flows.spec.resource_spec import ResourceSpecError

    notebook_kernel_spec = kernel_spec_of(document)
    loop = asyncio.get_running_loop()
    kernel_id = await running_kernel(handler, path)
    try:
        if kernel_id is not None:
            probe, source = await probe_kernel(handler.kernel_manager, kernel_id), "kernel"
        else:
            specs = handler.settings.get("kernel_spec_manager")
            name = notebook_kernel_spec
            python = None
            if name:
                python = await loop.run_in_executor(None, kernel_spec_python, name, specs)
            if python:
                probe = await loop.run_in_executor(None, probe_interpreter, python)
                source = "kernel spec"
            else:
                probe, source = await loop.run_in_executor(None, probe_here), "interpreter"
        root = getattr(handler.contents_manager, "root_dir", None)
        files = None
        if root:
            folder = os.path.dirname(os.path.join(root, path))
            files = await loop.run_in_executor(None, store_working_files, folder)
        return build_spec(
            probe,
            kernel_spec=notebook_kernel_spec,
            credentials=credentials,
            hardware=dict(hardware or {}),
            working_files=files,
            source=source,
        )
    except (CaptureError, ResourceSpecError) as error:
        raise InvalidInput(f"cannot capture the notebook's environment: {error}") from None
