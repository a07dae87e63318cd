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


default_handlers = [
    (rf"{API_PREFIX}/notebooks/inspect", NotebookInspectHandler),
    (rf"{API_PREFIX}/notebooks/register", NotebookRegisterHandler),
    (rf"{API_PREFIX}/notebooks/environment", NotebookEnvironmentHandler),
]
