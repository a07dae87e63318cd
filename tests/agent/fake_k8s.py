"""A fake Kubernetes API server on loopback: the endpoints KubernetesJob uses, in memory.

No real API server can run on the test machines, so this one answers as the real one does
for what the infrastructure calls, down to the wire format the official client parses:

- ``POST   /apis/batch/v1/namespaces/{ns}/jobs``: every body is validated against the
  Kubernetes OpenAPI schema (kubernetes-validate, strict) and the API server's own rules
  for names and labels; 201 + the Job with server defaults; 409 AlreadyExists, 422 Invalid,
  404 for an unknown namespace, 400 for a namespace mismatch, all as ``Status`` objects.
- ``GET    /apis/batch/v1/namespaces/{ns}/jobs[/{name}]``: read, list (``fieldSelector``,
  ``labelSelector``) and ``?watch=true``: ``{"type": "ADDED"|"MODIFIED"|"DELETED",
  "object": …}`` as newline-delimited JSON over a chunked response, from
  ``resourceVersion`` (an ERROR event with a 410 Status when it was compacted), ending
  after ``timeoutSeconds``.
- ``DELETE /apis/batch/v1/namespaces/{ns}/jobs/{name}``: ``propagationPolicy`` Background
  (the default: the Job goes, its pods are garbage-collected), Foreground or Orphan.
- ``GET    /api/v1/namespaces/{ns}/pods[/{name}]``: read, list, watch, as for Jobs.
- ``POST   /api/v1/namespaces/{ns}/secrets``: validated; deleted with the Job that owns it.
- ``GET    /api/v1/namespaces/{ns}/pods/{name}/log``: ``container``, ``timestamps``,
  ``sinceSeconds``, ``follow=true`` (chunked, until the container ends); 400 while the
  container is waiting to start.

Creating a Job creates its pod (as the Job controller would): Pending, scheduled, its
container waiting in ContainerCreating (or CreateContainerConfigError when a Secret it
references is missing). What happens next is the test's to say: ``start_pod``,
``write_log``, ``finish_pod``, ``set_unschedulable``, ``set_waiting``. With
``kubelet="exec"`` the fake runs the container's command as a local process instead
(environment and Secrets resolved, output as the pod log, exit code as the pod's), so a
contract test can run real commands through it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def newest_schema_version() -> str:
    from kubernetes_validate.utils import latest_version

    return str(latest_version())


NODE_NAME = "fake-node-1"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names

JOBS = re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?$")
PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+))?$")
SECRETS = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets$")
POD_LOG = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")


class ApiError(Exception):
    """Answered as a ``Status`` object with this code."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def status_object(code: int, reason: str, message: str, details: dict[str, Any] | None = None):
    """A ``Status`` as the API server sends it with an error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "code": code,
    }


def not_found(resource: str, name: str) -> ApiError:
    group, kind = ("batch", "jobs") if resource == "jobs" else ("", "pods")
    qualified = f"{kind}.{group}" if group else kind
    details = {"name": name, "kind": kind, **({"group": group} if group else {})}
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', details)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_nano() -> str:
    """RFC 3339 with nanoseconds, trailing zeros dropped (Go's RFC3339Nano)."""
    stamp = datetime.now(timezone.utc)
    fraction = f"{stamp.microsecond:06d}000".rstrip("0")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


class FakeKubernetes:
    """The fake API server. Use as a context manager; ``url`` is its address."""

    def __init__(
        self,
        *,
        kubelet: str = "manual",
        namespaces: tuple[str, ...] = ("default",),
        validate_version: str | None = None,
        default_watch_seconds: float = 30.0,
    ) -> None:
        if kubelet not in ("manual", "exec"):
            raise ValueError("kubelet is 'manual' or 'exec'")
        self.kubelet = kubelet
        self.namespaces = set(namespaces)
        self.validate_version = validate_version or newest_schema_version()
        self.default_watch_seconds = default_watch_seconds
        self.cond = threading.Condition()
        self.rv = 100
        self.compacted_rv = 0
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {"jobs": {}, "pods": {}}
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []
        self.logs: dict[tuple[str, str], list[tuple[str, float, str]]] = {}
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        #: The uid of the object each created Secret is owned by (garbage-collected with it).
        self.secret_owners: dict[tuple[str, str], str] = {}
        self.created: list[dict[str, Any]] = []  # every Job body as it was POSTed
        self.requests: list[tuple[str, str]] = []  # (method, path?query)
        self.processes: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self.stopping = False
        self._log_cut = 0
        self._expire_watches = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ server

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeKubernetes:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-k8s", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        for process in list(self.processes.values()):
            _kill(process)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeKubernetes:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test controls

    def add_namespace(self, name: str) -> None:
        self.namespaces.add(name)

    def add_secret(self, name: str, data: dict[str, str], namespace: str = "default") -> None:
        with self.cond:
            self.secrets[(namespace, name)] = dict(data)
            self.cond.notify_all()

    def job(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        with self.cond:
            found = self.objects["jobs"].get((namespace, name))
            return copy.deepcopy(found) if found else None

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        with self.cond:
            found = self.objects["pods"].get((namespace, name))
            return copy.deepcopy(found) if found else None

    def pods_of(self, job: str, namespace: str = "default") -> list[str]:
        with self.cond:
            return [
                name
                for (ns, name), pod in self.objects["pods"].items()
                if ns == namespace and pod["metadata"]["labels"].get("job-name") == job
            ]

    def wait_for_pod(self, job: str, namespace: str = "default", timeout: float = 30) -> str:
        """The name of the Job's pod, once it exists."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.pods_of(job, namespace), timeout):
                raise AssertionError(f"no pod for Job {job} after {timeout} s")
            return self.pods_of(job, namespace)[0]

    def wait_until(self, predicate: Any, timeout: float = 30) -> None:
        """Block until ``predicate()`` (called under the lock) is true."""
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise AssertionError(f"condition not reached after {timeout} s")

    def set_unschedulable(self, pod: str, message: str, namespace: str = "default") -> None:
        def change(obj: dict[str, Any]) -> None:
            obj["spec"].pop("nodeName", None)
            obj["status"]["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                    "lastProbeTime": None,
                    "lastTransitionTime": now(),
                }
            ]
            obj["status"].pop("containerStatuses", None)

        self._modify("pods", namespace, pod, change)

    def set_waiting(self, pod: str, reason: str, message: str = "", namespace: str = "default"):
        def change(obj: dict[str, Any]) -> None:
            waiting = {"reason": reason, **({"message": message} if message else {})}
            obj["status"]["containerStatuses"][0]["state"] = {"waiting": waiting}

        self._modify("pods", namespace, pod, change)

    def start_pod(self, pod: str, namespace: str = "default") -> None:
        """Pending → Running (the container started)."""
        with self.cond:
            obj = self.objects["pods"][(namespace, pod)]
            missing = self._missing_secret(namespace, obj)
            if missing:
                raise AssertionError(f"pod {pod} cannot start: {missing}")
        started = now()

        def change(obj: dict[str, Any]) -> None:
            obj["status"]["phase"] = "Running"
            obj["status"]["conditions"] = _pod_conditions(ready=True)
            container = obj["status"]["containerStatuses"][0]
            container.update(ready=True, started=True, state={"running": {"startedAt": started}})
            container["containerID"] = f"containerd://{uuid.uuid4().hex}"

        self._modify("pods", namespace, pod, change)
        job = self._job_of_pod(namespace, pod)
        if job is not None:

            def running(obj: dict[str, Any]) -> None:
                obj["status"].update(active=1, ready=1)

            self._modify("jobs", namespace, job, running)

    def write_log(self, pod: str, *lines: str, namespace: str = "default") -> None:
        with self.cond:
            entries = self.logs.setdefault((namespace, pod), [])
            for line in lines:
                entries.append((now_nano(), time.time(), line))
            self.cond.notify_all()

    def finish_pod(
        self,
        pod: str,
        exit_code: int,
        *,
        reason: str | None = None,
        message: str | None = None,
        namespace: str = "default",
    ) -> None:
        """Running → Succeeded (exit code 0) or Failed; the Job completes or fails."""
        finished = now()

        def change(obj: dict[str, Any]) -> None:
            container = obj["status"]["containerStatuses"][0]
            started = container["state"].get("running", {}).get("startedAt", finished)
            terminated = {
                "exitCode": exit_code,
                "reason": reason or ("Completed" if exit_code == 0 else "Error"),
                "startedAt": started,
                "finishedAt": finished,
                "containerID": container.get("containerID", f"containerd://{uuid.uuid4().hex}"),
            }
            if message:
                terminated["message"] = message
            container.update(ready=False, started=False, state={"terminated": terminated})
            obj["status"]["phase"] = "Succeeded" if exit_code == 0 else "Failed"
            obj["status"]["conditions"] = _pod_conditions(ready=False)

        self._modify("pods", namespace, pod, change)
        job = self._job_of_pod(namespace, pod)
        if job is None:
            return

        def complete(obj: dict[str, Any]) -> None:
            status = obj["status"]
            status.update(active=0, ready=0, terminating=0)
            if exit_code == 0:
                status["succeeded"] = 1
                status["completionTime"] = finished
                reason_, text = "CompletionsReached", "Reached expected number of succeeded pods"
                kinds = ("SuccessCriteriaMet", "Complete")
            else:
                status["failed"] = 1
                reason_, text = (
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )
                kinds = ("FailureTarget", "Failed")
            status["conditions"] = [_job_condition(kind, reason_, text) for kind in kinds]

        self._modify("jobs", namespace, job, complete)

    def fail_job(self, job: str, reason: str, message: str, namespace: str = "default") -> None:
        """The Job fails with no container exit (DeadlineExceeded, …); its pods are deleted."""

        def failed(obj: dict[str, Any]) -> None:
            obj["status"].update(active=0, failed=1)
            obj["status"]["conditions"] = [
                _job_condition(kind, reason, message) for kind in ("FailureTarget", "Failed")
            ]

        self._modify("jobs", namespace, job, failed)
        for pod in self.pods_of(job, namespace):
            self._delete_pod(namespace, pod)

    def compact(self) -> None:
        """Forget the event history: watches from an older resourceVersion get 410."""
        with self.cond:
            self.compacted_rv = self.rv
            self.history.clear()

    def expire_watches(self, count: int = 1) -> None:
        """The next ``count`` watches from a resourceVersion get 410 Expired, as after an
        etcd compaction between a client's list and its watch."""
        with self.cond:
            self._expire_watches += count

    def cut_log_streams(self) -> None:
        """End every followed log stream now, as a dropped connection would."""
        with self.cond:
            self._log_cut += 1
            self.cond.notify_all()

    # ------------------------------------------------------------------ the store

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _record(self, resource: str, kind: str, obj: dict[str, Any]) -> None:
        """Store a change (under the lock) and wake the watchers."""
        self.history.append((self.rv, resource, kind, copy.deepcopy(obj)))
        self.cond.notify_all()

    def _put(self, resource: str, obj: dict[str, Any], kind: str) -> dict[str, Any]:
        with self.cond:
            obj["metadata"]["resourceVersion"] = self._next_rv()
            key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
            self.objects[resource][key] = obj
            self._record(resource, kind, obj)
            return copy.deepcopy(obj)

    def _modify(self, resource: str, namespace: str, name: str, change: Any) -> None:
        with self.cond:
            obj = self.objects[resource].get((namespace, name))
            if obj is None:
                raise not_found(resource, name)
            change(obj)
            obj["metadata"]["resourceVersion"] = self._next_rv()
            self._record(resource, "MODIFIED", obj)

    def _remove(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.cond:
            obj = self.objects[resource].pop((namespace, name), None)
            if obj is not None:
                obj["metadata"]["resourceVersion"] = self._next_rv()
                self._record(resource, "DELETED", obj)
            return obj

    def _job_of_pod(self, namespace: str, pod: str) -> str | None:
        with self.cond:
            obj = self.objects["pods"].get((namespace, pod))
            return obj["metadata"]["labels"].get("job-name") if obj else None

    def _missing_secret(self, namespace: str, pod: dict[str, Any]) -> str | None:
        for env in pod["spec"]["containers"][0].get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref is None:
                continue
            secret = self.secrets.get((namespace, ref["name"]))
            if secret is None:
                return f'secret "{ref["name"]}" not found'
            if ref["key"] not in secret:
                return f"couldn't find key {ref['key']} in Secret {namespace}/{ref['name']}"
        return None

    # ------------------------------------------------------------------ Jobs

    def create_job(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        import kubernetes_validate

        self.created.append(copy.deepcopy(body))
        if namespace not in self.namespaces:
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        metadata = body.get("metadata") or {}
        name = metadata.get("name", "")
        if metadata.get("namespace", namespace) != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on "
                "the request",
            )
        try:
            kubernetes_validate.validate(body, self.validate_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            raise _invalid(name, path or "<root>", error.message) from None
        _check_object_meta(name, metadata, "metadata")
        template = body["spec"]["template"]
        _check_object_meta(None, template.get("metadata") or {}, "spec.template.metadata")
        if template["spec"].get("restartPolicy") not in ("Never", "OnFailure"):
            raise _invalid(
                name,
                "spec.template.spec.restartPolicy",
                'Unsupported value: "Always": supported values: "OnFailure", "Never"',
            )
        with self.cond:
            if (namespace, name) in self.objects["jobs"]:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'jobs.batch "{name}" already exists',
                    {"name": name, "group": "batch", "kind": "jobs"},
                )
            job = _job_with_defaults(copy.deepcopy(body), namespace)
            stored = self._put("jobs", job, "ADDED")
            self._create_pod(job)
        return stored

    def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """A Secret validated like a Job; its ``data`` kept decoded, its owner remembered."""
        import base64

        import kubernetes_validate

        name = (body.get("metadata") or {}).get("name", "")
        try:
            kubernetes_validate.validate(body, self.validate_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            raise _invalid(
                name, ".".join(map(str, error.path)) or "<root>", error.message
            ) from None
        with self.cond:
            if (namespace, name) in self.secrets:
                raise ApiError(409, "AlreadyExists", f'secrets "{name}" already exists')
            data = {k: base64.b64decode(v).decode() for k, v in (body.get("data") or {}).items()}
            self.secrets[(namespace, name)] = data
            for owner in body["metadata"].get("ownerReferences") or []:
                self.secret_owners[(namespace, name)] = owner["uid"]
            self.cond.notify_all()
        return {**body, "metadata": {**body["metadata"], "uid": str(uuid.uuid4())}}

    def delete_job(self, namespace: str, name: str, policy: str) -> tuple[int, dict[str, Any]]:
        with self.cond:
            job = self.objects["jobs"].get((namespace, name))
            if job is None:
                raise not_found("jobs", name)
            uid = job["metadata"]["uid"]
            if policy == "Foreground":
                job["metadata"]["deletionTimestamp"] = now()
                job["metadata"]["finalizers"] = ["foregroundDeletion"]
                job["metadata"]["resourceVersion"] = self._next_rv()
                self._record("jobs", "MODIFIED", job)
                answer = copy.deepcopy(job)
        pods = self.pods_of(name, namespace)
        if policy != "Orphan":
            for pod in pods:
                self._delete_pod(namespace, pod)
            with self.cond:  # the garbage collector: what the Job owned goes with it
                for key, owner in list(self.secret_owners.items()):
                    if owner == uid:
                        self.secrets.pop(key, None)
                        del self.secret_owners[key]
        self._remove("jobs", namespace, name)
        if policy == "Foreground":
            return 202, {"kind": "Job", "apiVersion": "batch/v1", **answer}
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": "batch", "kind": "jobs", "uid": uid},
        }

    # ------------------------------------------------------------------ Pods

    def _create_pod(self, job: dict[str, Any]) -> None:
        namespace = job["metadata"]["namespace"]
        name = job["metadata"]["name"]
        template = copy.deepcopy(job["spec"]["template"])
        suffix = "".join(random.choice(_SUFFIX_CHARS) for _ in range(5))
        container = template["spec"]["containers"][0]
        pod = {
            "metadata": {
                "name": f"{name}-{suffix}",
                "generateName": f"{name}-",
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now(),
                "labels": template["metadata"]["labels"],
                "annotations": template["metadata"].get("annotations", {}),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": name,
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {**template["spec"], "nodeName": NODE_NAME},
            "status": {
                "phase": "Pending",
                "qosClass": _qos_class(container),
                "conditions": _pod_conditions(ready=False),
                "hostIP": "10.0.0.1",
                "startTime": now(),
                "containerStatuses": [
                    {
                        "name": container["name"],
                        "image": container["image"],
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "started": False,
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                        "lastState": {},
                    }
                ],
            },
        }
        missing = self._missing_secret(namespace, pod)
        if missing:
            pod["status"]["containerStatuses"][0]["state"] = {
                "waiting": {"reason": "CreateContainerConfigError", "message": missing}
            }
        self._put("pods", pod, "ADDED")
        job["status"] = {"active": 1, "ready": 0, "startTime": now(), "terminating": 0}
        job["status"]["uncountedTerminatedPods"] = {}
        job["metadata"]["resourceVersion"] = self._next_rv()
        self._record("jobs", "MODIFIED", job)
        if self.kubelet == "exec":
            threading.Thread(
                target=self._kubelet, args=(namespace, pod["metadata"]["name"]), daemon=True
            ).start()

    def _delete_pod(self, namespace: str, pod: str) -> None:
        def terminating(obj: dict[str, Any]) -> None:
            obj["metadata"]["deletionTimestamp"] = now()
            obj["metadata"]["deletionGracePeriodSeconds"] = 30

        try:
            self._modify("pods", namespace, pod, terminating)
        except ApiError:
            return
        process = self.processes.pop((namespace, pod), None)
        if process is not None:
            _kill(process)
        self._remove("pods", namespace, pod)

    def _kubelet(self, namespace: str, pod: str) -> None:
        """Run the pod's container as a local process (``kubelet="exec"``)."""
        with self.cond:
            # A missing Secret keeps the container waiting until it appears, as in a cluster.
            ready = self.cond.wait_for(
                lambda: (
                    self.stopping
                    or (namespace, pod) not in self.objects["pods"]
                    or not self._missing_secret(namespace, self.objects["pods"][(namespace, pod)])
                )
            )
            obj = self.objects["pods"].get((namespace, pod))
            if not ready or self.stopping or obj is None:
                return
            container = obj["spec"]["containers"][0]
            env = dict(os.environ)
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                env[item["name"]] = (
                    self.secrets[(namespace, ref["name"])][ref["key"]] if ref else item["value"]
                )
        workdir = container.get("workingDir")
        process = subprocess.Popen(
            container["command"] + container.get("args", []),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir if workdir and os.path.isdir(workdir) else None,
            start_new_session=True,
        )
        self.processes[(namespace, pod)] = process
        try:
            self.start_pod(pod, namespace)
        except ApiError:
            _kill(process)
            return
        assert process.stdout is not None
        for raw in process.stdout:
            self.write_log(pod, raw.decode("utf-8", "replace").rstrip("\n"), namespace=namespace)
        code = process.wait()
        if self.processes.pop((namespace, pod), None) is None:
            return  # deleted: the pod is gone, nothing to report
        with contextlib.suppress(ApiError):
            self.finish_pod(pod, code, namespace=namespace)

    # ------------------------------------------------------------------ reading

    def list_objects(
        self, resource: str, namespace: str, query: dict[str, str]
    ) -> tuple[str, list[dict[str, Any]]]:
        match = _selectors(resource, query)
        with self.cond:
            items = [
                copy.deepcopy(obj)
                for (ns, _), obj in self.objects[resource].items()
                if ns == namespace and match(obj)
            ]
            return str(self.rv), items

    def watch(self, resource: str, namespace: str, query: dict[str, str]) -> Iterator[dict]:
        """Watch events as the API server streams them."""
        match = _selectors(resource, query)
        kind, api_version = ("Job", "batch/v1") if resource == "jobs" else ("Pod", "v1")
        timeout = float(query.get("timeoutSeconds") or self.default_watch_seconds)
        deadline = time.monotonic() + timeout
        since = query.get("resourceVersion") or "0"
        with self.cond:
            if since == "0":
                position = self.rv
                initial = [
                    {"type": "ADDED", "object": {"kind": kind, "apiVersion": api_version, **o}}
                    for (ns, _), o in self.objects[resource].items()
                    if ns == namespace and match(o)
                ]
                initial = copy.deepcopy(initial)
            else:
                position = int(since)
                initial = []
                if position < self.compacted_rv or self._expire_watches:
                    self._expire_watches = max(0, self._expire_watches - 1)
                    message = f"too old resource version: {position} ({self.compacted_rv})"
                    yield {"type": "ERROR", "object": status_object(410, "Expired", message)}
                    return
        yield from initial
        while True:
            with self.cond:
                new = [entry for entry in self.history if entry[0] > position]
                if new:
                    position = new[-1][0]
                pending = [
                    (typ, obj)
                    for _, res, typ, obj in new
                    if res == resource and obj["metadata"]["namespace"] == namespace and match(obj)
                ]
                if not pending:
                    remaining = deadline - time.monotonic()
                    if self.stopping or remaining <= 0:
                        return
                    self.cond.wait(min(remaining, 0.5))
                    continue
            for typ, obj in pending:
                yield {"type": typ, "object": {"kind": kind, "apiVersion": api_version, **obj}}

    def pod_log(self, namespace: str, name: str, query: dict[str, str]) -> tuple[bool, Any]:
        """(follow, lines or an iterator of lines) for the log endpoint."""
        with self.cond:
            pod = self.objects["pods"].get((namespace, name))
            if pod is None:
                raise not_found("pods", name)
            container = query.get("container") or pod["spec"]["containers"][0]["name"]
            if container != pod["spec"]["containers"][0]["name"]:
                raise ApiError(
                    400, "BadRequest", f"container {container} is not valid for pod {name}"
                )
            state = pod["status"]["containerStatuses"][0]["state"]
            if "waiting" in state:
                raise ApiError(
                    400,
                    "BadRequest",
                    f'container "{container}" in pod "{name}" is waiting to start: '
                    f"{state['waiting'].get('reason', 'ContainerCreating')}",
                )
        stamps = query.get("timestamps") in ("true", "True", "1")
        since = query.get("sinceSeconds")
        earliest = time.time() - float(since) if since else 0.0
        follow = query.get("follow") in ("true", "True", "1")

        def render(entry: tuple[str, float, str]) -> str:
            stamp, _, text = entry
            return f"{stamp} {text}\n" if stamps else f"{text}\n"

        def lines() -> Iterator[str]:
            position = 0
            cut = self._log_cut
            while True:
                with self.cond:
                    entries = self.logs.get((namespace, name), [])
                    batch = entries[position:]
                    position = len(entries)
                    current = self.objects["pods"].get((namespace, name))
                    running = (
                        current is not None
                        and "running" in current["status"]["containerStatuses"][0]["state"]
                    )
                    if not batch:
                        if not follow or not running or self.stopping or self._log_cut != cut:
                            return
                        self.cond.wait(0.5)
                        continue
                for entry in batch:
                    if entry[1] >= earliest:
                        yield render(entry)

        return follow, lines()


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1, JSON in and out, chunked for watches and followed logs."""

    protocol_version = "HTTP/1.1"
    server_fake: FakeKubernetes

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        fake = self.server_fake
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with fake.cond:
            fake.requests.append((method, self.path))
            fake.cond.notify_all()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._send(400, status_object(400, "BadRequest", "the body is not JSON"))
        watching = query.get("watch") in ("true", "True", "1")
        try:
            if match := POD_LOG.match(parts.path):
                if method != "GET":
                    raise _not_allowed(method)
                follow, lines = fake.pod_log(match[1], match[2], query)
                return self._send_text(lines, chunked=follow)
            if match := SECRETS.match(parts.path):
                if method != "POST":
                    raise _not_allowed(method)
                return self._send(201, fake.create_secret(match[1], body or {}))
            for pattern, resource in ((JOBS, "jobs"), (PODS, "pods")):
                match = pattern.match(parts.path)
                if match is None:
                    continue
                namespace, name = match[1], match[2]
                if name is None and method == "GET":
                    if watching:
                        return self._stream(fake.watch(resource, namespace, query))
                    rv, items = fake.list_objects(resource, namespace, query)
                    kind, version = (
                        ("JobList", "batch/v1")
                        if resource == "jobs"
                        else (
                            "PodList",
                            "v1",
                        )
                    )
                    return self._send(
                        200,
                        {
                            "kind": kind,
                            "apiVersion": version,
                            "metadata": {"resourceVersion": rv},
                            "items": items,
                        },
                    )
                if name is None and method == "POST" and resource == "jobs":
                    return self._send(
                        201,
                        {
                            "kind": "Job",
                            "apiVersion": "batch/v1",
                            **fake.create_job(namespace, body or {}),
                        },
                    )
                if name is not None and method == "GET":
                    found = (fake.job if resource == "jobs" else fake.pod)(name, namespace)
                    if found is None:
                        raise not_found(resource, name)
                    kind, version = ("Job", "batch/v1") if resource == "jobs" else ("Pod", "v1")
                    return self._send(200, {"kind": kind, "apiVersion": version, **found})
                if name is not None and method == "DELETE" and resource == "jobs":
                    policy = (body or {}).get("propagationPolicy") or query.get(
                        "propagationPolicy", "Background"
                    )
                    code, answer = fake.delete_job(namespace, name, policy)
                    return self._send(code, answer)
                raise _not_allowed(method)
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        except ApiError as error:
            self._send(
                error.code, status_object(error.code, error.reason, error.message, error.details)
            )

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream(self, events: Iterator[dict[str, Any]]) -> None:
        self._start_chunked("application/json")
        try:
            for event in events:
                self._chunk(json.dumps(event).encode() + b"\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send_text(self, lines: Iterator[str], *, chunked: bool) -> None:
        if not chunked:
            data = "".join(lines).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._start_chunked("text/plain")
        try:
            for line in lines:
                self._chunk(line.encode())
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


# ---------------------------------------------------------------------- helpers


def _not_allowed(method: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", f"the server does not allow this method ({method})")


def _invalid(name: str, field: str, message: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'Job.batch "{name}" is invalid: {field}: {message}',
        {
            "name": name,
            "group": "batch",
            "kind": "Job",
            "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}],
        },
    )


def _check_object_meta(name: str | None, metadata: dict[str, Any], where: str) -> None:
    """What the API server checks beyond the schema: names and labels."""
    if name is not None and (not name or len(name) > 63 or not _DNS_SUBDOMAIN.match(name)):
        raise _invalid(
            name or "",
            f"{where}.name",
            f'Invalid value: "{name}": a lowercase RFC 1123 subdomain of at most 63 '
            "characters is required (a Job's name is also a label value)",
        )
    for key, value in (metadata.get("labels") or {}).items():
        prefix, _, label = key.rpartition("/")
        if (
            not label
            or len(label) > 63
            or not _LABEL_NAME.match(label)
            or (prefix and not _DNS_SUBDOMAIN.match(prefix))
        ):
            raise _invalid(name or "", f"{where}.labels", f'Invalid value: "{key}": bad name')
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            raise _invalid(
                name or "",
                f"{where}.labels",
                f'Invalid value: "{value}": must be no more than 63 characters',
            )


def _selectors(resource: str, query: dict[str, str]) -> Any:
    labels = _parse_label_selector(query.get("labelSelector", ""))
    fields = []
    for term in filter(None, (t.strip() for t in query.get("fieldSelector", "").split(","))):
        key, _, value = term.partition("=")
        key = key.rstrip("!")
        known = ["metadata.name", "metadata.namespace"] + (
            ["status.phase", "spec.nodeName"] if resource == "pods" else []
        )
        if key not in known:
            raise ApiError(
                400,
                "BadRequest",
                f'"{key}" is not a known field selector: only "metadata.name", '
                '"metadata.namespace"',
            )
        fields.append((key.split("."), value.lstrip("=")))

    def match(obj: dict[str, Any]) -> bool:
        obj_labels = obj["metadata"].get("labels") or {}
        for op, key, value in labels:
            if op == "=" and obj_labels.get(key) != value:
                return False
            if op == "!=" and obj_labels.get(key) == value:
                return False
            if op == "exists" and key not in obj_labels:
                return False
            if op == "!exists" and key in obj_labels:
                return False
        for path, value in fields:
            current: Any = obj
            for part in path:
                current = (current or {}).get(part)
            if current != value:
                return False
        return True

    return match


def _parse_label_selector(selector: str) -> list[tuple[str, str, str]]:
    terms = []
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append(("!=", key.strip(), value.strip()))
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            terms.append(("=", key.strip(), value.strip()))
        elif term.startswith("!"):
            terms.append(("!exists", term[1:].strip(), ""))
        elif " " in term:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {term}")
        else:
            terms.append(("exists", term, ""))
    return terms


def _job_with_defaults(job: dict[str, Any], namespace: str) -> dict[str, Any]:
    """What the API server adds to a created Job."""
    uid = str(uuid.uuid4())
    name = job["metadata"]["name"]
    job.pop("kind", None)
    job.pop("apiVersion", None)
    metadata = job["metadata"]
    metadata.update(namespace=namespace, uid=uid, generation=1, creationTimestamp=now())
    controller_labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    spec = job["spec"]
    template = spec["template"]
    template.setdefault("metadata", {})
    template["metadata"]["labels"] = {**template["metadata"].get("labels", {}), **controller_labels}
    metadata.setdefault("labels", dict(template["metadata"]["labels"]))
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    spec.setdefault("manualSelector", False)
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    pod_spec = template["spec"]
    pod_spec.setdefault("dnsPolicy", "ClusterFirst")
    pod_spec.setdefault("schedulerName", "default-scheduler")
    pod_spec.setdefault("securityContext", {})
    pod_spec.setdefault("terminationGracePeriodSeconds", 30)
    for container in pod_spec["containers"]:
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        tag = container["image"].rsplit("/", 1)[-1]
        latest = ":" not in tag or tag.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("resources", {})
    job["status"] = {}
    return job


def _job_condition(kind: str, reason: str, message: str) -> dict[str, Any]:
    stamp = now()
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
    }


def _pod_conditions(*, ready: bool) -> list[dict[str, Any]]:
    stamp = now()
    value = "True" if ready else "False"
    return [
        {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": stamp},
        {"type": "Initialized", "status": "True", "lastTransitionTime": stamp},
        {"type": "Ready", "status": value, "lastTransitionTime": stamp},
        {"type": "ContainersReady", "status": value, "lastTransitionTime": stamp},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp},
    ]


def _qos_class(container: dict[str, Any]) -> str:
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    if not requests and not limits:
        return "BestEffort"
    if all(limits.get(k) == requests.get(k, limits.get(k)) for k in ("cpu", "memory")) and all(
        k in limits for k in ("cpu", "memory")
    ):
        return "Guaranteed"
    return "Burstable"


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, as a kubelet stops a container; SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(5)
    except (ProcessLookupError, PermissionError):
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
