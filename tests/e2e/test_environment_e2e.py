"""A flow's environment end to end: captured from a real kernel of a second virtual
environment, reproduced by an agent that only knows its lock, checked for drift.

Everything is offline: the second environment's one package is a wheel made here, and the
agent's builds install from that folder only (``PIP_NO_INDEX``, ``PIP_FIND_LINKS``).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.client import FlowsClient
from jupyter_flows.engine.run_env import OVERLAY, STORAGE_URL
from jupyter_flows.spec.capture import build_spec, probe_interpreter, probe_kernel
from jupyter_flows.spec.python_flows import registration
from jupyter_flows.spec.resource_spec import ResourceSpec
from tests.e2e.test_agents_e2e import Agents, final
from tests.flows_server import FlowsServer

pytestmark = pytest.mark.slow

FLOWS = """
import json
import sys

from jupyter_flows import flow, task


@task
def where() -> dict:
    import tinypkg

    return {"prefix": sys.prefix, "tinypkg": tinypkg.__version__}


@flow
def report(out: str) -> None:
    with open(out, "w") as handle:
        json.dump(where(), handle)
"""


def make_wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel of one module that knows its version."""
    files = {
        f"{name}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ).encode(),
        f"{name}-{version}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record_name = f"{name}-{version}.dist-info/RECORD"
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    lines.append(f"{record_name},,")
    files[record_name] = ("\n".join(lines) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


class SecondVenv:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.wheels = root / "wheels"
        self.venv = root / "venv2"
        self.python = str(self.venv / "bin" / "python")

    def pip(self, *args: str) -> None:
        subprocess.run(
            [self.python, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check"]
            + ["--find-links", str(self.wheels), *args],
            check=True,
        )

    def site_packages(self) -> str:
        out = subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()


@pytest.fixture(scope="module")
def venv2(tmp_path_factory: pytest.TempPathFactory) -> SecondVenv:
    made = SecondVenv(tmp_path_factory.mktemp("second-venv"))
    made.wheels.mkdir()
    for version in ("1.0", "2.0"):
        make_wheel(made.wheels, "tinypkg", version)
    subprocess.run([sys.executable, "-m", "venv", str(made.venv)], check=True)
    made.pip("tinypkg==1.0")
    return made


@pytest.fixture
def kernel_of(
    venv2: SecondVenv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecondVenv]:
    """A kernel spec whose interpreter is the second venv's. It borrows ipykernel from this
    environment (a .pth) and says so (the overlay variable), as a run's process does."""
    ours = sysconfig.get_path("purelib")
    Path(venv2.site_packages(), "borrowed.pth").write_text(ours + "\n")
    spec_dir = tmp_path / "jupyter" / "kernels" / "venv2"
    spec_dir.mkdir(parents=True)
    argv = [venv2.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "venv2", "language": "python"}
    kernel["env"] = {OVERLAY: ours}
    (spec_dir / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    yield venv2
    Path(venv2.site_packages(), "borrowed.pth").unlink()


def test_capture_from_a_running_kernel_of_a_second_venv(kernel_of: SecondVenv) -> None:
    from jupyter_client.multikernelmanager import AsyncMultiKernelManager

    async def capture() -> dict[str, Any]:
        manager = AsyncMultiKernelManager()
        kernel_id = await manager.start_kernel(kernel_name="venv2")
        try:
            return await probe_kernel(manager, kernel_id, timeout=60)
        finally:
            await manager.shutdown_all(now=True)

    probe = asyncio.run(capture())
    spec = build_spec(probe, kernel_spec="venv2", source="kernel").spec
    names = {name: p["version"] for name, p in spec.packages.items()}
    assert names.pop("tinypkg") == "1.0"
    assert set(names) <= {"pip", "setuptools", "wheel"}  # what every venv has, and no more
    assert spec.python_executable == kernel_of.python
    assert spec.document["image"]["kernel_spec"] == "venv2"


@pytest.fixture
def agents(flows_server: FlowsServer, tmp_path: Path, venv2: SecondVenv) -> Iterator[Agents]:
    """Agents that build environments offline, from the wheels folder, into tmp_path."""
    made = Agents(flows_server, tmp_path)
    made.server = _EnvServer(flows_server, venv2, tmp_path)  # type: ignore[assignment]
    yield made
    made.stop_all()


class _EnvServer:
    def __init__(self, server: FlowsServer, venv2: SecondVenv, tmp_path: Path) -> None:
        self.server, self.venv2, self.tmp_path = server, venv2, tmp_path

    def env(self) -> dict[str, str]:
        return {
            **self.server.env(),
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(self.venv2.wheels),
            "UV_NO_INDEX": "1",
            "UV_FIND_LINKS": str(self.venv2.wheels),
            "UV_CACHE_DIR": str(self.tmp_path / "uv-cache"),
            "JUPYTER_DATA_DIR": str(self.tmp_path / "data"),
            STORAGE_URL: str(self.tmp_path / "blobs"),
        }


def deploy(api: FlowsClient, flows_file: Path, spec: dict[str, Any], name: str, **kw: Any) -> str:
    body = registration(flows_file, flow="report", name=name)
    body["content"]["resource_spec"] = spec
    version = api.register_flow(**body).version
    return api.create_deployment(version.flow_id, "env", work_queue=name, **kw).id


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "env_flows.py"
    path.write_text(FLOWS)
    return path


def lock_only(venv2: SecondVenv, **changes: str) -> dict[str, Any]:
    """The second venv's spec as an agent elsewhere sees it: its interpreter is not there."""
    document = copy.deepcopy(dict(build_spec(probe_interpreter(venv2.python)).spec.document))
    document["image"]["python"]["executable"] = "/nowhere/bin/python"
    for package in document["image"]["packages"]:
        package["version"] = changes.get(package["name"], package["version"])
    return document


def job_log(api: FlowsClient, run_id: str) -> str:
    return "\n".join(line.message for line in api.iterate(api.list_logs, flow_run_id=run_id))


def test_a_run_gets_a_venv_rebuilt_from_the_lock_and_reuses_it(
    flows_server: FlowsServer, agents: Agents, venv2: SecondVenv, flows_file: Path, tmp_path: Path
) -> None:
    api = FlowsClient(flows_server.url, flows_server.api_key)
    deployment = deploy(api, flows_file, lock_only(venv2), "rebuilt")
    agents.start("rebuilt", "env-agent")
    for attempt in ("first", "second"):
        out = tmp_path / f"{attempt}.json"
        run = api.run_deployment(deployment, {"out": str(out)})
        ended = final(api, run.id, patience=300)
        assert ended.state is not None and ended.state.type == "COMPLETED", job_log(api, run.id)
        seen = json.loads(out.read_text())
        assert seen["tinypkg"] == "1.0"
        assert seen["prefix"].startswith(str(tmp_path / "data" / "jupyter_flows" / "environments"))
        log = job_log(api, run.id)
        assert "running in the flow's environment" in log, log
        # the first run builds it; the second starts in it at once
        assert ("building a virtual environment" in log) == (attempt == "first"), log
        assert "differs from the flow's spec" not in log


def test_a_build_failure_fails_the_run_naming_the_package(
    flows_server: FlowsServer, agents: Agents, venv2: SecondVenv, flows_file: Path, tmp_path: Path
) -> None:
    api = FlowsClient(flows_server.url, flows_server.api_key)
    deployment = deploy(api, flows_file, lock_only(venv2, tinypkg="9.9"), "broken")
    agents.start("broken", "env-agent-broken")
    run = api.run_deployment(deployment, {"out": str(tmp_path / "never.json")})
    ended = final(api, run.id, patience=300)
    assert ended.state is not None and ended.state.type == "FAILED"
    assert "tinypkg" in (ended.state.message or "")
    assert not (tmp_path / "never.json").exists()


def here_with_tinypkg() -> dict[str, Any]:
    """This environment's spec, plus a package it does not have: a drift."""
    document = copy.deepcopy(dict(build_spec(probe_interpreter(sys.executable)).spec.document))
    document["image"]["packages"].append({"name": "tinypkg", "version": "1.0"})
    return document


def test_drift_is_a_warning_and_strict_fails_before_any_task(
    flows_server: FlowsServer, agents: Agents, flows_file: Path, tmp_path: Path
) -> None:
    api = FlowsClient(flows_server.url, flows_server.api_key)
    spec = here_with_tinypkg()
    lenient = deploy(api, flows_file, spec, "drift")
    strict = deploy(api, flows_file, spec, "strict", tags=["environment:strict"])
    agents.start("drift", "env-agent-drift")
    agents.start("strict", "env-agent-strict")

    run = api.run_deployment(lenient, {"out": str(tmp_path / "lenient.json")})
    ended = final(api, run.id)
    assert ended.state is not None and ended.state.type == "FAILED"  # no tinypkg here
    warnings = [
        line
        for line in api.iterate(api.list_logs, flow_run_id=run.id)
        if line.level == 30 and "tinypkg 1.0 missing" in line.message
    ]
    assert warnings, job_log(api, run.id)

    run = api.run_deployment(strict, {"out": str(tmp_path / "strict.json")})
    ended = final(api, run.id)
    assert ended.state is not None and ended.state.type == "FAILED"
    assert "tinypkg 1.0 missing" in (ended.state.message or "")
    assert "strict" in (ended.state.message or "")
    assert list(api.iterate(api.list_task_runs, run.id)) == []


def test_a_changed_package_is_a_new_version_whose_diff_names_it(
    flows_server: FlowsServer, venv2: SecondVenv, flows_file: Path
) -> None:
    api = FlowsClient(flows_server.url, flows_server.api_key)
    before = build_spec(probe_interpreter(venv2.python)).spec
    body = registration(flows_file, flow="report", name="changing")
    body["content"]["resource_spec"] = dict(before.document)
    first = api.register_flow(**body).version
    venv2.pip("tinypkg==2.0")
    try:
        after = build_spec(probe_interpreter(venv2.python)).spec
        assert ResourceSpec(before.document).hash() != after.hash()
        body["content"]["resource_spec"] = dict(after.document)
        second = api.register_flow(**body)
        assert second.new and second.version.version_number == first.version_number + 1
        diff = api.diff_resource_specs(second.version.id, first.id)
        assert diff["changes"] == ["tinypkg 1.0 → 2.0"]
        cli = subprocess.run(
            [sys.executable, "-m", "jupyter_flows.cli", "spec", "diff", "changing@1", "changing@2"],
            env={**os.environ, **flows_server.env()},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.stdout.strip() == "tinypkg 1.0 → 2.0", cli.stderr
        shown = subprocess.run(
            [sys.executable, "-m", "jupyter_flows.cli", "spec", "show", "changing"],
            env={**os.environ, **flows_server.env(), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Python 3." in shown.stdout and "tinypkg" in shown.stdout, shown.stderr
        assert "2.0" in shown.stdout
    finally:
        venv2.pip("tinypkg==1.0")


NOTEBOOK_CELLS = [
    "import json, sys\nimport tinypkg",
    "out = ''",
    "seen = {'prefix': sys.prefix, 'tinypkg': tinypkg.__version__}",
    "with open(out, 'w') as handle:\n    json.dump(seen, handle)",
]


@pytest.mark.parametrize("engine", ["tasks", "kernel"])
def test_a_notebook_runs_in_a_venv_rebuilt_from_its_lock(
    flows_server: FlowsServer, agents: Agents, venv2: SecondVenv, tmp_path: Path, engine: str
) -> None:
    """The same reproduction for a notebook, on either engine: its cells (the kernel's
    too) import the package only the rebuilt environment has."""
    import nbformat

    from jupyter_flows.cli.register import register_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(source, id=f"cell-{i}") for i, source in enumerate(NOTEBOOK_CELLS)
    ]
    nb.cells[1].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / f"uses_tinypkg_{engine}.ipynb"
    nbformat.write(nb, path)
    api = FlowsClient(flows_server.url, flows_server.api_key)
    queue = f"rebuilt-nb-{engine}"
    register_notebook(
        api,
        str(path),
        engine=engine,
        queue=queue,
        blob_storage=str(tmp_path / "blobs"),
        resource_spec=lock_only(venv2),
    )
    (group,) = list(api.iterate(api.list_flows, name=path.stem))
    (deployment,) = list(api.iterate(api.list_deployments, flow_id=group.id))
    agents.start(queue, f"env-agent-nb-{engine}")
    out = tmp_path / f"{engine}.json"
    run = api.run_deployment(deployment.id, {"out": str(out)})
    ended = final(api, run.id, patience=300)
    assert ended.state is not None and ended.state.type == "COMPLETED", job_log(api, run.id)
    seen = json.loads(out.read_text())
    assert seen["tinypkg"] == "1.0"
    assert seen["prefix"].startswith(str(tmp_path / "data" / "jupyter_flows" / "environments"))
