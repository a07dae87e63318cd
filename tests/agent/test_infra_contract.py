"""One contract for every infrastructure: real commands, their output and exit codes.

Each kind joins the suite with one factory in ``TARGETS`` that returns the infrastructure
and a way to make a credential's value available to its runs. Kubernetes runs here against
the fake API server whose kubelet executes each pod's command as a local process, so the
Job manifest, the watch, the log follow and the delete all carry a real process's life.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.agent.infra import ExitStatus, Infrastructure, RunSpec


@dataclass
class Target:
    infra: Infrastructure
    add_credential: Callable[[str, str], None]
    resources: dict[str, Any] = field(default_factory=dict)


def kubernetes_on_the_fake(request: pytest.FixtureRequest) -> Target:
    pytest.importorskip("kubernetes")
    from jupyter_flows.agent.infra.kubernetes import KubernetesJob

    fake = request.getfixturevalue("fake_k8s_exec")
    return Target(
        KubernetesJob(host=fake.url),
        lambda name, value: fake.add_secret(name, {"value": value}),
        {"image": "python:3.11-slim", "cpu": "250m", "memory": "256Mi"},
    )


def local_process(request: pytest.FixtureRequest) -> Target:
    from jupyter_flows.agent.infra.local import LocalProcess

    values: dict[str, str] = {}
    return Target(LocalProcess(credentials=values), values.__setitem__)


def dask_process(request: pytest.FixtureRequest) -> Target:
    from jupyter_flows.agent.infra.dask import DaskCluster

    values: dict[str, str] = {}
    return Target(DaskCluster(credentials=values), values.__setitem__, {"cpu": 1})


TARGETS: dict[str, Callable[[pytest.FixtureRequest], Target]] = {
    "kubernetes": kubernetes_on_the_fake,
    "local": local_process,
    "dask": dask_process,
}


@pytest.fixture(params=sorted(TARGETS))
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    made = TARGETS[request.param](request)
    yield made
    made.infra.close()


def python(target: Target, code: str, **overrides: Any) -> RunSpec:
    return RunSpec(
        flow_run_id=f"run-{uuid.uuid4().hex[:12]}",
        flow_id="contract",
        command=[sys.executable, "-c", code],
        resources=target.resources,
        **overrides,
    )


def test_a_run_that_succeeds(target: Target) -> None:
    lines: list[str] = []
    code = "for i in range(3):\n    print('line', i, flush=True)"
    status = target.infra.run(python(target, code), on_log=lines.append)
    assert status.ok and status.code == 0
    assert lines == ["line 0", "line 1", "line 2"]


def test_a_run_that_fails_keeps_its_exit_code(target: Target) -> None:
    lines: list[str] = []
    code = "import sys\nprint('about to fail', flush=True)\nsys.exit(7)"
    status = target.infra.run(python(target, code), on_log=lines.append)
    assert status.code == 7 and not status.ok and not status.cancelled
    assert lines == ["about to fail"]


def test_env_and_credentials_reach_the_process(target: Target) -> None:
    target.add_credential("warehouse-password", "hunter2")
    lines: list[str] = []
    code = "import os\nprint(os.environ['MODE'], os.environ['WAREHOUSE_PASSWORD'])"
    run = python(target, code, env={"MODE": "nightly"}, credentials=["warehouse-password"])
    assert target.infra.run(run, on_log=lines.append).ok
    assert lines == ["nightly hunter2"]


def test_output_arrives_whole_and_in_order(target: Target) -> None:
    lines: list[str] = []
    code = "for i in range(2000):\n    print(f'{i:05d} ✓ ünïcode')"
    assert target.infra.run(python(target, code), on_log=lines.append).ok
    assert lines == [f"{i:05d} ✓ ünïcode" for i in range(2000)]


def test_cancel_stops_the_process(target: Target, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = (
        "import os, sys, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)"
    )
    cancel = threading.Event()

    def on_log(line: str) -> None:
        if line == "ready":
            cancel.set()

    status = target.infra.run(python(target, code), on_log=on_log, cancel=cancel)
    assert status.cancelled and not status.ok
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_a_deadline_cancels_the_run(target: Target) -> None:
    status = target.infra.run(python(target, "import time; time.sleep(600)"), timeout=2)
    assert status.cancelled
    assert status.message.startswith("timed out after 2 s")


def test_wait_and_status_after_the_end(target: Target) -> None:
    handle = target.infra.start(python(target, "raise SystemExit(3)"))
    assert target.infra.wait(handle, timeout=120).code == 3
    assert target.infra.poll(handle) == target.infra.wait(handle)
    assert isinstance(target.infra.status(handle), str)
    assert isinstance(target.infra.wait(handle), ExitStatus)
