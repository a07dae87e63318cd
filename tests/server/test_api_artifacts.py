"""Artifacts: recorded through ingest (idempotent, refused one by one), read per run."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from jupyter_flows.storage import BlobStore


def _artifact(run_id: str, **fields):
    return {
        "id": str(uuid.uuid4()),
        "flow_run_id": run_id,
        "type": "notebook",
        "key": "output",
        "data": {"uri": "file:///blobs/sha256/ab/abc", "digest": "abc"},
        **fields,
    }


async def test_ingest_records_artifacts_once_and_reads_them(api) -> None:
    run = await api.adhoc_run(state={"type": "PENDING"})
    task = (
        await api("POST", "task-runs", {"flow_run_id": run["id"], "task_key": "t"}, expect=201)
    ).body
    notebook = _artifact(run["id"])
    table = _artifact(
        run["id"], type="table", key=None, task_run_id=task["id"], data={"rows": [[1, 2]]}
    )
    batch = {"artifacts": [notebook, table]}
    first = (await api("POST", "ingest", batch, expect=200)).body
    assert first["artifacts"] == 2 and first["rejected"] == []
    again = (await api("POST", "ingest", batch, expect=200)).body
    assert again["artifacts"] == 0

    path = f"flow-runs/{run['id']}/artifacts"
    page = (await api("GET", path, expect=200)).body
    assert page["total"] == 2
    assert [a["id"] for a in page["items"]] == [notebook["id"], table["id"]]
    only = (await api("GET", path, params={"type": "notebook"}, expect=200)).body
    assert [a["data"]["digest"] for a in only["items"]] == ["abc"]
    one = (await api("GET", f"artifacts/{table['id']}", expect=200)).body
    assert one["task_run_id"] == task["id"] and one["data"] == {"rows": [[1, 2]]}


async def test_bad_artifacts_are_refused_alone(api) -> None:
    run = await api.adhoc_run(state={"type": "PENDING"})
    good = _artifact(run["id"])
    unknown_run = _artifact(str(uuid.uuid4()))
    no_uri = _artifact(run["id"], data={})
    answer = (
        await api("POST", "ingest", {"artifacts": [unknown_run, good, no_uri]}, expect=200)
    ).body
    assert answer["artifacts"] == 1
    assert [(r["kind"], r["index"], r["error"]) for r in answer["rejected"]] == [
        ("artifacts", 0, "not_found"),
        ("artifacts", 2, "invalid_input"),
    ]


async def test_artifact_reads_answer_404_and_400(api) -> None:
    missing = str(uuid.uuid4())
    assert (await api("GET", f"artifacts/{missing}", expect=404)).error == "not_found"
    assert (await api("GET", f"flow-runs/{missing}/artifacts", expect=404)).error == "not_found"
    run = await api.adhoc_run()
    bad = await api("GET", f"flow-runs/{run['id']}/artifacts", params={"type": "x"}, expect=400)
    assert bad.error == "invalid_input"
    malformed = {"artifacts": [{"flow_run_id": run["id"], "type": "image", "data": {}}]}
    assert (await api("POST", "ingest", malformed, expect=400)).error == "invalid_input"


# ---------------------------------------------------------------- executed notebooks

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": 1,
            "id": "c1",
            "metadata": {},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": "hello 42\n"}],
            "source": "print('hello', 42)",
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture
def blobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BlobStore:
    """The server's blob storage (what the engines of its kernels write to)."""
    url = tmp_path / "blobs"
    monkeypatch.setenv("JUPYTER_FLOWS_STORAGE_URL", str(url))
    return BlobStore(url)


async def _notebook_artifact(api, blobs: BlobStore, content: bytes | None = None) -> dict:
    """A run of flow ``sales report`` with a notebook artifact whose blob holds ``content``."""
    run = await api.adhoc_run(flow_name="sales report", name="brave-otter")
    data = content if content is not None else json.dumps(NOTEBOOK).encode()
    digest = blobs.put(data)
    artifact = _artifact(
        run["id"],
        key="output-notebook",
        data={
            "uri": f"{blobs.url}/sha256/{digest[:2]}/{digest}",
            "digest": digest,
            "storage_url": blobs.url,
            "name": "report-brave-otter.ipynb",
        },
    )
    await api("POST", "ingest", {"artifacts": [artifact]}, expect=200)
    return {"run": run, "artifact": artifact, "digest": digest}


async def test_open_writes_the_executed_notebook_once_below_the_root(
    api, blobs: BlobStore, jp_root_dir: Path
) -> None:
    made = await _notebook_artifact(api, blobs)
    run, artifact_id = made["run"], made["artifact"]["id"]
    path = (await api("POST", f"artifacts/{artifact_id}/open", expect=200)).body["path"]
    assert path == f"jupyter-flows-runs/sales-report/brave-otter-{run['id'][-8:]}.ipynb"
    written = jp_root_dir / path
    assert json.loads(written.read_text()) == NOTEBOOK
    # Jupyter serves it as a notebook, with the run's outputs.
    model = await api.fetch("api", "contents", *path.split("/"), method="GET")
    cell = json.loads(model.body)["content"]["cells"][0]
    assert cell["outputs"][0]["text"] == "hello 42\n"

    mtime = written.stat().st_mtime_ns
    again = (await api("POST", f"artifacts/{artifact_id}/open", expect=200)).body
    assert again == {"path": path}
    assert written.stat().st_mtime_ns == mtime  # same content: not rewritten

    written.write_text("{}")  # changed (or damaged) by hand: the run's notebook comes back
    await api("POST", f"artifacts/{artifact_id}/open", expect=200)
    assert json.loads(written.read_text()) == NOTEBOOK


async def test_content_answers_the_notebook_json(api, blobs: BlobStore) -> None:
    made = await _notebook_artifact(api, blobs)
    answer = await api("GET", f"artifacts/{made['artifact']['id']}/content", expect=200)
    assert answer.body == NOTEBOOK


@pytest.mark.parametrize("method, suffix", [("POST", "open"), ("GET", "content")])
async def test_open_and_content_refusals(
    api, blobs: BlobStore, tmp_path: Path, method: str, suffix: str
) -> None:
    missing = str(uuid.uuid4())
    assert (await api(method, f"artifacts/{missing}/{suffix}", expect=404)).error == "not_found"

    run = await api.adhoc_run()
    link = _artifact(run["id"], type="link", data={"url": "https://example.org"})
    no_blob = _artifact(run["id"])  # data.digest "abc": not a digest
    await api("POST", "ingest", {"artifacts": [link, no_blob]}, expect=200)
    for artifact in (link, no_blob):
        refused = await api(method, f"artifacts/{artifact['id']}/{suffix}", expect=400)
        assert refused.error == "invalid_input" and artifact["id"] in refused.body["message"]

    made = await _notebook_artifact(api, blobs)
    blob_path = Path(blobs.url) / "sha256" / made["digest"][:2] / made["digest"]
    blob_path.write_bytes(b"tampered")
    corrupt = await api(method, f"artifacts/{made['artifact']['id']}/{suffix}", expect=500)
    assert corrupt.error == "blob_corrupt" and made["digest"] in corrupt.body["message"]
    blob_path.unlink()
    gone = await api(method, f"artifacts/{made['artifact']['id']}/{suffix}", expect=404)
    assert gone.error == "blob_not_found"
    assert made["digest"] in gone.body["message"] and blobs.url in gone.body["message"]

    not_json = await _notebook_artifact(api, blobs, content=b"not a notebook")
    bad = await api(method, f"artifacts/{not_json['artifact']['id']}/{suffix}", expect=500)
    assert bad.error == "blob_corrupt"
