"""``POST notebooks/inspect`` and ``POST notebooks/register``: files read through Jupyter's
contents manager, registered with their deployment; malformed or unknown files refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jupyter_flows.store import Database
from jupyter_flows.store import deployments as store_deployments

DATA = Path(__file__).resolve().parents[1] / "data" / "notebooks"


@pytest.fixture(autouse=True)
def _blobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    blobs = tmp_path / "blobs"
    monkeypatch.setenv("JUPYTER_FLOWS_STORAGE_URL", str(blobs))
    return blobs


@pytest.fixture
def root(jp_root_dir: Path) -> Path:
    folder = jp_root_dir / "work"
    folder.mkdir()
    shutil.copyfile(DATA / "engines" / "resume.ipynb", folder / "resume.ipynb")
    shutil.copyfile(DATA / "failing_cell.ipynb", folder / "failing.ipynb")
    (folder / "broken.ipynb").write_text('{"nbformat": 4, "cells": [')
    (folder / "no_source.ipynb").write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "outputs": []}],
            }
        )
    )
    (folder / "script.py").write_text("# %% Load\nx = 1\n\n# %% Use\ny = x + 1\n")
    (folder / "notes.txt").write_text("hello")
    return folder


async def test_inspect_a_notebook_by_path_or_by_its_json(api, root: Path) -> None:
    doc = (await api("POST", "notebooks/inspect", {"path": "work/resume.ipynb"}, expect=200)).body
    assert doc["format"] == "jupyter-flows/flow-spec" and doc["engine"] == "kernel"
    assert [t["key"] for t in doc["tasks"]] == ["parameters", "load", "count", "divide", "report"]
    assert doc["source"]["path"] == "work/resume.ipynb"

    selected = (
        await api(
            "POST",
            "notebooks/inspect",
            {"path": "work/resume.ipynb", "cells": ["count"], "engine": "tasks"},
            expect=200,
        )
    ).body
    assert [t["key"] for t in selected["tasks"]] == ["load", "count"]
    assert selected["engine"] == "tasks"

    unsaved = json.loads((root / "failing.ipynb").read_text())
    doc = (await api("POST", "notebooks/inspect", {"notebook": unsaved}, expect=200)).body
    assert len(doc["tasks"]) == 4
    script = (await api("POST", "notebooks/inspect", {"path": "work/script.py"}, expect=200)).body
    assert [t["key"] for t in script["tasks"]] == ["load", "use"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"path": "work/broken.ipynb"}, 400, "not valid JSON"),
        ({"path": "work/no_source.ipynb"}, 400, "cell 0: the cell has no 'source'"),
        ({"path": "work/notes.txt"}, 400, "expected a notebook (.ipynb) or a Python script"),
        ({"path": "work/missing.ipynb"}, 404, "missing.ipynb"),
        ({"path": "work/resume.ipynb", "cells": [99]}, 400, "99"),
        ({}, 400, "give the notebook's path"),
        ({"notebook": {"cells": []}}, 400, "nbformat"),
        ({"path": "work/resume.ipynb", "engine": "papermill"}, 400, "engine"),
    ],
)
async def test_bad_inspect_requests_are_refused(api, root: Path, body, status, needle) -> None:
    answer = await api("POST", "notebooks/inspect", body, expect=status)
    assert needle in answer.body["message"]


async def test_register_makes_a_version_and_its_deployment(api, root: Path, _blobs) -> None:
    body = {
        "path": "work/resume.ipynb",
        "engine": "tasks",
        "name": "resume-nb",
        "schedule": {"interval_seconds": 3600},
        "queue": "notebooks",
    }
    first = await api("POST", "notebooks/register", body, expect=201)
    version, deployment = first.body["version"], first.body["deployment"]
    assert version["new"] is True and version["content"]["task_runner"]["engine"] == "tasks"
    assert version["entrypoint"].startswith("work/resume.ipynb#sha256=")
    assert first.headers["Location"].endswith(f"/api/flows/flow-versions/{version['id']}")
    assert deployment["name"] == "default" and deployment["work_queue"] == "notebooks"
    assert deployment["schedule"]["interval_seconds"] == 3600
    assert [t["key"] for t in first.body["spec"]["tasks"]][-1] == "report"
    digest = version["entrypoint"].rpartition("=")[2]
    assert (_blobs / "sha256" / digest[:2] / digest).exists()

    again = await api("POST", "notebooks/register", {**body, "queue": None}, expect=200)
    assert again.body["version"]["id"] == version["id"] and again.body["version"]["new"] is False
    assert again.body["deployment"]["id"] == deployment["id"]
    assert again.body["deployment"]["work_queue"] == "notebooks"

    cells = await api(
        "POST",
        "notebooks/register",
        {"path": "work/resume.ipynb", "name": "resume-nb", "cells": [5]},
        expect=201,
    )
    assert sorted(t["key"] for t in cells.body["version"]["content"]["tasks"]) == ["count", "load"]
    assert cells.body["version"]["version_number"] == 2


async def test_register_finds_its_deployment_among_many(api, root: Path, flows_db_url: str) -> None:
    """More deployments than one page: registering again updates the one named, found by
    (flow, name), rather than trying to make it a second time."""
    body = {"path": "work/script.py", "name": "script", "deployment": "zz-last"}
    first = (await api("POST", "notebooks/register", body, expect=201)).body
    flow_id = first["version"]["flow_id"]
    with Database(flows_db_url) as db, db.transaction() as session:
        for i in range(600):
            store_deployments.create_deployment(session, flow_group_id=flow_id, name=f"d{i:03}")
    again = await api("POST", "notebooks/register", {**body, "queue": "nb"}, expect=200)
    assert again.body["deployment"]["id"] == first["deployment"]["id"]
    assert again.body["deployment"]["work_queue"] == "nb"


async def test_bad_register_requests_are_refused(api, root: Path) -> None:
    missing = await api("POST", "notebooks/register", {"path": "work/nope.ipynb"}, expect=404)
    assert missing.error == "not_found"
    broken = await api("POST", "notebooks/register", {"path": "work/broken.ipynb"}, expect=400)
    assert "not valid JSON" in broken.body["message"]
    bad_queue = {"path": "work/resume.ipynb", "queue": "no spaces allowed"}
    assert (await api("POST", "notebooks/register", bad_queue, expect=400)).error == "invalid_input"
    assert (await api("GET", "flows", expect=200)).body["total"] == 0  # nothing was stored


async def test_register_captures_the_running_kernel_of_the_notebook(
    api, root: Path, jp_fetch, jp_serverapp
) -> None:
    """The environment comes from the notebook's own kernel: a variable set in that kernel
    alone is in the spec, a secret-looking one is named and left out."""
    (root / "big.bin").write_bytes(b"\0" * 10)
    (root / ".gitignore").write_text("big.bin\n")
    body = {"path": "work/resume.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    session = await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
    kernel_id = json.loads(session.body)["kernel"]["id"]
    client = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        code = "import os; os.environ['ONLY_IN_KERNEL'] = 'yes'; os.environ['MY_TOKEN'] = 's3'"
        await client.execute_interactive(code, timeout=60)
    finally:
        client.stop_channels()

    answer = (await api("POST", "notebooks/register", {"path": "work/resume.ipynb"})).body
    assert answer["environment"]["source"] == "kernel"
    assert "MY_TOKEN" in answer["environment"]["dropped_env"]
    version = answer["version"]
    shown = (await api("GET", f"flow-versions/{version['id']}/resource-spec")).body
    spec = shown["resource_spec"]
    assert spec["env"]["ONLY_IN_KERNEL"] == "yes" and "MY_TOKEN" not in spec["env"]
    assert spec["image"]["kernel_spec"] == "python3"
    files = spec["working_files"]
    assert files["files"] >= 1 and files["bytes"] < 10**6
    assert version["content"]["resource_spec_hash"] == shown["resource_spec_hash"]
    await jp_fetch("api", "sessions", json.loads(session.body)["id"], method="DELETE")


async def test_environment_preview_says_what_registering_would_record(api, root: Path) -> None:
    """Before registering, the dialog is told the spec that would be recorded and, once the
    flow has a version, what changed from it; nothing is registered by asking."""
    body = {"path": "work/script.py", "name": "envy", "hardware": {"cpu": 2}}
    first = (await api("POST", "notebooks/environment", body, expect=200)).body
    assert first["previous"] is None
    assert first["source"] == "interpreter"
    assert first["resource_spec"]["hardware"]["cpu"] == 2
    assert first["resource_spec"]["image"]["packages"]
    assert (await api("GET", "flows", expect=200)).body["total"] == 0

    await api("POST", "notebooks/register", body, expect=201)
    same = (await api("POST", "notebooks/environment", body, expect=200)).body
    assert same["previous"]["version_number"] == 1
    assert same["previous"]["changed"] is False and same["previous"]["changes"] == []

    bigger = (await api("POST", "notebooks/environment", {**body, "hardware": {"cpu": 4}})).body
    assert bigger["previous"]["changed"] is True
    assert bigger["previous"]["changes"] == ["cpu 2 → 4"]

    missing = await api("POST", "notebooks/environment", {"path": "work/nope.py"}, expect=404)
    assert missing.error == "not_found"
