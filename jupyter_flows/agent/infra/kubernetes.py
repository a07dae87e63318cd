"""Flow runs as Kubernetes Jobs: the Job's lifecycle.

One batch/v1 Job per flow-run attempt, built by ``JobBuilder`` (``kubernetes_manifest.py``)
from the run's resource spec. The Job is named after the run id and attempt, so starting the
same attempt twice (an agent that crashed after creating it) adopts the existing Job instead
of running the flow again. ``wait`` lists then watches the Job until it completes or fails;
``logs`` waits for the pod's container to start and follows its log; ``cancel`` deletes the
Job (its pods go with it); ``status`` explains a pod that is not running yet.

Every API call has a timeout, so an API server that is down or silent gives
``InfrastructureUnavailable``, never a hang. The ``kubernetes`` package (the ``kubernetes``
extra) is imported on first use.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from jupyter_flows.agent.infra.base import (
    ExitStatus,
    Handle,
    HandleNotFound,
    Infrastructure,
    InfrastructureError,
    InfrastructureUnavailable,
    InvalidRunSpec,
    RunSpec,
    WaitTimeout,
)
from jupyter_flows.agent.infra.kubernetes_manifest import (
    CONTAINER_NAME,
    LABEL_PREFIX,
    JobBuilder,
    label_selector,
    label_value,
)

__all__ = ["KubernetesJob", "describe_pod"]

T = TypeVar("T")


class KubernetesJob(Infrastructure):
    """Runs each flow run as a batch/v1 Job in ``namespace``.

    Connection: ``api_client`` (a ``kubernetes.client.ApiClient``) when given; else
    ``host`` (an API server URL, no auth: tests); else the in-cluster service account
    when running in a pod; else ``kubeconfig`` / ``KUBECONFIG`` / ``~/.kube/config`` with
    ``context``. Nothing is loaded until the first API call, so building manifests needs
    no cluster.

    Cluster-wide choices are configuration, not part of a run's spec: ``image`` (used
    when a run names none), ``service_account``, ``image_pull_secrets``, ``node_selector``,
    ``tolerations``, ``labels`` added to every Job, ``gpu_resource`` (the extended
    resource name of a GPU); they go to the ``JobBuilder`` that makes each run's Job.
    """

    kind = "kubernetes"

    def describe(self) -> str:
        return f"kubernetes, namespace {self.namespace}"

    def __init__(
        self,
        namespace: str = "default",
        *,
        api_client: Any = None,
        host: str | None = None,
        kubeconfig: str | None = None,
        context: str | None = None,
        image: str | None = None,
        image_pull_policy: str | None = None,
        image_pull_secrets: Sequence[str] = (),
        service_account: str | None = None,
        node_selector: Mapping[str, str] | None = None,
        tolerations: Sequence[Mapping[str, Any]] = (),
        labels: Mapping[str, str] | None = None,
        gpu_resource: str = "nvidia.com/gpu",
        ttl_seconds_after_finished: int | None = 3600,
        active_deadline_seconds: int | None = None,
        job_name_prefix: str = "jupyter-flows-",
        request_timeout: float = 30.0,
        watch_seconds: int = 60,
        log_read_timeout: float = 300.0,
    ) -> None:
        self.jobs = JobBuilder(
            namespace,
            image=image,
            image_pull_policy=image_pull_policy,
            image_pull_secrets=image_pull_secrets,
            service_account=service_account,
            node_selector=node_selector,
            tolerations=tolerations,
            labels=labels,
            gpu_resource=gpu_resource,
            ttl_seconds_after_finished=ttl_seconds_after_finished,
            active_deadline_seconds=active_deadline_seconds,
            job_name_prefix=job_name_prefix,
        )
        self.namespace = namespace
        self.request_timeout = request_timeout
        self.watch_seconds = watch_seconds
        self.log_read_timeout = log_read_timeout
        self._api_client = api_client
        self._host = host
        self._kubeconfig = kubeconfig
        self._context = context
        self._owns_client = api_client is None
        self._client_lock = threading.Lock()

    # ------------------------------------------------------------------ the run's Job

    def check(self, run: RunSpec) -> None:
        self.jobs.build_job(run)

    def manifest(self, run: RunSpec) -> dict[str, Any]:
        """The Job of ``run`` as the JSON the API server receives."""
        return self.jobs.manifest(run)

    # ------------------------------------------------------------------ the interface

    def start(self, run: RunSpec) -> Handle:
        body = self.manifest(run)
        name = body["metadata"]["name"]
        batch = self._batch()
        try:
            job = self._call(
                f"create Job {name}",
                batch.create_namespaced_job,
                self.namespace,
                body,
                not_found_ok=False,
            )
        except _Conflict:
            job = self._call(f"read Job {name}", batch.read_namespaced_job, name, self.namespace)
            found = (job.metadata.labels or {}).get(LABEL_PREFIX + "flow-run-id")
            if found != label_value(run.flow_run_id):
                raise InfrastructureError(
                    f"a Job named {name} already exists in namespace {self.namespace} and "
                    f"belongs to another run ({found!r})"
                ) from None
        self._create_secret(run, job)
        return Handle(
            kind=self.kind,
            id=f"{self.namespace}/{name}",
            flow_run_id=run.flow_run_id,
            data={
                "namespace": self.namespace,
                "job": name,
                "uid": job.metadata.uid,
                "selector": label_selector(self.jobs.run_labels(run)),
            },
        )

    def _create_secret(self, run: RunSpec, job: Any) -> None:
        """The run's credentials as a Secret owned by its Job (deleted with it). The pod
        waits for it (CreateContainerConfigError until it exists, then starts)."""
        secret = self.jobs.secret_manifest(run, owner_uid=job.metadata.uid)
        if secret is None:
            return
        name = secret["metadata"]["name"]
        core = self._core()
        try:
            self._call(
                f"create Secret {name}",
                core.create_namespaced_secret,
                self.namespace,
                secret,
                not_found_ok=False,
            )
        except _Conflict:
            pass  # an adopted Job's Secret, made by the first start of this attempt
        except InfrastructureError:
            # Without its Secret the Job could never start: do not leave it waiting.
            with contextlib.suppress(InfrastructureError):
                self._call(
                    f"delete Job {job.metadata.name}",
                    self._batch().delete_namespaced_job,
                    job.metadata.name,
                    self.namespace,
                    propagation_policy="Background",
                )
            raise

    def wait(self, handle: Handle, timeout: float | None = None) -> ExitStatus:
        namespace, name = _job_of(handle)
        batch = self._batch()

        def decide(event: str, job: Any) -> ExitStatus | None:
            if event == "DELETED" or job is None:
                return ExitStatus(None, f"Job {name} was deleted", cancelled=True)
            if job.metadata.deletion_timestamp is not None:
                return ExitStatus(None, f"Job {name} is being deleted", cancelled=True)
            finished = _finished_condition(job)
            if finished is None:
                return None
            return self._exit_status(handle, job, finished)

        def listed(items: list[Any]) -> ExitStatus | None:
            if not items:
                raise HandleNotFound(f"Job {name} is not in namespace {namespace}")
            return decide("LISTED", items[0])

        result = self._watch(
            batch.list_namespaced_job,
            namespace,
            {"field_selector": f"metadata.name={name}"},
            listed,
            decide,
            timeout,
        )
        if result is None:
            raise WaitTimeout(f"Job {name} is still running after {timeout:g} s")
        return result

    def logs(self, handle: Handle) -> Iterator[str]:
        """The pod's output, line by line, from its start until its container ends."""
        namespace, name = _job_of(handle)
        core = self._core()
        selector = handle.data.get("selector") or f"job-name={name}"
        pod = self._wait_for_container(handle, core, namespace, selector)
        if pod is None:
            return
        yield from self._follow(core, namespace, pod)

    def cancel(self, handle: Handle) -> None:
        namespace, name = _job_of(handle)
        self._call(
            f"delete Job {name}",
            self._batch().delete_namespaced_job,
            name,
            namespace,
            propagation_policy="Background",
            not_found_ok=True,
        )

    def status(self, handle: Handle) -> str:
        namespace, name = _job_of(handle)
        job = self._call(f"read Job {name}", self._batch().read_namespaced_job, name, namespace)
        if job is None:
            raise HandleNotFound(f"Job {name} is not in namespace {namespace}")
        if job.metadata.deletion_timestamp is not None:
            return "job being deleted"
        finished = _finished_condition(job)
        if finished is not None:
            kind, reason, message = finished
            if kind == "Complete":
                return "succeeded"
            return f"failed: {reason}: {message}".rstrip(": ")
        pods = self._pods(handle)
        if not pods:
            return "job created, waiting for its pod"
        return describe_pod(pods[-1])

    def close(self) -> None:
        if self._owns_client and self._api_client is not None:
            self._api_client.close()
            self._api_client = None

    # ------------------------------------------------------------------ internals

    def _client(self) -> Any:
        with self._client_lock:
            return self._client_locked()

    def _client_locked(self) -> Any:
        if self._api_client is None:
            from kubernetes import client as k8s
            from kubernetes import config as kube_config

            config: Any = kube_config
            configuration = k8s.Configuration()
            try:
                if self._host:
                    configuration.host = self._host
                elif os.environ.get("KUBERNETES_SERVICE_HOST") and not self._kubeconfig:
                    config.load_incluster_config(client_configuration=configuration)
                else:
                    config.load_kube_config(
                        config_file=self._kubeconfig,
                        context=self._context,
                        client_configuration=configuration,
                    )
            except (config.ConfigException, OSError) as error:
                raise InfrastructureUnavailable(
                    "no Kubernetes configuration: set KUBECONFIG, pass kubeconfig=, or run the "
                    f"agent inside the cluster ({error})"
                ) from error
            self._api_client = k8s.ApiClient(configuration)
        return self._api_client

    def _batch(self) -> Any:
        from kubernetes.client import BatchV1Api

        return BatchV1Api(self._client())

    def _core(self) -> Any:
        from kubernetes.client import CoreV1Api

        return CoreV1Api(self._client())

    @property
    def _api_host(self) -> str:
        try:
            return str(self._client().configuration.host)
        except InfrastructureError:
            return "(unconfigured)"

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One API call with a timeout; API errors become this package's errors.

        ``not_found_ok``: a 404 returns None (True) or raises HandleNotFound (default).
        A 409 raises ``_Conflict`` for the caller to handle.
        """
        not_found_ok = kwargs.pop("not_found_ok", None)
        kwargs.setdefault("_request_timeout", self.request_timeout)
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            if not_found_ok and getattr(error, "status", None) == 404:
                return None  # type: ignore[return-value]
            raise self._translate(what, error, not_found=not_found_ok is not False) from None

    def _translate(self, what: str, error: Exception, *, not_found: bool = True) -> Exception:
        """The error of this package for an error of the client (or ``error`` itself)."""
        from kubernetes.client.exceptions import ApiException

        if isinstance(error, InfrastructureError):
            return error
        if isinstance(error, ApiException):
            status, message = error.status, _status_message(error)
            if status == 404 and not_found:
                return HandleNotFound(f"could not {what}: {message}")
            if status == 409:
                return _Conflict(message)
            if status in (400, 422):
                return InvalidRunSpec(f"could not {what}: {message}")
            if status == 0 or status >= 500:
                return InfrastructureUnavailable(
                    f"could not {what}: the Kubernetes API at {self._api_host} answered "
                    f"{status}: {message}"
                )
            return InfrastructureError(f"could not {what}: {status} {message}")
        if _is_connection_error(error):
            return InfrastructureUnavailable(
                f"could not {what}: the Kubernetes API at {self._api_host} is unreachable "
                f"or did not answer ({type(error).__name__}: {error})"
            )
        return error

    def _watch(
        self,
        list_fn: Callable[..., Any],
        namespace: str,
        selectors: dict[str, str],
        listed: Callable[[list[Any]], T | None],
        decide: Callable[[str, Any], T | None],
        timeout: float | None,
    ) -> T | None:
        """List, then watch from the list's resourceVersion until ``decide`` answers.

        Returns None when ``timeout`` seconds pass first. A watch that ends (its server-side
        timeout) or expires (410 Gone) starts again from a fresh list, so nothing is missed.
        """
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            listing = self._call("list", list_fn, namespace, **selectors)
            found = listed(list(listing.items or []))
            if found is not None:
                return found
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            seconds = self.watch_seconds
            if remaining is not None:
                seconds = max(1, min(seconds, math.ceil(remaining)))
            watcher: Any = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in watcher.stream(
                    list_fn,
                    namespace,
                    resource_version=listing.metadata.resource_version,
                    timeout_seconds=seconds,
                    _request_timeout=(self.request_timeout, seconds + self.request_timeout),
                    **selectors,
                ):
                    found = decide(event["type"], event["object"])
                    if found is not None:
                        watcher.stop()
                        return found
            except ApiException as error:
                if error.status != 410:  # 410: the resourceVersion expired; list again
                    raise self._translate(f"watch in namespace {namespace}", error) from None
            except Exception as error:
                if not _is_read_timeout(error):  # a silent watch: list again
                    raise self._translate(f"watch in namespace {namespace}", error) from None
            finally:
                watcher.stop()

    def _pods(self, handle: Handle) -> list[Any]:
        namespace, name = _job_of(handle)
        selector = handle.data.get("selector") or f"job-name={name}"
        listing = self._call(
            f"list pods of Job {name}",
            self._core().list_namespaced_pod,
            namespace,
            label_selector=selector,
        )
        return sorted(listing.items or [], key=_created_at)

    def _exit_status(self, handle: Handle, job: Any, finished: tuple[str, str, str]) -> ExitStatus:
        kind, reason, message = finished
        pods = self._pods(handle)
        terminated = _terminated(pods[-1]) if pods else None
        if terminated is not None:
            code = terminated.exit_code
            words = [terminated.reason or "", terminated.message or ""]
            if kind == "Failed" and reason and reason != "BackoffLimitExceeded":
                words.append(f"{reason}: {message}")
            text = "; ".join(w.strip() for w in words if w and w.strip())
            return ExitStatus(code, text or ("Completed" if code == 0 else f"exit code {code}"))
        if kind == "Complete":
            return ExitStatus(0, "Completed")
        return ExitStatus(None, f"{reason}: {message}".strip(": "))

    def _wait_for_container(
        self, handle: Handle, core: Any, namespace: str, selector: str
    ) -> Any | None:
        """The job's pod once its container has started (or ended); None if it never will."""

        def started(pod: Any) -> bool:
            return _container_state(pod) in ("running", "terminated") or (
                pod.status is not None and pod.status.phase in ("Succeeded", "Failed")
            )

        def listed(pods: list[Any]) -> Any:
            for pod in sorted(pods, key=_created_at, reverse=True):
                if started(pod):
                    return pod
            if not pods and self._job_gone(handle):
                return _NO_POD
            return None

        def decide(event: str, pod: Any) -> Any:
            if event == "DELETED":
                return _NO_POD
            return pod if started(pod) else None

        while True:
            pod = self._watch(
                core.list_namespaced_pod,
                namespace,
                {"label_selector": selector},
                listed,
                decide,
                self.watch_seconds,
            )
            if pod is _NO_POD:
                return None
            if pod is not None:
                return pod
            if self._job_gone(handle):
                return None

    def _job_gone(self, handle: Handle) -> bool:
        namespace, name = _job_of(handle)
        job = self._call(
            f"read Job {name}",
            self._batch().read_namespaced_job,
            name,
            namespace,
            not_found_ok=True,
        )
        return job is None or job.metadata.deletion_timestamp is not None

    def _follow(self, core: Any, namespace: str, pod: Any) -> Iterator[str]:
        """Follow the container's log; reconnect (skipping what was seen) if cut short.

        The API server ends a followed log when the container ends. A stream that ends
        or stays silent for ``log_read_timeout`` seconds while the container still runs
        is opened again from the last timestamp seen.
        """
        name = pod.metadata.name
        last: tuple[int, int] | None = None
        while True:
            kwargs: dict[str, Any] = {"container": CONTAINER_NAME, "follow": True}
            kwargs["timestamps"] = True
            if last is not None:
                kwargs["since_seconds"] = _seconds_since(last)
            try:
                response = self._call(
                    f"read the log of pod {name}",
                    core.read_namespaced_pod_log,
                    name,
                    namespace,
                    _preload_content=False,
                    not_found_ok=True,
                    _request_timeout=(self.request_timeout, self.log_read_timeout),
                    **kwargs,
                )
            except InvalidRunSpec:
                return  # 400: the container has not started, or is gone
            if response is None:
                return
            try:
                for line in _lines(response):
                    stamp, _, text = line.partition(" ")
                    when = _parse_stamp(stamp)
                    if when is None:  # not a timestamped line: keep it whole
                        yield line
                        continue
                    if last is not None and when <= last:
                        continue
                    last = when
                    yield text
            except Exception as error:
                if not _is_connection_error(error):
                    raise
            finally:
                response.release_conn()
            current = self._call(
                f"read pod {name}", core.read_namespaced_pod, name, namespace, not_found_ok=True
            )
            if current is None or _container_state(current) != "running":
                return


# ---------------------------------------------------------------------- helpers


class _Conflict(InfrastructureError):
    pass


_NO_POD = object()


def describe_pod(pod: Any) -> str:
    """Why a pod is where it is, in a few words."""
    status = pod.status
    phase = status.phase if status is not None else None
    for condition in (status.conditions or []) if status is not None else []:
        if condition.type == "PodScheduled" and condition.status == "False":
            return (
                f"pod pending: unschedulable (waiting for a node that fits): "
                f"{condition.message or condition.reason}"
            )
    state = _container(pod)
    if state is not None and state.waiting is not None:
        waiting = state.waiting
        text = f"pod pending: {waiting.reason or 'waiting'}"
        return f"{text}: {waiting.message}" if waiting.message else text
    if phase == "Pending" or phase is None:
        return "pod pending: being scheduled"
    if phase == "Running":
        node = pod.spec.node_name if pod.spec is not None else None
        return f"running on {node}" if node else "running"
    if phase == "Succeeded":
        return "succeeded"
    terminated = _terminated(pod)
    if terminated is not None:
        return f"failed: {terminated.reason or 'Error'} (exit code {terminated.exit_code})"
    return f"pod {str(phase).lower()}"


def _container(pod: Any) -> Any:
    statuses = (pod.status.container_statuses or []) if pod.status is not None else []
    for container in statuses:
        if container.name == CONTAINER_NAME:
            return container.state
    return None


def _container_state(pod: Any) -> str | None:
    state = _container(pod)
    if state is None:
        return None
    for name in ("terminated", "running", "waiting"):
        if getattr(state, name) is not None:
            return name
    return None


def _terminated(pod: Any) -> Any:
    state = _container(pod)
    return state.terminated if state is not None else None


def _finished_condition(job: Any) -> tuple[str, str, str] | None:
    for condition in (job.status.conditions or []) if job.status is not None else []:
        if condition.type in ("Complete", "Failed") and condition.status == "True":
            return condition.type, condition.reason or "", condition.message or ""
    return None


def _created_at(obj: Any) -> datetime:
    stamp = obj.metadata.creation_timestamp
    return stamp if isinstance(stamp, datetime) else datetime.min


def _job_of(handle: Handle) -> tuple[str, str]:
    if handle.kind != KubernetesJob.kind:
        raise InfrastructureError(f"{handle.id} is a {handle.kind} handle, not a Kubernetes one")
    return handle.data["namespace"], handle.data["job"]


def _status_message(error: Any) -> str:
    """The ``message`` of the Status object the API server sent, else the reason."""
    import json

    body = getattr(error, "body", None)
    if body:
        try:
            data = json.loads(body)
            if isinstance(data, dict) and data.get("message"):
                return str(data["message"])
        except (TypeError, ValueError):
            return str(body)[:500]
    return str(getattr(error, "reason", "") or error)


def _is_connection_error(error: BaseException) -> bool:
    import urllib3.exceptions

    return isinstance(error, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, OSError))


def _is_read_timeout(error: BaseException) -> bool:
    import urllib3.exceptions

    return isinstance(error, (urllib3.exceptions.ReadTimeoutError, TimeoutError))


def _lines(response: Any) -> Iterator[str]:
    buffer = b""
    for chunk in response.stream(4096, decode_content=False):
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", errors="replace").rstrip("\r")
    if buffer:
        yield buffer.decode("utf-8", errors="replace").rstrip("\r")


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$")


def _parse_stamp(stamp: str) -> tuple[int, int] | None:
    """(epoch seconds, nanoseconds) of an RFC 3339 (nano) UTC log timestamp, else None."""
    match = _STAMP.match(stamp)
    if match is None:
        return None
    seconds = datetime.fromisoformat(match.group(1) + "+00:00").timestamp()
    return int(seconds), int((match.group(2) or "0").ljust(9, "0"))


def _seconds_since(when: tuple[int, int]) -> int:
    """Whole seconds from a log timestamp to now, rounded up, at least 1."""
    return max(1, math.ceil(time.time() - when[0]) + 1)
