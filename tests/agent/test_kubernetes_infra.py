"""KubernetesJob against the fake API server: the test plays the cluster's part."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_flows.agent.infra import (
    ExitStatus,
    Handle,
    HandleNotFound,
    InfrastructureError,
    InfrastructureUnavailable,
    InvalidRunSpec,
    RunSpec,
    WaitTimeout,
)
from tests.agent.fake_k8s import FakeKubernetes

pytest.importorskip("kubernetes")
from jupyter_flows.agent.infra.kubernetes import KubernetesJob  # noqa: E402

END = object()


def run_spec(run_id: str = "run-1", **overrides: Any) -> RunSpec:
    values: dict[str, Any] = {
        "flow_run_id": run_id,
        "flow_id": "flow-1",
        "command": ["python", "-m", "jupyter_flows.agent.run", run_id],
        "resources": {"image": "python:3.11-slim", "cpu": "500m", "memory": "1Gi"},
    }
    values.update(overrides)
    return RunSpec(**values)


@pytest.fixture
def k8s(fake_k8s: FakeKubernetes) -> Iterator[KubernetesJob]:
    infra = KubernetesJob(host=fake_k8s.url, request_timeout=30)
    yield infra
    infra.close()


def job_name(handle: Handle) -> str:
    return str(handle.data["job"])


def collect_logs(infra: KubernetesJob, handle: Handle) -> queue.Queue[Any]:
    """Read the log iterator in a thread; each line, then END, lands in the queue."""
    lines: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        try:
            for line in infra.logs(handle):
                lines.put(line)
        finally:
            lines.put(END)

    threading.Thread(target=read, daemon=True).start()
    return lines


def drain(lines: queue.Queue[Any]) -> list[Any]:
    seen = []
    while (item := lines.get(timeout=60)) is not END:
        seen.append(item)
    return seen


# ---------------------------------------------------------------------- start


def test_start_creates_one_validated_job(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    handle = k8s.start(run_spec())
    assert handle.kind == "kubernetes" and handle.flow_run_id == "run-1"
    assert handle.id == "default/jupyter-flows-run-1-1"
    [body] = fake_k8s.created  # the fake validated it against the schema on the way in
    assert body == k8s.manifest(run_spec())
    job = fake_k8s.job("jupyter-flows-run-1-1")
    assert job is not None and job["metadata"]["uid"] == handle.data["uid"]
    assert len(fake_k8s.pods_of("jupyter-flows-run-1-1")) == 1


def test_starting_the_same_attempt_twice_adopts_the_job(
    fake_k8s: FakeKubernetes, k8s: KubernetesJob
) -> None:
    """An agent that crashed after creating the Job does not run the flow twice."""
    first = k8s.start(run_spec())
    second = k8s.start(run_spec())
    assert first == second
    assert len(fake_k8s.created) == 2 and len(fake_k8s.pods_of(job_name(first))) == 1
    third = k8s.start(run_spec(attempt=2))  # a retry through the queue is a new Job
    assert job_name(third) == "jupyter-flows-run-1-2"


def test_a_name_clash_with_another_runs_job_is_an_error(
    fake_k8s: FakeKubernetes, k8s: KubernetesJob
) -> None:
    k8s.start(run_spec("run-1"))
    other = KubernetesJob(host=fake_k8s.url)
    other.jobs.job_name = lambda run: "jupyter-flows-run-1-1"  # type: ignore[method-assign]
    with pytest.raises(InfrastructureError, match="already exists.*belongs to another run"):
        other.start(run_spec("run-2"))


def test_an_unknown_namespace_is_a_clear_error(fake_k8s: FakeKubernetes) -> None:
    infra = KubernetesJob("nowhere", host=fake_k8s.url)
    with pytest.raises(InfrastructureError, match='namespaces "nowhere" not found'):
        infra.start(run_spec())


def test_a_spec_without_image_fails_before_any_request(fake_k8s: FakeKubernetes) -> None:
    infra = KubernetesJob(host=fake_k8s.url)
    with pytest.raises(InvalidRunSpec, match="resources.image is required"):
        infra.start(run_spec(resources={}))
    assert fake_k8s.requests == []


def test_a_manifest_the_api_server_refuses_is_invalid_run_spec(
    fake_k8s: FakeKubernetes, k8s: KubernetesJob
) -> None:
    original = k8s.manifest

    def broken(run: RunSpec) -> dict[str, Any]:
        body = original(run)
        body["metadata"]["name"] = "Not_A_Valid_Name"  # the client checks types, not names
        return body

    k8s.manifest = broken  # type: ignore[method-assign]
    with pytest.raises(InvalidRunSpec, match="is invalid: metadata.name"):
        k8s.start(run_spec())


# ---------------------------------------------------------------------- wait


def test_wait_returns_exit_code_zero_when_the_pod_succeeds(
    fake_k8s: FakeKubernetes, k8s: KubernetesJob
) -> None:
    handle = k8s.start(run_spec())
    pod = fake_k8s.wait_for_pod(job_name(handle))
    outcome: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=lambda: outcome.put(k8s.wait(handle)), daemon=True).start()
    fake_k8s.wait_until(lambda: any("watch=" in p for _, p in fake_k8s.requests))
    fake_k8s.start_pod(pod)
    fake_k8s.finish_pod(pod, 0)
    assert outcome.get(timeout=60) == ExitStatus(0, "Completed")


@pytest.mark.parametrize(
    ("code", "reason", "message", "expected"),
    [
        (3, None, None, ExitStatus(3, "Error")),
        (137, "OOMKilled", None, ExitStatus(137, "OOMKilled")),
        (124, "Error", "flow timed out", ExitStatus(124, "Error; flow timed out")),
    ],
)
def test_wait_returns_the_containers_exit_code_on_failure(
    fake_k8s: FakeKubernetes,
    k8s: KubernetesJob,
    code: int,
    reason: str | None,
    message: str | None,
    expected: ExitStatus,
) -> None:
    handle = k8s.start(run_spec())
    pod = fake_k8s.wait_for_pod(job_name(handle))
    fake_k8s.start_pod(pod)
    fake_k8s.finish_pod(pod, code, reason=reason, message=message)
    assert k8s.wait(handle, timeout=60) == expected


def test_a_job_that_fails_without_an_exit_code(
    fake_k8s: FakeKubernetes, k8s: KubernetesJob
) -> None:
    handle = k8s.start(run_spec())
    fake_k8s.wait_for_pod(job_name(handle))
    fake_k8s.fail_job(job_name(handle), "DeadlineExceeded", "Job was active longer than allowed")
    assert k8s.wait(handle, timeout=60) == ExitStatus(
        None, "DeadlineExceeded: Job was active longer than allowed"
    )


def test_wait_times_out_while_the_run_goes_on(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    handle = k8s.start(run_spec())
    with pytest.raises(WaitTimeout, match="still running after 1 s"):
        k8s.wait(handle, timeout=1)
    assert k8s.poll(handle) is None
    pod = fake_k8s.wait_for_pod(job_name(handle))
    fake_k8s.start_pod(pod)
    fake_k8s.finish_pod(pod, 0)
    assert k8s.poll(handle) == ExitStatus(0, "Completed")


def test_wait_survives_an_expired_watch(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    """A 410 Expired (history compacted) makes it list again, without missing the end."""
    handle = k8s.start(run_spec())
    pod = fake_k8s.wait_for_pod(job_name(handle))
    fake_k8s.expire_watches(1)
    outcome: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=lambda: outcome.put(k8s.wait(handle)), daemon=True).start()
    fake_k8s.wait_until(lambda: sum("watch=" in p for _, p in fake_k8s.requests) >= 2)
    fake_k8s.start_pod(pod)
    fake_k8s.finish_pod(pod, 0)
    assert outcome.get(timeout=60) == ExitStatus(0, "Completed")


def test_wait_outlasts_a_watch_that_ends(fake_k8s: FakeKubernetes) -> None:
    """The API server ends every watch after timeoutSeconds; wait watches again."""
    infra = KubernetesJob(host=fake_k8s.url, watch_seconds=1)
    handle = infra.start(run_spec())
    pod = fake_k8s.wait_for_pod(job_name(handle))
    outcome: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=lambda: outcome.put(infra.wait(handle)), daemon=True).start()
    fake_k8s.wait_until(lambda: sum("watch=" in p for _, p in fake_k8s.requests) >= 2)
    fake_k8s.start_pod(pod)
    fake_k8s.finish_pod(pod, 0)
    assert outcome.get(timeout=60) == ExitStatus(0, "Completed")


def test_wait_for_a_job_that_is_gone_is_handle_not_found(
    fake_k8s: FakeKubernetes, k8s: KubernetesJob
) -> None:
    handle = Handle(
        "kubernetes", "default/ghost", "run-9", {"namespace": "default", "job": "ghost"}
    )
    with pytest.raises(HandleNotFound, match="ghost"):
        k8s.wait(handle, timeout=5)
    with pytest.raises(HandleNotFound, match="ghost"):
        k8s.status(handle)


def test_a_new_agent_picks_up_a_handle(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    handle = k8s.start(run_spec())
    saved = handle.to_dict()
    pod = fake_k8s.wait_for_pod(job_name(handle))
    fake_k8s.start_pod(pod)
    fake_k8s.finish_pod(pod, 5)
    restarted = KubernetesJob(host=fake_k8s.url)
    assert restarted.wait(Handle.from_dict(saved), timeout=60).code == 5


def test_a_handle_of_another_kind_is_refused(k8s: KubernetesJob) -> None:
    with pytest.raises(InfrastructureError, match="is a process handle"):
        k8s.wait(Handle("process", "123", "run-1", {}))


# ---------------------------------------------------------------------- logs


def test_logs_stream_while_the_pod_runs(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    handle = k8s.start(run_spec())
    pod = fake_k8s.wait_for_pod(job_name(handle))
    lines = collect_logs(k8s, handle)  # starts before the container does
    fake_k8s.start_pod(pod)
    fake_k8s.write_log(pod, "first")
    assert lines.get(timeout=60) == "first"
    assert fake_k8s.pod(pod)["status"]["phase"] == "Running"  # type: ignore[index]
    fake_k8s.write_log(pod, "second", "  indented  ", "")
    fake_k8s.finish_pod(pod, 0)
    assert drain(lines) == ["second", "  indented  ", ""]
    follows = [p for _, p in fake_k8s.requests if p.split("?")[0].endswith("/log")]
    assert follows and all("follow=true" in p.lower() for p in follows)


def test_logs_resume_after_a_dropped_stream_without_repeating_lines(
    fake_k8s: FakeKubernetes, k8s: KubernetesJob
) -> None:
    handle = k8s.start(run_spec())
    pod = fake_k8s.wait_for_pod(job_name(handle))
    fake_k8s.start_pod(pod)
    lines = collect_logs(k8s, handle)
    fake_k8s.write_log(pod, "one", "two")
    assert [lines.get(timeout=60), lines.get(timeout=60)] == ["one", "two"]
    fake_k8s.cut_log_streams()
    fake_k8s.wait_until(
        lambda: sum(p.split("?")[0].endswith("/log") for _, p in fake_k8s.requests) >= 2
    )
    fake_k8s.write_log(pod, "three")
    fake_k8s.finish_pod(pod, 0)
    assert drain(lines) == ["three"]


def test_logs_of_a_finished_pod(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    handle = k8s.start(run_spec())
    pod = fake_k8s.wait_for_pod(job_name(handle))
    fake_k8s.start_pod(pod)
    fake_k8s.write_log(pod, "all", "done")
    fake_k8s.finish_pod(pod, 0)
    assert list(k8s.logs(handle)) == ["all", "done"]


def test_logs_end_when_the_job_is_cancelled_before_its_pod_started(
    fake_k8s: FakeKubernetes, k8s: KubernetesJob
) -> None:
    handle = k8s.start(run_spec())
    fake_k8s.wait_for_pod(job_name(handle))
    lines = collect_logs(k8s, handle)
    fake_k8s.wait_until(lambda: any("watch=" in p for _, p in fake_k8s.requests))
    k8s.cancel(handle)
    assert drain(lines) == []


# ---------------------------------------------------------------------- cancel


def test_cancel_deletes_the_job_and_its_pod(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    handle = k8s.start(run_spec())
    pod = fake_k8s.wait_for_pod(job_name(handle))
    fake_k8s.start_pod(pod)
    outcome: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=lambda: outcome.put(k8s.wait(handle)), daemon=True).start()
    fake_k8s.wait_until(lambda: any("watch=" in p for _, p in fake_k8s.requests))
    k8s.cancel(handle)
    status = outcome.get(timeout=60)
    assert status.cancelled and status.code is None
    assert fake_k8s.job(job_name(handle)) is None and fake_k8s.pod(pod) is None
    k8s.cancel(handle)  # again: nothing left, no error
    deletes = [p for m, p in fake_k8s.requests if m == "DELETE"]
    assert len(deletes) == 2


def test_run_cancels_through_the_event(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    cancel = threading.Event()
    handles: list[Handle] = []

    def started(handle: Handle) -> None:
        handles.append(handle)
        cancel.set()

    status = k8s.run(run_spec(), on_start=started, cancel=cancel)
    assert status.cancelled
    assert fake_k8s.job(job_name(handles[0])) is None


# ---------------------------------------------------------------------- status


def test_status_explains_a_pending_pod(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    handle = k8s.start(run_spec())
    pod = fake_k8s.wait_for_pod(job_name(handle))
    assert k8s.status(handle) == "pod pending: ContainerCreating"
    fake_k8s.set_waiting(pod, "ImagePullBackOff", 'Back-off pulling image "python:3.11-slim"')
    assert k8s.status(handle) == (
        'pod pending: ImagePullBackOff: Back-off pulling image "python:3.11-slim"'
    )
    message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    fake_k8s.set_unschedulable(pod, message)
    assert (
        k8s.status(handle)
        == f"pod pending: unschedulable (waiting for a node that fits): {message}"
    )


def test_status_through_a_run(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    handle = k8s.start(run_spec())
    pod = fake_k8s.wait_for_pod(job_name(handle))
    fake_k8s.start_pod(pod)
    assert k8s.status(handle) == "running on fake-node-1"
    fake_k8s.finish_pod(pod, 1)
    assert (
        k8s.status(handle)
        == "failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
    )


def test_status_names_a_missing_secret(fake_k8s: FakeKubernetes, k8s: KubernetesJob) -> None:
    handle = k8s.start(run_spec(credentials=["warehouse-password"]))
    fake_k8s.wait_for_pod(job_name(handle))
    assert k8s.status(handle) == (
        'pod pending: CreateContainerConfigError: secret "warehouse-password" not found'
    )


def test_fetched_values_go_in_a_secret_deleted_with_the_job(
    fake_k8s: FakeKubernetes, k8s: KubernetesJob
) -> None:
    run = run_spec(credentials=["db-password"], credential_values={"db-password": "hunter2-x"})
    handle = k8s.start(run)
    secret = f"{job_name(handle)}-credentials"
    assert fake_k8s.secrets[("default", secret)] == {"db-password": "hunter2-x"}
    assert fake_k8s.secret_owners[("default", secret)] == handle.data["uid"]
    assert "hunter2-x" not in str(fake_k8s.created)  # the Job carries a reference only
    pod = fake_k8s.wait_for_pod(job_name(handle))
    fake_k8s.start_pod(pod)  # the Secret is there: the container starts
    assert k8s.start(run) == handle  # adopted, its Secret kept (409 is not an error)
    k8s.cancel(handle)
    assert ("default", secret) not in fake_k8s.secrets


# ---------------------------------------------------------------------- a dead API server


def test_an_api_server_that_is_down_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    infra = KubernetesJob(host=f"http://127.0.0.1:{port}", request_timeout=5)
    with pytest.raises(InfrastructureUnavailable, match=f"127.0.0.1:{port} is unreachable"):
        infra.start(run_spec())


def test_an_api_server_that_never_answers_is_unavailable_not_a_hang() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        infra = KubernetesJob(host=f"http://127.0.0.1:{silent.getsockname()[1]}", request_timeout=1)
        with pytest.raises(InfrastructureUnavailable, match="did not answer"):
            infra.status(
                Handle("kubernetes", "default/x", "r", {"namespace": "default", "job": "x"})
            )


def test_no_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    infra = KubernetesJob(kubeconfig=str(tmp_path / "missing-kubeconfig"))
    with pytest.raises(InfrastructureUnavailable, match="no Kubernetes configuration"):
        infra.start(run_spec())
