"""``jupyter flows artifacts RUN_ID [--save PATH]`` and the client's artifact calls, against
a real standalone server that reads executed notebooks from a blob storage of its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from jupyter_flows.cli.main import cli
from jupyter_flows.client import FlowsAPIError, FlowsClient
from jupyter_flows.storage import BlobStore
from tests.flows_server import FlowsServer

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": 1,
            "id": "c1",
            "metadata": {},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": "total 42\n"}],
            "source": "print('total', 42)",
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsServer]:
    """A server whose blob storage (JUPYTER_FLOWS_STORAGE_URL) the tests can write to."""
    folder = tmp_path_factory.mktemp("artifacts-server")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_FLOWS_STORAGE_URL", str(folder / "blobs"))
        made = FlowsServer(folder)
        made.start()
    yield made
    made.stop()


@pytest.fixture
def api(server: FlowsServer) -> Iterator[FlowsClient]:
    with FlowsClient(server.url, server.api_key) as client:
        yield client


def invoke(server: FlowsServer, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=server.env(), catch_exceptions=False)


def notebook_run(api: FlowsClient, server: FlowsServer) -> tuple[str, str]:
    """A run with an executed-notebook artifact and a link; (run id, notebook artifact id)."""
    run = api.create_flow_run({"flow_name": "report", "name": f"run-{uuid.uuid4().hex[:6]}"})
    store = BlobStore(server.folder / "blobs")
    digest = store.put(json.dumps(NOTEBOOK).encode())
    notebook_id, link_id = str(uuid.uuid4()), str(uuid.uuid4())
    artifacts: list[dict[str, Any]] = [
        {
            "id": notebook_id,
            "flow_run_id": run.id,
            "type": "notebook",
            "key": "output-notebook",
            "data": {"uri": f"{store.url}/x", "digest": digest, "name": "report-out.ipynb"},
        },
        {
            "id": link_id,
            "flow_run_id": run.id,
            "type": "link",
            "data": {"url": "https://example.org/dashboard"},
        },
    ]
    assert api.ingest({"artifacts": artifacts}).artifacts == 2
    return run.id, notebook_id


def test_artifacts_lists_and_saves_the_executed_notebook(
    server: FlowsServer, api: FlowsClient, tmp_path: Path
) -> None:
    run_id, notebook_id = notebook_run(api, server)

    listed = invoke(server, "artifacts", run_id)
    assert listed.exit_code == 0, listed.output
    assert notebook_id in listed.output and "report-out.ipynb" in listed.output
    assert "https://example.org/dashboard" in listed.output
    as_json = json.loads(invoke(server, "artifacts", run_id, "--json").output)
    assert [a["type"] for a in as_json] == ["notebook", "link"]

    target = tmp_path / "executed.ipynb"
    saved = invoke(server, "artifacts", run_id, "--save", str(target))
    assert saved.exit_code == 0, saved.output
    assert json.loads(target.read_text()) == NOTEBOOK
    into_folder = invoke(server, "artifacts", run_id, "--save", str(tmp_path))
    assert into_folder.exit_code == 0, into_folder.output
    assert json.loads((tmp_path / "report-out.ipynb").read_text()) == NOTEBOOK


def test_artifacts_errors_are_one_line(server: FlowsServer, api: FlowsClient) -> None:
    run = api.create_flow_run({"flow_name": "report"})
    none = invoke(server, "artifacts", run.id, "--save", "out.ipynb")
    assert none.exit_code == 1 and "has no executed notebook" in none.stderr
    unknown = invoke(server, "artifacts", str(uuid.uuid4()))
    assert unknown.exit_code == 1 and "No flow run" in unknown.stderr
    assert "Traceback" not in unknown.output


def test_client_opens_and_reads_notebook_artifacts(server: FlowsServer, api: FlowsClient) -> None:
    run_id, notebook_id = notebook_run(api, server)
    assert api.artifact_content(notebook_id) == NOTEBOOK
    path = api.open_artifact(notebook_id)
    assert path.startswith("jupyter-flows-runs/report/") and run_id[-8:] in path
    assert json.loads((server.folder / path).read_text()) == NOTEBOOK
    assert api.open_artifact(notebook_id) == path
    link = next(a for a in api.list_artifacts(run_id).items if a.type == "link")
    with pytest.raises(FlowsAPIError) as refused:
        api.open_artifact(link.id)
    assert refused.value.status == 400
