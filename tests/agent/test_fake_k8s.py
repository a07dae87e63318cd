"""The fake API server answers as the real one does, on the wire and through the client.

These pin down the behaviour the Kubernetes infrastructure's tests rely on, so a test that
passes against the fake passes for the reasons it would against a cluster.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.agent.fake_k8s import FakeKubernetes

JOBS = "/apis/batch/v1/namespaces/default/jobs"


def job_body(name: str = "demo", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"app": "demo"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "flow", "image": "busybox:1.36", "command": ["true"]}],
                },
            },
            **spec,
        },
    }


def request(
    fake: FakeKubernetes, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(fake.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def call(fake: FakeKubernetes, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, data = request(fake, method, path, body)
    return status, json.loads(data)


def assert_status(body: dict[str, Any], code: int, reason: str, message: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert (body["code"], body["reason"]) == (code, reason)
    assert message in body["message"]


def test_create_returns_201_with_server_defaults(fake_k8s: FakeKubernetes) -> None:
    status, job = call(fake_k8s, "POST", JOBS, job_body())
    assert status == 201
    assert job["kind"] == "Job" and job["apiVersion"] == "batch/v1"
    metadata = job["metadata"]
    assert metadata["namespace"] == "default" and metadata["uid"]
    assert int(metadata["resourceVersion"]) > 0
    uid = metadata["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["job-name"] == "demo" and labels["batch.kubernetes.io/job-name"] == "demo"
    assert job["spec"]["completions"] == 1 and job["spec"]["backoffLimit"] == 0


def test_create_makes_a_pending_pod_owned_by_the_job(fake_k8s: FakeKubernetes) -> None:
    call(fake_k8s, "POST", JOBS, job_body())
    [name] = fake_k8s.pods_of("demo")
    assert name.startswith("demo-") and len(name) == len("demo-") + 5
    pod = fake_k8s.pod(name)
    assert pod is not None
    assert pod["status"]["phase"] == "Pending"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    state = pod["status"]["containerStatuses"][0]["state"]
    assert state == {"waiting": {"reason": "ContainerCreating"}}


def test_not_found_is_a_404_status(fake_k8s: FakeKubernetes) -> None:
    status, body = call(fake_k8s, "GET", f"{JOBS}/missing")
    assert status == 404
    assert_status(body, 404, "NotFound", 'jobs.batch "missing" not found')
    assert body["details"] == {"name": "missing", "group": "batch", "kind": "jobs"}
    status, body = call(fake_k8s, "GET", "/api/v1/namespaces/default/pods/nope/log")
    assert_status(body, 404, "NotFound", 'pods "nope" not found')
    status, body = call(fake_k8s, "GET", "/apis/unknown/v9/things")
    assert_status(body, 404, "NotFound", "the server could not find the requested resource")


def test_a_second_create_is_a_409_status(fake_k8s: FakeKubernetes) -> None:
    call(fake_k8s, "POST", JOBS, job_body())
    status, body = call(fake_k8s, "POST", JOBS, job_body())
    assert status == 409
    assert_status(body, 409, "AlreadyExists", 'jobs.batch "demo" already exists')


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (job_body(backoffLimit="zero"), "spec.backoffLimit"),
        (job_body(surprise=True), "spec"),
        (job_body(name="Not_A_Name"), "metadata.name"),
        (job_body(name="x" * 64), "metadata.name"),
    ],
)
def test_invalid_bodies_are_a_422_status(
    fake_k8s: FakeKubernetes, body: dict[str, Any], field: str
) -> None:
    status, answer = call(fake_k8s, "POST", JOBS, body)
    assert status == 422
    assert_status(answer, 422, "Invalid", "is invalid")
    assert answer["details"]["causes"][0]["field"].startswith(field)
    assert fake_k8s.pods_of(body["metadata"]["name"]) == []


def test_unknown_namespace_and_namespace_mismatch(fake_k8s: FakeKubernetes) -> None:
    status, body = call(fake_k8s, "POST", "/apis/batch/v1/namespaces/nowhere/jobs", job_body())
    assert_status(body, 404, "NotFound", 'namespaces "nowhere" not found')
    mismatched = job_body()
    mismatched["metadata"]["namespace"] = "other"
    status, body = call(fake_k8s, "POST", JOBS, mismatched)
    assert_status(body, 400, "BadRequest", "does not match the namespace")


def test_list_selects_by_field_and_label(fake_k8s: FakeKubernetes) -> None:
    call(fake_k8s, "POST", JOBS, job_body("one"))
    call(fake_k8s, "POST", JOBS, job_body("two"))
    status, listing = call(fake_k8s, "GET", f"{JOBS}?fieldSelector=metadata.name%3Dtwo")
    assert listing["kind"] == "JobList" and listing["metadata"]["resourceVersion"]
    assert [j["metadata"]["name"] for j in listing["items"]] == ["two"]
    _, pods = call(fake_k8s, "GET", "/api/v1/namespaces/default/pods?labelSelector=job-name%3Done")
    assert pods["kind"] == "PodList" and len(pods["items"]) == 1
    _, body = call(fake_k8s, "GET", f"{JOBS}?fieldSelector=spec.bogus%3D1")
    assert_status(body, 400, "BadRequest", "is not a known field selector")


def test_watch_streams_newline_delimited_events(fake_k8s: FakeKubernetes) -> None:
    _, created = call(fake_k8s, "POST", JOBS, job_body())
    pod = fake_k8s.pods_of("demo")[0]
    fake_k8s.start_pod(pod)
    fake_k8s.finish_pod(pod, 0)
    since = created["metadata"]["resourceVersion"]
    status, headers, data = request(
        fake_k8s,
        "GET",
        f"{JOBS}?watch=true&resourceVersion={since}&timeoutSeconds=1"
        "&fieldSelector=metadata.name%3Ddemo",
    )
    assert status == 200 and headers["Transfer-Encoding"] == "chunked"
    lines = data.decode().splitlines()
    events = [json.loads(line) for line in lines]
    assert {e["type"] for e in events} == {"MODIFIED"}
    assert all(e["object"]["kind"] == "Job" for e in events)
    last = events[-1]["object"]
    assert [c["type"] for c in last["status"]["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(since)


def test_watch_from_zero_starts_with_the_current_objects(fake_k8s: FakeKubernetes) -> None:
    call(fake_k8s, "POST", JOBS, job_body())
    _, _, data = request(fake_k8s, "GET", f"{JOBS}?watch=true&timeoutSeconds=1")
    events = [json.loads(line) for line in data.decode().splitlines()]
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "demo"


def test_a_compacted_resource_version_is_an_error_event(fake_k8s: FakeKubernetes) -> None:
    call(fake_k8s, "POST", JOBS, job_body())
    fake_k8s.compact()
    status, _, data = request(fake_k8s, "GET", f"{JOBS}?watch=true&resourceVersion=1")
    assert status == 200
    [event] = [json.loads(line) for line in data.decode().splitlines()]
    assert event["type"] == "ERROR"
    assert_status(event["object"], 410, "Expired", "too old resource version")


def test_expired_watches_on_request(fake_k8s: FakeKubernetes) -> None:
    _, created = call(fake_k8s, "POST", JOBS, job_body())
    since = created["metadata"]["resourceVersion"]
    fake_k8s.expire_watches(1)
    path = f"{JOBS}?watch=true&resourceVersion={since}&timeoutSeconds=1"
    _, _, data = request(fake_k8s, "GET", path)
    assert json.loads(data.decode().splitlines()[0])["object"]["code"] == 410
    _, _, data = request(fake_k8s, "GET", path)  # only the next one
    assert all(json.loads(line)["type"] != "ERROR" for line in data.decode().splitlines())


def test_logs_before_the_container_starts_are_a_400(fake_k8s: FakeKubernetes) -> None:
    call(fake_k8s, "POST", JOBS, job_body())
    pod = fake_k8s.pods_of("demo")[0]
    _, body = call(fake_k8s, "GET", f"/api/v1/namespaces/default/pods/{pod}/log?container=flow")
    assert_status(body, 400, "BadRequest", f'container "flow" in pod "{pod}" is waiting to start')
    _, body = call(fake_k8s, "GET", f"/api/v1/namespaces/default/pods/{pod}/log?container=x")
    assert_status(body, 400, "BadRequest", "container x is not valid")


def test_logs_plain_timestamped_and_followed(fake_k8s: FakeKubernetes) -> None:
    call(fake_k8s, "POST", JOBS, job_body())
    pod = fake_k8s.pods_of("demo")[0]
    fake_k8s.start_pod(pod)
    fake_k8s.write_log(pod, "hello", "world")
    path = f"/api/v1/namespaces/default/pods/{pod}/log"
    status, headers, data = request(fake_k8s, "GET", path)
    assert (status, headers["Content-Type"], data) == (200, "text/plain", b"hello\nworld\n")
    _, _, data = request(fake_k8s, "GET", path + "?timestamps=true")
    stamp, text = data.decode().splitlines()[0].split(" ", 1)
    assert text == "hello" and stamp.endswith("Z") and "T" in stamp
    fake_k8s.finish_pod(pod, 0)
    _, headers, data = request(fake_k8s, "GET", path + "?follow=true")
    assert headers["Transfer-Encoding"] == "chunked" and data == b"hello\nworld\n"


def test_delete_background_removes_the_job_and_its_pods(fake_k8s: FakeKubernetes) -> None:
    _, created = call(fake_k8s, "POST", JOBS, job_body())
    status, body = call(
        fake_k8s,
        "DELETE",
        f"{JOBS}/demo",
        {"kind": "DeleteOptions", "propagationPolicy": "Background"},
    )
    assert status == 200 and body["kind"] == "Status" and body["status"] == "Success"
    assert body["details"]["uid"] == created["metadata"]["uid"]
    assert fake_k8s.job("demo") is None and fake_k8s.pods_of("demo") == []
    status, body = call(fake_k8s, "DELETE", f"{JOBS}/demo")
    assert_status(body, 404, "NotFound", 'jobs.batch "demo" not found')


def test_the_official_client_reads_the_fakes_answers(fake_k8s: FakeKubernetes) -> None:
    from kubernetes import client

    api = client.BatchV1Api(client.ApiClient(client.Configuration(host=fake_k8s.url)))
    job = api.create_namespaced_job("default", job_body())
    assert job.metadata.name == "demo" and job.spec.backoff_limit == 0
    with pytest.raises(client.ApiException) as caught:
        api.read_namespaced_job("missing", "default")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["reason"] == "NotFound"
    listing = api.list_namespaced_job("default", label_selector="app=demo")
    assert [j.metadata.name for j in listing.items] == ["demo"]
