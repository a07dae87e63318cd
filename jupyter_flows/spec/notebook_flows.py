"""A notebook, selected cells or a script → its FlowSpec and the body of ``POST flows``.

Registering one (``jupyter flows register``, the ``%flow`` magic, the server's
``POST notebooks/register``) stores the notebook, outputs cleared (a script: its text), as
a blob in the code storage (:class:`~jupyter_flows.storage.BlobStore`), and registers the
FlowSpec's content with the entrypoint ``<path>#sha256=<digest>``. The entrypoint is not
part of a version's content hash: registering the same code again gives the same version,
whose notebook blob has that same code. Running it is
:func:`jupyter_flows.notebooks.engines.registered.execute_registered`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from jupyter_flows.spec.flow_spec import FlowSpec, notebook_entrypoint

if TYPE_CHECKING:
    from jupyter_flows.notebooks.engines.base import NotebookDocument


def stored_bytes(document: NotebookDocument) -> bytes:
    """What :func:`store_notebook` stores of a document: the notebook without its outputs,
    or a script's text. Its digest says whether a file still holds a version's code."""
    if document.text is not None:  # a script: its text (its cell titles name tasks)
        return document.text.encode("utf-8")
    data = json.dumps(document.without_outputs(), sort_keys=True, ensure_ascii=False, indent=1)
    return data.encode("utf-8")


def store_notebook(document: NotebookDocument, blob_storage: str | None = None) -> str:
    """Store the notebook without its outputs; return its digest."""
    from jupyter_flows.storage import BlobStore

    return BlobStore(blob_storage).put(stored_bytes(document))


def notebook_registration(
    notebook: str | os.PathLike[str] | Mapping[str, Any] | NotebookDocument,
    *,
    cells: Iterable[int | str] | None = None,
    engine: str = "kernel",
    name: str | None = None,
    project: str | None = None,
    description: str | None = None,
    path: str | None = None,
    blob_storage: str | None = None,
    run_config: dict[str, Any] | None = None,
    resource_spec: Mapping[str, Any] | None = None,
) -> tuple[FlowSpec, dict[str, Any]]:
    """The FlowSpec and the ``POST flows`` body of a notebook or script; stores its blob.

    ``path``: how the entrypoint names the file (default: the path given, or the notebook's
    name for one held in memory). Raises NotebookRunError for an unknown engine or a file
    without code cells, NotebookError for a malformed one.
    """
    from jupyter_flows.notebooks.engines import engine_names
    from jupyter_flows.notebooks.engines.base import NotebookDocument, NotebookRunError

    if engine not in engine_names():
        raise NotebookRunError(f"engine must be one of {', '.join(engine_names())}")
    document = (
        notebook if isinstance(notebook, NotebookDocument) else NotebookDocument.load(notebook)
    )
    spec = document.inspect(list(cells) if cells is not None else None, engine, name)
    if not spec.tasks:
        raise NotebookRunError(f"{spec.source.path} has no code cells to run")
    digest = store_notebook(document, blob_storage)
    shown = path or document.path or f"{spec.name}.ipynb"
    body: dict[str, Any] = {
        "name": name or spec.name,
        "content": spec.to_content(run_config=run_config, resource_spec=resource_spec),
        "entrypoint": notebook_entrypoint(str(shown), digest),
    }
    if project:
        body["project"] = project
    if description:
        body["description"] = description
    return spec, body
