"""Notebooks and scripts: ``POST notebooks/inspect`` and ``POST notebooks/register``.

Files are read through Jupyter's contents manager, so paths are relative to the server's
root and its rules (hidden files, permissions) apply; an unknown path answers 404.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.errors import InvalidInput
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import notebooks

if TYPE_CHECKING:
    from jupyter_flows.notebooks.engines.base import NotebookDocument


class _NotebookHandler(FlowsHandler):
    async def document(self, path: str | None, notebook: Any = None) -> NotebookDocument:
        if notebook is not None:
            return notebooks.document_of(path, None, notebook)
        if not path:
            raise InvalidInput("give the notebook's path (or, to inspect, its JSON)")
        if not path.endswith((".ipynb", ".py")):
            raise InvalidInput(f"{path}: expected a notebook (.ipynb) or a Python script (.py)")
        model = await ensure_async(
            self.contents_manager.get(path, content=True, type="file", format="text")
        )
        return notebooks.document_of(path, model["content"])


class NotebookInspectHandler(_NotebookHandler):
    auth_resource = "flows.flows"

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import InspectNotebook

        body = self.body(InspectNotebook)
        document = await self.document(body.path, body.notebook)
        loop = asyncio.get_running_loop()  # the conversion is CPU work: off the IOLoop
        self.reply(await loop.run_in_executor(None, notebooks.inspect, document, body))


class NotebookRegisterHandler(_NotebookHandler):
    auth_resource = "flows.flows"

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.capture import capture_notebook
        from jupyter_flows.server.wire import RegisterNotebook

        body = self.body(RegisterNotebook)
        document = await self.document(body.path)
        captured = await capture_notebook(self, body, document)
        answer, created = await self.run(notebooks.register_notebook, document, body, captured)
        location = f"flow-versions/{answer['version']['id']}"
        self.reply(answer, 201 if created else 200, location=location)


class NotebookEnvironmentHandler(_NotebookHandler):
    """What registering would record as the notebook's environment (the register dialog
    shows it before the user registers): captured as registration captures it."""

    auth_resource = "flows.flows"

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.capture import capture_environment
        from jupyter_flows.server.wire import CaptureEnvironment

        body = self.body(CaptureEnvironment)
        document = await self.document(body.path)
        captured = await capture_environment(
            self, document, body.path, credentials=body.credentials, hardware=body.hardware
        )
        self.reply(await self.run(notebooks.environment_preview, body, captured, readonly=True))


class VersionSourceOpenHandler(_NotebookHandler):
    """``POST flow-versions/{id}/source/open``: the file to open for a version's source.
    The registered file while it still holds the version's code; else a read-only copy of
    the stored code, written below the open folder (``read_only`` true)."""

    auth_resource = "flows.flows"

    @authenticated
    @authorized
    async def post(self, version_id: str) -> None:
        from jupyter_flows.server.handlers.artifacts import write_text_file
        from jupyter_flows.server.service import sources
        from jupyter_flows.storage import BlobStore

        source = await self.run(sources.version_source, version_id, readonly=True)
        answer = {
            "path": source["path"],
            "source_path": source["path"],
            "read_only": False,
            "version_number": source["version_number"],
        }
        digest = source["digest"]
        if digest is None or await self._holds(source["path"], digest):
            self.reply(answer)
            return
        loop = asyncio.get_running_loop()  # a blob read may be a network call: off the loop
        data = await loop.run_in_executor(None, BlobStore().get, digest)
        path = sources.copy_path(self.context.open_folder, source)
        await write_text_file(
            self.contents_manager, path, sources.read_only_text(data, source["path"])
        )
        self.reply({**answer, "path": path, "read_only": True})

    async def _holds(self, path: str, digest: str) -> bool:
        """Whether the file at ``path`` still holds the code of ``digest`` (outputs aside)."""
        from tornado.web import HTTPError

        from jupyter_flows.spec.notebook_flows import stored_bytes
        from jupyter_flows.storage import digest_of

        try:
            document = await self.document(path)
        except (HTTPError, InvalidInput, OSError):
            return False  # gone, unreadable or no longer a notebook: the stored copy
        return digest_of(stored_bytes(document)) == digest


default_handlers = [
    (rf"{API_PREFIX}/notebooks/inspect", NotebookInspectHandler),
    (rf"{API_PREFIX}/notebooks/register", NotebookRegisterHandler),
    (rf"{API_PREFIX}/notebooks/environment", NotebookEnvironmentHandler),
    (rf"{API_PREFIX}/flow-versions/(?P<version_id>[^/]+)/source/open", VersionSourceOpenHandler),
]
