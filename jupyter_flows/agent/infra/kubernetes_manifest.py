"""The batch/v1 Job of a flow-run attempt, built offline from its RunSpec.

A ``JobBuilder`` holds the cluster-wide choices an agent is configured with (namespace,
default image, service account, pull secrets, node selector, tolerations, labels, the GPU
resource name, ``ttlSecondsAfterFinished``) and turns a run's resource spec into a Job with
the typed models of the official client: the image, the command, cpu and memory requests
and limits, ``nvidia.com/gpu``, env vars, credentials as Secret references (never values),
labels with the flow and run ids (hashed when too long for a label; full ids in
annotations), and ``backoffLimit: 0`` because retries are the engine's business, not the
Job controller's. A spec that cannot become a Job raises ``InvalidRunSpec`` naming the
field. Building needs no cluster; ``kubernetes.py`` sends the Job and follows it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jupyter_flows.agent.infra.base import InvalidRunSpec, RunSpec

__all__ = [
    "CONTAINER_NAME",
    "LABEL_PREFIX",
    "MANAGED_BY",
    "JobBuilder",
    "check_env_name",
    "check_label",
    "label_value",
    "quantity",
]

LABEL_PREFIX = "jupyter-flows.io/"
CONTAINER_NAME = "flow"
MANAGED_BY = {"app.kubernetes.io/managed-by": "jupyter-flows"}

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_QUANTITY = re.compile(
    r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$"
)
_BYTES_SUFFIX = re.compile(r"^([0-9.]+)\s*(Ki|Mi|Gi|Ti|Pi|Ei|K|k|M|G|T|P|E)i?B$")


class JobBuilder:
    """Builds the Job of each run from the agent's cluster-wide choices (see module doc)."""

    def __init__(
        self,
        namespace: str = "default",
        *,
        image: str | None = None,
        image_pull_policy: str | None = None,
        image_pull_secrets: Sequence[str] = (),
        service_account: str | None = None,
        node_selector: Mapping[str, str] | None = None,
        tolerations: Sequence[Mapping[str, Any]] = (),
        labels: Mapping[str, str] | None = None,
        gpu_resource: str = "nvidia.com/gpu",
        gpu_type_label: str = "nvidia.com/gpu.product",
        ttl_seconds_after_finished: int | None = 3600,
        active_deadline_seconds: int | None = None,
        job_name_prefix: str = "jupyter-flows-",
    ) -> None:
        if not DNS_LABEL.match(namespace):
            raise InvalidRunSpec(f"namespace {namespace!r} is not a valid Kubernetes name")
        self.namespace = namespace
        self.image = image
        self.image_pull_policy = image_pull_policy
        self.image_pull_secrets = tuple(image_pull_secrets)
        self.service_account = service_account
        self.node_selector = dict(node_selector or {})
        self.tolerations = [dict(t) for t in tolerations]
        self.labels = dict(labels or {})
        self.gpu_resource = gpu_resource
        #: The node label a GPU type selects on (GPU feature discovery's, by default).
        self.gpu_type_label = gpu_type_label
        self.ttl_seconds_after_finished = ttl_seconds_after_finished
        self.active_deadline_seconds = active_deadline_seconds
        self.job_name_prefix = job_name_prefix

    def job_name(self, run: RunSpec) -> str:
        """A DNS label unique to the run and attempt (pods add 6 characters, so ≤ 56)."""
        slug = re.sub(r"[^a-z0-9-]+", "-", run.flow_run_id.lower()).strip("-")
        name = f"{self.job_name_prefix}{slug}-{run.attempt}"
        if len(name) > 56 or not DNS_LABEL.match(name):
            digest = hashlib.sha256(f"{run.flow_run_id}/{run.attempt}".encode()).hexdigest()
            keep = max(0, 56 - len(self.job_name_prefix) - 13 - len(str(run.attempt)))
            name = f"{self.job_name_prefix}{slug[:keep].strip('-')}-{digest[:11]}-{run.attempt}"
            name = re.sub(r"-+", "-", name).strip("-")
        return name

    def run_labels(self, run: RunSpec) -> dict[str, str]:
        """The labels that find this run's Job and pods."""
        return {
            **MANAGED_BY,
            LABEL_PREFIX + "flow-run-id": label_value(run.flow_run_id),
            LABEL_PREFIX + "attempt": str(run.attempt),
        }

    def build_job(self, run: RunSpec) -> Any:
        """The V1Job for ``run``; InvalidRunSpec names the field that cannot be used."""
        from kubernetes import client as k8s

        resources = run.resources
        image = resources.get("image") or self.image
        if not image or not isinstance(image, str):
            raise InvalidRunSpec(
                "resources.image is required for a Kubernetes Job (or configure a default image)"
            )
        labels = {
            "app.kubernetes.io/name": "jupyter-flows",
            "app.kubernetes.io/component": "flow-run",
            **self.labels,
            **run.labels,
            **self.run_labels(run),
            LABEL_PREFIX + "flow-id": label_value(run.flow_id),
        }
        for key, value in labels.items():
            check_label(key, value)
        annotations = {
            LABEL_PREFIX + "flow-run-id": run.flow_run_id,
            LABEL_PREFIX + "flow-id": run.flow_id,
        }
        if run.flow_name:
            annotations[LABEL_PREFIX + "flow-name"] = run.flow_name

        env = []
        for name, value in run.env.items():
            check_env_name(name)
            env.append(k8s.V1EnvVar(name=name, value=value))
        for credential in run.credentials:
            check_env_name(credential.env_name)
            if credential.name in run.credential_values:
                # A value the agent fetched: in the run's own Secret, made with the Job.
                secret, key = self.secret_name(run), credential.name
            else:  # a Secret of the cluster's, named by the reference
                secret, key = credential.secret_name, credential.key
            if not _DNS_SUBDOMAIN.match(secret):
                raise InvalidRunSpec(
                    f"credential {credential.name!r}: Secret name {secret!r} "
                    "is not a valid Kubernetes name"
                )
            if not _SECRET_KEY.match(key):
                raise InvalidRunSpec(
                    f"credential {credential.name!r}: Secret key {key!r} is invalid"
                )
            env.append(
                k8s.V1EnvVar(
                    name=credential.env_name,
                    value_from=k8s.V1EnvVarSource(
                        secret_key_ref=k8s.V1SecretKeySelector(name=secret, key=key, optional=False)
                    ),
                )
            )

        container = k8s.V1Container(
            name=CONTAINER_NAME,
            image=image,
            image_pull_policy=self.image_pull_policy,
            command=list(run.command),
            env=env or None,
            working_dir=run.working_dir,
            resources=self._requirements(resources),
        )
        pod_spec = k8s.V1PodSpec(
            containers=[container],
            restart_policy="Never",
            service_account_name=self.service_account,
            automount_service_account_token=False if self.service_account is None else None,
            node_selector=self._node_selector(resources) or None,
            tolerations=[k8s.V1Toleration(**t) for t in self.tolerations] or None,
            image_pull_secrets=[k8s.V1LocalObjectReference(name=s) for s in self.image_pull_secrets]
            or None,
        )
        return k8s.V1Job(
            api_version="batch/v1",
            kind="Job",
            metadata=k8s.V1ObjectMeta(
                name=self.job_name(run),
                namespace=self.namespace,
                labels=labels,
                annotations=annotations,
            ),
            spec=k8s.V1JobSpec(
                backoff_limit=0,
                ttl_seconds_after_finished=self.ttl_seconds_after_finished,
                active_deadline_seconds=self.active_deadline_seconds,
                template=k8s.V1PodTemplateSpec(
                    metadata=k8s.V1ObjectMeta(labels=labels, annotations=annotations),
                    spec=pod_spec,
                ),
            ),
        )

    def secret_name(self, run: RunSpec) -> str:
        """The run's own Secret: the Job's name with a suffix (a DNS subdomain)."""
        return f"{self.job_name(run)}-credentials"

    def build_secret(self, run: RunSpec, owner_uid: str | None = None) -> Any:
        """The V1Secret with the values the agent fetched for ``run`` (None: it has none).

        Its owner is the Job (``owner_uid``: the created Job's uid), so deleting the Job,
        by hand, by ``cancel`` or by ``ttlSecondsAfterFinished``, deletes it too.
        """
        import base64

        from kubernetes import client as k8s

        values = {
            ref.name: run.credential_values[ref.name]
            for ref in run.credentials
            if ref.name in run.credential_values
        }
        if not values:
            return None
        owners = None
        if owner_uid is not None:
            owners = [
                k8s.V1OwnerReference(
                    api_version="batch/v1",
                    kind="Job",
                    name=self.job_name(run),
                    uid=owner_uid,
                    controller=False,
                )
            ]
        labels = {
            "app.kubernetes.io/name": "jupyter-flows",
            "app.kubernetes.io/component": "flow-run-credentials",
            **self.run_labels(run),
        }
        return k8s.V1Secret(
            api_version="v1",
            kind="Secret",
            type="Opaque",
            immutable=True,
            metadata=k8s.V1ObjectMeta(
                name=self.secret_name(run),
                namespace=self.namespace,
                labels=labels,
                owner_references=owners,
            ),
            data={k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        )

    def secret_manifest(self, run: RunSpec, owner_uid: str | None = None) -> dict[str, Any] | None:
        """The run's Secret as the JSON the API server receives (None: no values)."""
        from kubernetes.client import ApiClient

        secret = self.build_secret(run, owner_uid)
        if secret is None:
            return None
        api: Any = ApiClient()
        body: dict[str, Any] = api.sanitize_for_serialization(secret)
        return body

    def manifest(self, run: RunSpec) -> dict[str, Any]:
        """The Job as the JSON the API server receives."""
        from kubernetes.client import ApiClient

        api: Any = ApiClient()
        body: dict[str, Any] = api.sanitize_for_serialization(self.build_job(run))
        return body

    def _node_selector(self, resources: Mapping[str, Any]) -> dict[str, str]:
        """The configured selector, plus the GPU type a run asks for (``gpu_type``)."""
        selector = dict(self.node_selector)
        gpu_type = resources.get("gpu_type")
        if gpu_type:
            if not isinstance(gpu_type, str) or not _LABEL_VALUE.match(gpu_type):
                raise InvalidRunSpec(f"resources.gpu_type {gpu_type!r} is not a label value")
            selector[self.gpu_type_label] = gpu_type
        return selector

    def _requirements(self, resources: Mapping[str, Any]) -> Any:
        from kubernetes import client as k8s

        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        for field, name in (("cpu", "cpu"), ("memory", "memory"), ("disk", "ephemeral-storage")):
            value = resources.get(field)
            if value is None:
                continue
            requests[name] = quantity(value, f"resources.{field}")
            limit = resources.get(f"{field}_limit", value)
            if limit is not None:
                limits[name] = quantity(limit, f"resources.{field}_limit")
        gpu = resources.get("gpu")
        if gpu:
            if isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0:
                raise InvalidRunSpec(f"resources.gpu must be a whole number of GPUs, not {gpu!r}")
            limits[self.gpu_resource] = str(gpu)
        if not requests and not limits:
            return None
        return k8s.V1ResourceRequirements(requests=requests or None, limits=limits or None)


def label_value(value: str) -> str:
    """``value`` as a valid label value: itself when it is one, else a readable hash."""
    if len(value) <= 63 and _LABEL_VALUE.match(value):
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", value)[:50].strip("-_.")
    return f"{readable}-{digest}" if readable else digest


def check_label(key: str, value: str) -> None:
    prefix, _, name = key.rpartition("/")
    if (
        not name
        or len(name) > 63
        or not _LABEL_NAME.match(name)
        or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)))
    ):
        raise InvalidRunSpec(f"label key {key!r} is not a valid Kubernetes label name")
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise InvalidRunSpec(
            f"label {key}={value!r}: values are at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )


def check_env_name(name: str) -> None:
    if not _ENV_NAME.match(name):
        raise InvalidRunSpec(f"environment variable name {name!r} is not valid in Kubernetes")


def quantity(value: Any, field: str) -> str:
    """A Kubernetes quantity from a number or a string ("500m", "4Gi", "4GB" → "4G")."""
    if isinstance(value, bool):
        raise InvalidRunSpec(f"{field}: {value!r} is not a quantity")
    if isinstance(value, (int, float)):
        if value < 0 or math.isnan(value) or math.isinf(value):
            raise InvalidRunSpec(f"{field}: {value!r} is not a quantity")
        text = str(int(value)) if float(value).is_integer() else repr(float(value))
    elif isinstance(value, str):
        text = value.strip()
        match = _BYTES_SUFFIX.match(text)
        if match:
            number, unit = match.groups()
            text = number + ("k" if unit == "K" else unit)
    else:
        raise InvalidRunSpec(f"{field}: {value!r} is not a quantity")
    if not _QUANTITY.match(text):
        raise InvalidRunSpec(
            f"{field}: {value!r} is not a Kubernetes quantity (for example 500m, 2, 512Mi, 4Gi)"
        )
    return text


def label_selector(labels: Mapping[str, str]) -> str:
    """A label selector that matches exactly ``labels``."""
    return ",".join(f"{k}={v}" for k, v in labels.items())
