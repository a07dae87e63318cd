"""Artifacts: recorded through ingest (idempotent, refused one by one), read per run."""

from __future__ import annotations

import uuid


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
