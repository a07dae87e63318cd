"""ResourceSpec: validation with clear errors, a stable hash, diffs in words, drift."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.spec.capture import (
    WorkingFilesTooLarge,
    build_spec,
    capture_here,
    store_working_files,
)
from jupyter_flows.spec.resource_spec import SCHEMA_PATH, ResourceSpec, ResourceSpecError

ROOT = Path(__file__).resolve().parents[2]


def probe(**changes: Any) -> dict[str, Any]:
    answer = {
        "python": {"version": "3.11.7", "implementation": "CPython", "executable": "/x/python"},
        "platform": "linux-x86_64",
        "packages": [
            {"name": "pandas", "version": "2.2.3"},
            {"name": "numpy", "version": "2.1.0"},
            {"name": "mylib", "version": "0.1", "origin": {"kind": "editable", "url": "file:///m"}},
        ],
        "env": {"PYTHONHASHSEED": "0", "MODE": "prod"},
        "dropped": [],
        "machine": {"cpu": 8, "memory": 16 * 2**30, "gpus": []},
    }
    answer.update(changes)
    return answer


def test_the_schema_in_schema_dir_is_the_one_shipped() -> None:
    shipped = json.loads(SCHEMA_PATH.read_text())
    assert json.loads((ROOT / "schema" / "resource-spec.schema.json").read_text()) == shipped


def test_build_fills_hardware_defaults_from_the_machine() -> None:
    spec = build_spec(probe(), kernel_spec="python3", credentials=["warehouse"]).spec
    assert spec.hardware == {
        "cpu": 8,
        "memory": "16384Mi",
        "gpu": {"count": 0, "type": None},
        "disk": None,
    }
    assert spec.document["container_image"] == "python:3.11-slim"
    assert spec.credentials == ["warehouse"]
    asked = build_spec(probe(), hardware={"gpu": 2, "gpu_type": "A100", "cpu": 4}).spec
    assert asked.infrastructure_resources() == {
        "image": "python:3.11-slim",
        "cpu": 4,
        "memory": "16384Mi",
        "gpu": 2,
        "gpu_type": "A100",
    }


def test_invalid_documents_name_what_is_wrong() -> None:
    document = copy.deepcopy(dict(build_spec(probe()).spec.document))
    document["hardware"]["cpu"] = -1
    document["credentials"] = ["Not A Name"]
    with pytest.raises(ResourceSpecError) as caught:
        ResourceSpec.validate(document)
    message = str(caught.value)
    assert "hardware/cpu" in message and "credentials/0" in message


def test_the_hash_is_stable_and_follows_the_environment() -> None:
    first = build_spec(probe()).spec
    assert first.hash() == build_spec(probe()).spec.hash()
    packages = [{"name": "pandas", "version": "2.3.1"}, {"name": "numpy", "version": "2.1.0"}]
    assert build_spec(probe(packages=packages)).spec.hash() != first.hash()


def test_diff_in_words() -> None:
    old = build_spec(probe()).spec
    new = build_spec(
        probe(
            packages=[
                {"name": "pandas", "version": "2.3.1"},
                {"name": "numpy", "version": "2.1.0"},
                {"name": "polars", "version": "1.20"},
                {"name": "mylib", "version": "0.1"},
            ],
            env={"MODE": "prod"},
        )
    ).spec
    assert old.diff(new) == [
        "mylib 0.1 now from an index",
        "pandas 2.2.3 → 2.3.1",
        "added polars 1.20",
        "PYTHONHASHSEED removed",
    ]
    assert old.diff(old) == []


def test_drift_names_missing_and_different_packages_and_python() -> None:
    spec = build_spec(probe()).spec
    live = build_spec(
        probe(
            python={"version": "3.12.1", "implementation": "CPython"},
            packages=[{"name": "Pandas", "version": "2.3.1"}, {"name": "extra", "version": "1"}],
        )
    ).spec
    assert spec.drift(live) == [
        "Python 3.12.1, the spec has 3.11.7",
        "mylib 0.1 missing",
        "numpy 2.1.0 missing",
        "pandas 2.3.1, the spec has 2.2.3",
    ]


def test_capture_here_leaves_secret_variables_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_TOKEN", "t0ps3cret")
    monkeypatch.setenv("INNOCENT", "same-as-credential")
    monkeypatch.setenv("PLAIN", "1")
    captured = capture_here(credential_values=["same-as-credential"])
    assert {"MY_API_TOKEN", "INNOCENT"} <= set(captured.dropped_env)
    assert captured.spec.env["PLAIN"] == "1"
    text = json.dumps(dict(captured.spec.document))
    assert "t0ps3cret" not in text and "same-as-credential" not in text
    assert "pytest" in captured.spec.packages


def test_working_files_follow_gitignore_and_the_cap(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("data/\n*.log\n")
    (tmp_path / "analysis.ipynb").write_text("{}")
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "util.py").write_text("x = 1\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "big.csv").write_text("a,b\n" * 1000)
    (tmp_path / "run.log").write_text("noise")
    store = f"file://{tmp_path / 'blobs'}"
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / ".gitignore").write_text("*\n")
    stored = store_working_files(tmp_path, store)
    from jupyter_flows.storage import BlobStore

    files = BlobStore(store).get_manifest(stored["manifest"])
    assert sorted(files) == [".gitignore", "analysis.ipynb", "helpers/util.py"]
    with pytest.raises(WorkingFilesTooLarge, match=r"over the 0\.0 MB cap.*analysis\.ipynb"):
        store_working_files(tmp_path, store, cap=3)


def test_the_workers_of_an_existing_dask_cluster_are_checked_against_the_lock() -> None:
    distributed = pytest.importorskip("distributed")
    from jupyter_flows.agent.environment import check_dask_workers

    document = copy.deepcopy(dict(capture_here().spec.document))
    document["image"]["packages"].append({"name": "tinypkg", "version": "1.0"})
    for package in document["image"]["packages"]:
        if package["name"] == "pytest":
            package["version"] = "0.0.1"
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        problems = check_dask_workers(ResourceSpec(document), cluster.scheduler_address)
    (worker,) = {line.split(": ")[0] for line in problems}
    assert worker.startswith("worker ")
    assert any(line.endswith("tinypkg 1.0 missing") for line in problems)
    assert any("pytest" in line and "the spec has 0.0.1" in line for line in problems)
