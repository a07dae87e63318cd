"""The infrastructure interface: run specs, handles, the registry and run()'s lifecycle."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from jupyter_flows.agent.infra import (
    CredentialRef,
    ExitStatus,
    Handle,
    HandleNotFound,
    Infrastructure,
    InfrastructureError,
    InfrastructureUnavailable,
    InvalidRunSpec,
    RunSpec,
    WaitTimeout,
    available_infrastructures,
    base,
    infrastructure_class,
    infrastructure_from_name,
    register_infrastructure,
)


def spec(**overrides: object) -> RunSpec:
    values: dict[str, object] = {"flow_run_id": "run-1", "flow_id": "flow-1", "command": ["true"]}
    values.update(overrides)
    return RunSpec(**values)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- RunSpec


def test_run_spec_normalises_its_fields() -> None:
    run = spec(
        command=["python", "-m", "x"],
        credentials=["db-password", {"name": "api-token", "env": "TOKEN", "key": "token"}],
        resources={"image": "python:3.11", "labels": {"team": "ds", "tier": 1}},
    )
    assert run.command == ("python", "-m", "x")
    assert run.credentials == (
        CredentialRef("db-password"),
        CredentialRef("api-token", env="TOKEN", key="token"),
    )
    assert run.credentials[0].env_name == "DB_PASSWORD"
    assert run.credentials[0].secret_name == "db-password"
    assert run.labels == {"team": "ds", "tier": "1"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"flow_run_id": ""}, "flow_run_id must be a non-empty string"),
        ({"flow_id": None}, "flow_id must be a non-empty string"),
        ({"command": []}, "command must be a non-empty list"),
        ({"command": "python -m x"}, "command must be a non-empty list"),
        ({"command": ["python", 3]}, "command must be a non-empty list"),
        ({"env": {"A": 1}}, "env must map strings to strings"),
        ({"attempt": 0}, "attempt must be a positive integer"),
        ({"credentials": ["Bad_Name"]}, "lowercase letters, digits and dashes"),
        ({"credentials": [42]}, "not a credential reference"),
        ({"env": {"DB_PASSWORD": "x"}, "credentials": ["db-password"]}, "both set the variable"),
        ({"credentials": ["a-b", {"name": "c", "env": "A_B"}]}, "both set 'A_B'"),
        ({"resources": {"labels": ["x"]}}, "resources.labels must be a mapping"),
    ],
)
def test_run_spec_refuses_bad_input(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRunSpec, match=message):
        spec(**overrides).labels  # noqa: B018 - labels is validated when read


def test_handles_are_plain_data() -> None:
    handle = Handle("kubernetes", "ns/job", "run-1", {"namespace": "ns", "job": "job"})
    assert Handle.from_dict(handle.to_dict()) == handle


def test_exit_status_ok() -> None:
    assert ExitStatus(0).ok
    assert not ExitStatus(1).ok
    assert not ExitStatus(None).ok
    assert not ExitStatus(0, cancelled=True).ok


# ---------------------------------------------------------------------- registry


class Scripted(Infrastructure):
    """An in-memory infrastructure whose runs end when the test says so."""

    kind = "scripted"

    def __init__(self, lines: tuple[str, ...] = (), code: int | None = None) -> None:
        self.lines, self.code = lines, code
        self.started: list[RunSpec] = []
        self.cancelled: list[str] = []
        self.ended = threading.Event()

    def start(self, run: RunSpec) -> Handle:
        self.started.append(run)
        if self.code is not None:
            self.ended.set()
        return Handle(self.kind, run.flow_run_id, run.flow_run_id)

    def wait(self, handle: Handle, timeout: float | None = None) -> ExitStatus:
        if not self.ended.wait(timeout):
            raise WaitTimeout(f"{handle.id} still running")
        if handle.id in self.cancelled:
            return ExitStatus(None, "stopped", cancelled=True)
        if self.code == 99:
            raise InfrastructureUnavailable("lost the cluster")
        return ExitStatus(self.code, "done")

    def logs(self, handle: Handle) -> Iterator[str]:
        yield from self.lines

    def cancel(self, handle: Handle) -> None:
        self.cancelled.append(handle.id)
        self.ended.set()

    def status(self, handle: Handle) -> str:
        return "ended" if self.ended.is_set() else "running"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations of a test go into a copy of the registry, dropped after it."""
    monkeypatch.setattr(base, "INFRASTRUCTURES", base.INFRASTRUCTURES.copy())


def test_kubernetes_is_built_in_and_loaded_lazily() -> None:
    pytest.importorskip("kubernetes")
    assert "kubernetes" in available_infrastructures()
    cls = infrastructure_class("kubernetes")
    assert cls.kind == "kubernetes"
    assert infrastructure_class("k8s") is cls
    infra = infrastructure_from_name("kubernetes", namespace="flows", image="python:3.11")
    assert isinstance(infra, cls)


def test_register_a_class_or_an_import_path(registry: None) -> None:
    register_infrastructure("scripted", Scripted)
    assert isinstance(infrastructure_from_name("scripted", code=0), Scripted)
    register_infrastructure("by-path", f"{__name__}:Scripted")
    assert infrastructure_class("by-path") is Scripted
    assert {"scripted", "by-path"} <= set(available_infrastructures())


def test_unknown_and_broken_infrastructures_are_clear_errors(registry: None) -> None:
    with pytest.raises(InvalidRunSpec, match="unknown infrastructure 'nope'; known: .*kubernetes"):
        infrastructure_from_name("nope")
    register_infrastructure("missing", "no_such_module_here:Thing")
    with pytest.raises(InfrastructureUnavailable, match="'missing'.*cannot be loaded"):
        infrastructure_class("missing")
    register_infrastructure("wrong", "threading:Thread")
    with pytest.raises(InfrastructureError, match="is not an Infrastructure"):
        infrastructure_class("wrong")


def test_where_a_kind_runs_is_a_property_of_its_class() -> None:
    """The agent hands its interpreter and pid to a run only on kinds that run here."""
    assert infrastructure_class("local").runs_on_this_machine
    assert infrastructure_class("dask").runs_on_this_machine
    assert not Infrastructure.runs_on_this_machine
    pytest.importorskip("kubernetes")
    assert not infrastructure_class("kubernetes").runs_on_this_machine


def test_each_kind_says_where_its_runs_go() -> None:
    """What the agent registers with, shown in a run's header and the agent list."""
    assert infrastructure_from_name("local").describe().startswith("local process on ")
    assert (
        "tcp://sched:8786"
        in infrastructure_from_name("dask", address="tcp://sched:8786").describe()
    )
    assert "LocalCluster" in infrastructure_from_name("dask").describe()
    pytest.importorskip("kubernetes")
    kube = infrastructure_from_name("kubernetes", namespace="flows", api_client=object())
    assert kube.describe() == "kubernetes, namespace flows"


# ---------------------------------------------------------------------- run()


def test_run_streams_logs_and_returns_the_exit_status() -> None:
    infra = Scripted(lines=("one", "two"), code=0)
    lines: list[str] = []
    handles: list[Handle] = []
    status = infra.run(spec(), on_log=lines.append, on_start=handles.append)
    assert status == ExitStatus(0, "done")
    assert lines == ["one", "two"]
    assert handles == [Handle("scripted", "run-1", "run-1")]
    assert infra.cancelled == []


def test_run_cancels_when_asked() -> None:
    infra = Scripted()
    cancel = threading.Event()
    cancel.set()
    status = infra.run(spec(), cancel=cancel)
    assert status.cancelled and status.code is None
    assert status.message == "cancelled: stopped"
    assert infra.cancelled == ["run-1"]


def test_run_cancels_at_its_deadline() -> None:
    infra = Scripted()
    status = infra.run(spec(), timeout=0.01)
    assert status.cancelled
    assert status.message.startswith("timed out after 0.01 s")
    assert infra.cancelled == ["run-1"]


def test_run_cancels_then_raises_when_the_infrastructure_fails() -> None:
    infra = Scripted(code=99)
    with pytest.raises(InfrastructureUnavailable, match="lost the cluster"):
        infra.run(spec())
    assert infra.cancelled == ["run-1"]


def test_run_reports_a_broken_log_stream_as_a_log_line() -> None:
    class BrokenLogs(Scripted):
        def logs(self, handle: Handle) -> Iterator[str]:
            yield "before"
            raise HandleNotFound("pod vanished")

    lines: list[str] = []
    assert BrokenLogs(code=0).run(spec(), on_log=lines.append).ok
    assert lines == ["before", "[jupyter-flows] log stream of run-1 ended: pod vanished"]


def test_poll_is_wait_without_blocking() -> None:
    running = Scripted()
    handle = running.start(spec())
    assert running.poll(handle) is None
    running.cancel(handle)
    assert running.poll(handle) == ExitStatus(None, "stopped", cancelled=True)
