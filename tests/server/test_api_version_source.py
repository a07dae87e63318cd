"""``POST flow-versions/{id}/source/open``: the registered file while it holds the version's
code, else a read-only copy of the code stored at registration."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

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
    (folder / "script.py").write_text("# %% Load\nx = 1\n\n# %% Use\ny = x + 1\n")
    return folder


async def _register(api, path: str, name: str) -> dict:
    body = {"path": path, "name": name}
    return (await api("POST", "notebooks/register", body, expect=201)).body["version"]


async def test_an_unchanged_notebook_opens_itself(api, root: Path) -> None:
    version = await _register(api, "work/resume.ipynb", "resume")
    # Outputs are not code: a notebook run since (outputs saved) is still that version.
    notebook = json.loads((root / "resume.ipynb").read_text())
    notebook["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    (root / "resume.ipynb").write_text(json.dumps(notebook))

    opened = await api("POST", f"flow-versions/{version['id']}/source/open", expect=200)
    assert opened.body == {
        "path": "work/resume.ipynb",
        "source_path": "work/resume.ipynb",
        "read_only": False,
        "version_number": 1,
    }


async def test_a_changed_notebook_opens_a_read_only_copy_of_the_version(
    api, root: Path, jp_root_dir: Path
) -> None:
    version = await _register(api, "work/resume.ipynb", "resume")
    registered = json.loads((root / "resume.ipynb").read_text())
    changed = json.loads(json.dumps(registered))
    changed["cells"][1]["source"] = "print('changed since')"
    (root / "resume.ipynb").write_text(json.dumps(changed))

    opened = (await api("POST", f"flow-versions/{version['id']}/source/open", expect=200)).body
    assert opened["read_only"] is True and opened["source_path"] == "work/resume.ipynb"
    assert opened["path"] == "jupyter-flows-runs/sources/resume/resume @ v1 (read-only).ipynb"
    copy = json.loads((jp_root_dir / opened["path"]).read_text())
    assert [c["source"] for c in copy["cells"]] == [c["source"] for c in registered["cells"]]
    assert all(
        c["metadata"]["editable"] is False and c["metadata"]["deletable"] is False
        for c in copy["cells"]
    )
    again = await api("POST", f"flow-versions/{version['id']}/source/open", expect=200)
    assert again.body == opened  # the same copy, found again

    (root / "resume.ipynb").unlink()  # gone: the copy too
    gone = await api("POST", f"flow-versions/{version['id']}/source/open", expect=200)
    assert gone.body["read_only"] is True


async def test_a_script_copy_is_its_text(api, root: Path, jp_root_dir: Path) -> None:
    version = await _register(api, "work/script.py", "script")
    same = await api("POST", f"flow-versions/{version['id']}/source/open", expect=200)
    assert same.body["path"] == "work/script.py" and same.body["read_only"] is False

    (root / "script.py").write_text("# %% Load\nx = 2\n")
    opened = (await api("POST", f"flow-versions/{version['id']}/source/open", expect=200)).body
    assert opened["read_only"] is True and opened["path"].endswith("/script @ v1 (read-only).py")
    assert (jp_root_dir / opened["path"]).read_text() == "# %% Load\nx = 1\n\n# %% Use\ny = x + 1\n"


async def test_a_module_flow_opens_its_file_and_an_unknown_version_is_404(api) -> None:
    version = await api.register("mod")  # registered with no entrypoint
    opened = await api("POST", f"flow-versions/{version['id']}/source/open", expect=200)
    assert opened.body["read_only"] is False
    missing = await api("POST", "flow-versions/00000000-0000-0000-0000-000000000000/source/open")
    assert missing.status == 404
