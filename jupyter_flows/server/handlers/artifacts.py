"""Artifacts of runs: read them (runs record them through ``POST ingest``), and open an
executed notebook in Jupyter (``POST artifacts/{id}/open`` writes it below the server root
through the contents manager) or fetch it as JSON (``GET artifacts/{id}/content``)."""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.errors import InvalidInput
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import artifacts

_TYPES = ("notebook", "table", "link")


class FlowRunArtifactsHandler(FlowsHandler):
    auth_resource = "flows.flow_runs"
    agent_access = {"GET": "run"}

    @authenticated
    @authorized
    async def get(self, flow_run_id: str) -> None:
        limit, offset = self.page_args()
        kind = self.str_arg("type")
        if kind is not None and kind not in _TYPES:
            raise InvalidInput(f"type must be one of {', '.join(_TYPES)}")
        result = await self.run(
            artifacts.list_artifacts,
            flow_run_id,
            type=kind,
            limit=limit,
            offset=offset,
            readonly=True,
        )
        self.reply(result)


class ArtifactHandler(FlowsHandler):
    auth_resource = "flows.flow_runs"
    agent_access = {"GET": "artifact"}

    @authenticated
    @authorized
    async def get(self, artifact_id: str) -> None:
        self.reply(await self.run(artifacts.read_artifact, artifact_id, readonly=True))


class _NotebookHandler(FlowsHandler):
    auth_resource = "flows.flow_runs"

    async def notebook(self, artifact_id: str) -> tuple[artifacts.NotebookBlob, bytes]:
        from jupyter_flows.storage import BlobStore

        blob = await self.run(artifacts.notebook_blob, artifact_id, readonly=True)
        loop = asyncio.get_running_loop()  # a blob read may be a network call: off the loop
        data = await loop.run_in_executor(None, artifacts.read_notebook, blob, BlobStore())
        return blob, data


class ArtifactContentHandler(_NotebookHandler):
    agent_access = {"GET": "artifact"}

    @authenticated
    @authorized
    async def get(self, artifact_id: str) -> None:
        _, data = await self.notebook(artifact_id)
        self.set_header("Content-Type", "application/json")
        self.finish(data)


class ArtifactOpenHandler(_NotebookHandler):
    @authenticated
    @authorized
    async def post(self, artifact_id: str) -> None:
        blob, data = await self.notebook(artifact_id)
        path = artifacts.open_path(blob, self.context.open_folder)
        await self.write_file(path, data.decode("utf-8"))
        self.reply({"path": path})

    async def write_file(self, path: str, text: str) -> None:
        await write_text_file(self.contents_manager, path, text)


async def write_text_file(cm: Any, path: str, text: str) -> None:
    """Write ``text`` at ``path`` through the contents manager unless that file already
    holds it (folders made).

    Written as a plain file, not a notebook model: the contents manager would sign a
    notebook it saves as trusted, and a run's outputs (or a stored copy of code) are not
    the user's to trust.
    """
    if await ensure_async(cm.file_exists(path)):
        model = await ensure_async(cm.get(path, content=True, type="file", format="text"))
        if model.get("content") == text:
            return
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        if not await ensure_async(cm.dir_exists(folder)):
            await ensure_async(cm.save({"type": "directory"}, folder))
    await ensure_async(cm.save({"type": "file", "format": "text", "content": text}, path))


default_handlers = [
    (rf"{API_PREFIX}/flow-runs/(?P<flow_run_id>[^/]+)/artifacts", FlowRunArtifactsHandler),
    (rf"{API_PREFIX}/artifacts/(?P<artifact_id>[^/]+)", ArtifactHandler),
    (rf"{API_PREFIX}/artifacts/(?P<artifact_id>[^/]+)/content", ArtifactContentHandler),
    (rf"{API_PREFIX}/artifacts/(?P<artifact_id>[^/]+)/open", ArtifactOpenHandler),
]
