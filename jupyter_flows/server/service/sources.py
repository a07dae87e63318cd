"""A flow version's source: the notebook or script it was registered from, at that version.

Registering a notebook or script stores its code as a blob (outputs cleared) and names
it in the entrypoint (``path#sha256=<digest>``). Opening a version's source opens the file
itself while it still holds that code, else a read-only copy of the stored code, written
below the open folder: ``<folder>/sources/<flow>/<stem> @ v<N> (read-only)<suffix>``. A
module flow's entrypoint (``path.py:function``) names no stored copy: its file is opened
as it is.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from jupyter_flows.spec.flow_kind import parse_entrypoint
from jupyter_flows.store import flows as store_flows

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MODULE_ATTRIBUTE = re.compile(r":[A-Za-z_][\w.]*$")


def version_source(session: Session, version_id: str) -> dict[str, Any]:
    """``path`` (relative to the server root, as registered), ``digest`` of the stored code
    (None for a module flow), the flow's name and the version's number."""
    version = store_flows.read_flow_version(session, version_id)
    group = store_flows.read_flow_group(session, version.flow_group_id)
    located = parse_entrypoint(version.entrypoint)
    if located is not None:
        path, digest = located
    else:
        path, digest = _MODULE_ATTRIBUTE.sub("", version.entrypoint or ""), None
    return {
        "path": path,
        "digest": digest,
        "flow_name": group.name,
        "version_number": version.version_number,
    }


def copy_path(folder: str, source: dict[str, Any]) -> str:
    """Where the read-only copy of a version's code goes (stable: opening it again finds
    the same file)."""

    def safe(name: str) -> str:
        return _UNSAFE.sub("-", name).strip(".-") or "_"

    path = PurePosixPath(source["path"])
    # The name is the tab's title: JupyterLab renames a file whose tab is retitled.
    name = f"{safe(path.stem)} @ v{source['version_number']} (read-only){path.suffix}"
    return f"{folder.strip('/')}/sources/{safe(source['flow_name'])}/{name}"


def read_only_text(data: bytes, path: str) -> str:
    """The stored code as the copy's text: a notebook's cells marked not editable and not
    deletable (JupyterLab honours both), a script's text as it is."""
    text = data.decode("utf-8")
    if not path.endswith(".ipynb"):
        return text
    notebook = json.loads(text)
    for cell in notebook.get("cells", []):
        cell.setdefault("metadata", {}).update({"editable": False, "deletable": False})
    return json.dumps(notebook, ensure_ascii=False, indent=1)
