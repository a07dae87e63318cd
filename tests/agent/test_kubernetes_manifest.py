"""The Job manifest: every one validated offline against the Kubernetes OpenAPI schema."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from jupyter_flows.agent.infra import InvalidRunSpec, RunSpec
from jupyter_flows.spec.capture import build_spec

pytest.importorskip("kubernetes")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

from jupyter_flows.agent.infra.kubernetes import KubernetesJob  # noqa: E402
from jupyter_flows.agent.infra.kubernetes_manifest import (  # noqa: E402
    JobBuilder,
    check_label,
    label_value,
    quantity,
)


def _versions() -> list[str]:
    """The oldest and newest Kubernetes whose schema kubernetes-validate ships, and one between."""
    from kubernetes_validate.utils import all_versions

    known = sorted(set(all_versions()), key=lambda v: tuple(int(p) for p in v.split(".")))
    return sorted({known[0], known[len(known) // 2], known[-1]}, key=known.index)


VERSIONS = _versions()
RUN_ID = "3f2a1c4e-0b1d-4c55-9e7e-1f0d6a6a2b11"
FLOW_ID = "a3" * 32  # a content hash: longer than a label value may be


def run_spec(**overrides: Any) -> RunSpec:
    values: dict[str, Any] = {
        "flow_run_id": RUN_ID,
        "flow_id": FLOW_ID,
        "command": ["python", "-m", "jupyter_flows.agent.run", RUN_ID],
        "resources": {"image": "ghcr.io/acme/flows:1.2"},
    }
    values.update(overrides)
    return RunSpec(**values)


GPU_SPEC = build_spec(
    {
        "python": {"version": "3.11.7", "implementation": "CPython"},
        "platform": "linux-x86_64",
        "packages": [],
        "machine": {"cpu": 8, "memory": 32 * 2**30, "gpus": []},
    },
    hardware={"cpu": 4, "memory": "16Gi", "gpu": 2, "gpu_type": "NVIDIA-A100-SXM4-40GB"},
).spec

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "minimal": ({}, {}),
    "everything": (
        {
            "env": {"JUPYTER_FLOWS_API_URL": "http://flows:8888/api/flows", "MODE": "prod"},
            "credentials": ["warehouse-password", {"name": "s3", "env": "AWS_SECRET", "key": "k"}],
            "resources": {
                "image": "python:3.11-slim",
                "cpu": 2,
                "memory": "8Gi",
                "gpu": 1,
                "disk": "20Gi",
                "labels": {"team": "data-science", "cost-center": "42"},
            },
            "working_dir": "/work",
            "flow_name": "nightly etl",
            "attempt": 3,
        },
        {
            "service_account": "flows-runner",
            "image_pull_secrets": ["registry"],
            "node_selector": {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ],
            "labels": {"environment": "staging"},
            "active_deadline_seconds": 86400,
            "image_pull_policy": "IfNotPresent",
        },
    ),
    "fractional cpu, memory in bytes, explicit limits": (
        {"resources": {"image": "x:1", "cpu": 0.25, "memory": 2**30, "cpu_limit": "1"}},
        {},
    ),
    "no ttl, default image": (
        {"resources": {}},
        {"image": "python:3.12", "ttl_seconds_after_finished": None},
    ),
    "a long, odd run id": ({"flow_run_id": "Run/" + "x" * 80}, {}),
    "a resource spec's hardware request with a GPU type": (
        {"resources": {"image": "python:3.11-slim", **GPU_SPEC.infrastructure_resources()}},
        {},
    ),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_every_manifest_is_valid_for_every_supported_kubernetes(case: str, version: str) -> None:
    spec_overrides, config = CASES[case]
    manifest = JobBuilder(**config).manifest(run_spec(**spec_overrides))
    kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validator_is_strict_enough_to_catch_mistakes() -> None:
    """A guard on the guard: the checks above would fail on a broken manifest."""
    manifest = JobBuilder().manifest(run_spec())
    broken = copy.deepcopy(manifest)
    broken["spec"]["backoffLimit"] = "zero"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.37.0", strict=True)
    unknown = copy.deepcopy(manifest)
    unknown["spec"]["template"]["spec"]["containers"][0]["cpu"] = "1"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, "1.37.0", strict=True)


def test_the_manifest_of_a_full_spec() -> None:
    spec_overrides, config = CASES["everything"]
    job = JobBuilder(namespace="flows", **config).manifest(run_spec(**spec_overrides))
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"]["namespace"] == "flows"
    assert job["metadata"]["name"] == f"jupyter-flows-{RUN_ID}-3"
    assert job["spec"]["backoffLimit"] == 0  # retries are the engine's
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    assert job["spec"]["activeDeadlineSeconds"] == 86400

    labels = job["metadata"]["labels"]
    assert labels["jupyter-flows.io/flow-run-id"] == RUN_ID
    assert labels["jupyter-flows.io/attempt"] == "3"
    assert labels["jupyter-flows.io/flow-id"] == label_value(FLOW_ID)
    assert labels["team"] == "data-science" and labels["environment"] == "staging"
    assert labels["app.kubernetes.io/managed-by"] == "jupyter-flows"
    annotations = job["metadata"]["annotations"]
    assert annotations["jupyter-flows.io/flow-id"] == FLOW_ID  # the full id
    assert annotations["jupyter-flows.io/flow-name"] == "nightly etl"

    template = job["spec"]["template"]
    assert template["metadata"]["labels"] == labels  # pods are found by the same labels
    pod = template["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "flows-runner"
    assert "automountServiceAccountToken" not in pod
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"

    [container] = pod["containers"]
    assert container["name"] == "flow"
    assert container["image"] == "python:3.11-slim"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["command"] == list(run_spec().command)
    assert container["workingDir"] == "/work"
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "8Gi", "ephemeral-storage": "20Gi"},
        "limits": {
            "cpu": "2",
            "memory": "8Gi",
            "ephemeral-storage": "20Gi",
            "nvidia.com/gpu": "1",
        },
    }
    assert container["env"] == [
        {"name": "JUPYTER_FLOWS_API_URL", "value": "http://flows:8888/api/flows"},
        {"name": "MODE", "value": "prod"},
        {
            "name": "WAREHOUSE_PASSWORD",
            "valueFrom": {
                "secretKeyRef": {"name": "warehouse-password", "key": "value", "optional": False}
            },
        },
        {
            "name": "AWS_SECRET",
            "valueFrom": {"secretKeyRef": {"name": "s3", "key": "k", "optional": False}},
        },
    ]


def test_credential_values_never_appear_in_the_manifest() -> None:
    manifest = JobBuilder().manifest(run_spec(credentials=["db-password"]))
    [env] = manifest["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "value" not in env and env["valueFrom"]["secretKeyRef"]["name"] == "db-password"


def test_a_minimal_manifest_has_no_resources_and_no_service_account_token() -> None:
    manifest = JobBuilder().manifest(run_spec())
    pod = manifest["spec"]["template"]["spec"]
    assert "resources" not in pod["containers"][0]
    assert "env" not in pod["containers"][0]
    assert pod["automountServiceAccountToken"] is False


def test_a_resource_spec_becomes_requests_limits_and_a_gpu_node_selector() -> None:
    resources = {"image": "python:3.11-slim", **GPU_SPEC.infrastructure_resources()}
    manifest = JobBuilder(node_selector={"pool": "gpu"}).manifest(run_spec(resources=resources))
    pod = manifest["spec"]["template"]["spec"]
    limits = pod["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "2"}
    assert pod["containers"][0]["resources"]["requests"] == {"cpu": "4", "memory": "16Gi"}
    assert pod["nodeSelector"] == {"pool": "gpu", "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"}
    with pytest.raises(InvalidRunSpec, match="gpu_type"):
        JobBuilder().manifest(run_spec(resources={"image": "x:1", "gpu": 1, "gpu_type": "a b"}))


def test_gpu_resource_name_is_configurable() -> None:
    manifest = JobBuilder(gpu_resource="amd.com/gpu").manifest(
        run_spec(resources={"image": "x:1", "gpu": 2})
    )
    limits = manifest["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"amd.com/gpu": "2"}


def test_job_names_are_short_unique_dns_labels() -> None:
    jobs = JobBuilder()
    names = {
        jobs.job_name(run_spec(flow_run_id=run_id, attempt=attempt))
        for run_id in ["Run/" + "x" * 80, "Run/" + "x" * 81, "UPPER_case id", RUN_ID]
        for attempt in (1, 2)
    }
    assert len(names) == 8
    for name in names:
        assert len(name) <= 56  # room for the pod's "-xxxxx"
        assert name == name.lower() and not name.startswith("-") and not name.endswith("-")


def test_user_labels_cannot_replace_the_run_labels() -> None:
    manifest = JobBuilder().manifest(
        run_spec(resources={"image": "x:1", "labels": {"jupyter-flows.io/flow-run-id": "other"}})
    )
    assert manifest["metadata"]["labels"]["jupyter-flows.io/flow-run-id"] == RUN_ID


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        (0.5, "0.5"),
        (2.0, "2"),
        ("500m", "500m"),
        ("4Gi", "4Gi"),
        ("4GB", "4G"),
        ("512MiB", "512Mi"),
        ("1.5Gi", "1.5Gi"),
        ("1e3", "1e3"),
        (" 2 ", "2"),
        (2**30, "1073741824"),
    ],
)
def test_quantities(value: Any, expected: str) -> None:
    assert quantity(value, "resources.x") == expected


@pytest.mark.parametrize("value", ["4 gigs", "-1", -1, "1.2.3", True, None, "Gi", float("nan")])
def test_bad_quantities_name_the_field(value: Any) -> None:
    with pytest.raises(InvalidRunSpec, match="resources.memory"):
        quantity(value, "resources.memory")


@pytest.mark.parametrize(
    ("overrides", "config", "message"),
    [
        ({"resources": {}}, {}, "resources.image is required"),
        ({"resources": {"image": "x:1", "memory": "lots"}}, {}, "resources.memory: 'lots'"),
        ({"resources": {"image": "x:1", "cpu": "two"}}, {}, "resources.cpu: 'two'"),
        ({"resources": {"image": "x:1", "gpu": 1.5}}, {}, "resources.gpu must be a whole number"),
        ({"resources": {"image": "x:1", "gpu": True}}, {}, "resources.gpu must be a whole number"),
        ({"resources": {"image": "x:1", "labels": {"bad key!": "x"}}}, {}, "label key"),
        ({"resources": {"image": "x:1", "labels": {"team": "x" * 64}}}, {}, "at most 63"),
        ({"env": {"BAD=NAME": "x"}}, {}, "environment variable name 'BAD=NAME'"),
        ({"credentials": [{"name": "a", "key": "bad key"}]}, {}, "Secret key 'bad key'"),
        ({"credentials": [{"name": "a", "secret": "Bad_Secret"}]}, {}, "Secret name"),
    ],
)
def test_specs_that_cannot_become_a_job(
    overrides: dict[str, Any], config: dict[str, Any], message: str
) -> None:
    infra = KubernetesJob(**config)
    with pytest.raises(InvalidRunSpec, match=message):
        infra.check(run_spec(**overrides))


def test_bad_namespace_is_refused_at_configuration() -> None:
    with pytest.raises(InvalidRunSpec, match="namespace 'Flows_NS'"):
        KubernetesJob(namespace="Flows_NS")


@pytest.mark.parametrize(
    "value", ["abc", "x" * 63, "x" * 64, "a/b", "-leading", "ünïcode", "", "a" * 200]
)
def test_label_values_are_always_valid_and_stable(value: str) -> None:
    sanitized = label_value(value)
    check_label("jupyter-flows.io/x", sanitized)
    assert label_value(value) == sanitized
    if len(value) <= 63 and value.isascii() and value.isalnum():
        assert sanitized == value


# ---------------------------------------------------------------- the run's own Secret

SECRET = "hunter2-Xq9!zz/+="
WITH_VALUES: dict[str, Any] = {
    "credentials": ["db-password", {"name": "s3", "env": "AWS_SECRET", "secret": "k8s-s3"}],
    "credential_values": {"db-password": SECRET},
    "env": {"JUPYTER_FLOWS_REDACT_ENV": "DB_PASSWORD,AWS_SECRET"},
}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_run_secret_and_its_job_are_valid_for_every_supported_kubernetes(
    version: str,
) -> None:
    jobs = JobBuilder(namespace="flows")
    run = run_spec(**WITH_VALUES)
    kubernetes_validate.validate(jobs.manifest(run), version, strict=True)
    secret = jobs.secret_manifest(run, owner_uid="0d9e6c39-8f8e-4a38-9d8f-2f7a2c1f0b77")
    assert secret is not None
    kubernetes_validate.validate(secret, version, strict=True)


def test_fetched_values_travel_in_a_secret_owned_by_the_job_never_in_the_job() -> None:
    jobs = JobBuilder(namespace="flows")
    run = run_spec(**WITH_VALUES)
    job = jobs.manifest(run)
    assert SECRET not in str(job)
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    own = env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert own == {"name": jobs.secret_name(run), "key": "db-password", "optional": False}
    # A reference to a Secret of the cluster stays one.
    assert env["AWS_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "k8s-s3"

    secret = jobs.secret_manifest(run, owner_uid="uid-1")
    assert secret is not None
    assert secret["metadata"]["name"] == f"{job['metadata']['name']}-credentials"
    assert secret["metadata"]["namespace"] == "flows" and secret["immutable"] is True
    (owner,) = secret["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": job["metadata"]["name"],
        "uid": "uid-1",
        "controller": False,
    }
    import base64

    assert secret["data"] == {"db-password": base64.b64encode(SECRET.encode()).decode()}
    assert jobs.secret_manifest(run_spec()) is None  # no values: no Secret


def test_the_values_are_not_in_the_run_specs_repr() -> None:
    assert SECRET not in repr(run_spec(**WITH_VALUES))
