"""Flows and flow versions: registration by content hash, reads, and refusals."""

from __future__ import annotations

import pytest

from tests.server.conftest import flow_content


async def test_unknown_flow_and_version_are_404(api) -> None:
    for path in ("flows/nope", "flows/nope/versions", "flow-versions/nope"):
        answer = await api("GET", path, expect=404)
        assert answer.error == "not_found"
        assert "nope" in answer.body["message"]


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("", "needs a JSON body"),
        ('{"name": "x"}', "content"),
        ('{"name": "x", "content": {}, "colour": "red"}', "colour: unknown field"),
        ('{"name": "", "content": {}}', "name"),
        ('{"name": "x", "content": {"tasks": [{"key": "a"}]}}', "code_hash"),
    ],
)
async def test_malformed_registration_is_400(api, raw, needle) -> None:
    answer = await api("POST", "flows", raw=raw, expect=400)

    assert answer.error == "invalid_input"
    assert needle in answer.body["message"]
    assert (await api("GET", "flows")).body["total"] == 0


async def test_edge_to_an_unknown_task_and_bad_parameter_schema_are_400(api) -> None:
    content = flow_content()
    content["edges"] = [{"source": "load", "target": "ghost"}]
    answer = await api("POST", "flows", {"name": "x", "content": content}, expect=400)
    assert "ghost" in answer.body["message"]

    content = {**flow_content(), "parameter_schema": {"type": "no-such-type"}}
    answer = await api("POST", "flows", {"name": "x", "content": content}, expect=400)
    assert "parameter_schema" in answer.body["message"]
    assert (await api("GET", "flows")).body["total"] == 0


async def test_a_content_names_its_kind_or_is_read_as_before_kinds(api) -> None:
    kinded = await api.register(kind="module")
    assert kinded["content"]["kind"] == "module"
    legacy = await api.register("legacy")
    assert "kind" not in legacy["content"]  # stored as sent: readers apply the old rule
    notebook = {"kind": "notebook", "task_runner": {"engine": "tasks", "runner": "threads"}}
    assert (await api.register("nb", **notebook))["content"]["task_runner"]["engine"] == "tasks"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ({"kind": "pipeline"}, "kind"),
        ({"kind": "notebook", "task_runner": "threads"}, "names its notebook engine"),
        ({"kind": "script", "task_runner": {"runner": "threads"}}, "names its notebook engine"),
        ({"task_runner": {"engine": "no such/engine"}}, "does not describe a flow"),
    ],
)
async def test_a_content_that_describes_no_runnable_flow_is_400(api, content, needle) -> None:
    body = {"name": "x", "content": {**flow_content(), **content}}
    answer = await api("POST", "flows", body, expect=400)
    assert answer.error == "invalid_input" and needle in answer.body["message"]
    assert (await api("GET", "flows")).body["total"] == 0


async def test_register_creates_then_finds_the_same_version(api) -> None:
    body = {"name": "etl", "content": flow_content(), "entrypoint": "etl.py:etl"}
    first = await api("POST", "flows", body, expect=201)
    again = await api("POST", "flows", body, expect=200)

    assert first.body["new"] is True and again.body["new"] is False
    assert first.body["id"] == again.body["id"]
    assert first.headers["Location"].endswith(f"/api/flows/flow-versions/{first.body['id']}")
    assert first.body["entrypoint"] == "etl.py:etl"
    assert first.body["content"]["edges"] == [
        {"source": "load", "target": "train", "names": ["data"]}
    ]
    assert first.body["content"]["parameter_schema"] == flow_content()["parameter_schema"]


async def test_changed_content_makes_version_two_with_its_changes(api) -> None:
    v1 = await api.register()
    content = flow_content()
    content["tasks"][1]["code_hash"] = "h2-changed"
    v2 = await api.register(**content)

    assert v2["version_number"] == 2 and v2["id"] != v1["id"]
    assert v2["changes"]["tasks"]["changed"] == [{"key": "train", "fields": ["code_hash"]}]
    flow = (await api("GET", f"flows/{v1['flow_id']}", expect=200)).body
    assert flow["latest_version_id"] == v2["id"] and flow["latest_version_number"] == 2
    versions = (await api("GET", f"flows/{v1['flow_id']}/versions", expect=200)).body
    assert [v["version_number"] for v in versions["items"]] == [2, 1]
    assert versions["total"] == 2
    got = (await api("GET", f"flow-versions/{v1['id']}", expect=200)).body
    assert got["version_number"] == 1


async def test_flow_list_pages_and_filters(api) -> None:
    for name in ("a", "b", "c"):
        await api.register(name)

    page = (await api("GET", "flows", params={"limit": 2, "offset": 1}, expect=200)).body
    assert [f["name"] for f in page["items"]] == ["b", "c"]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    only = (await api("GET", "flows", params={"name": "b"}, expect=200)).body
    assert [f["name"] for f in only["items"]] == ["b"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "x"}])
async def test_bad_paging_is_400(api, params) -> None:
    answer = await api("GET", "flows", params=params, expect=400)
    assert answer.error == "invalid_input"


async def test_flow_list_gives_each_flow_its_last_run_next_run_and_tags(api) -> None:
    ran = await api.register("ran")
    await api.register("idle")
    await api(
        "POST",
        "deployments",
        {"flow_id": ran["flow_id"], "name": "nightly", "tags": ["prod", "etl"]},
        expect=201,
    )
    first = await api.adhoc_run(flow_name="ran", state={"type": "PENDING"})
    await api("POST", f"flow-runs/{first['id']}/state", {"type": "RUNNING"}, expect=200)
    await api("POST", f"flow-runs/{first['id']}/state", {"type": "FAILED"}, expect=200)
    later = await api.adhoc_run(flow_name="ran", state={"type": "PENDING"})
    await api("POST", f"flow-runs/{later['id']}/state", {"type": "RUNNING"}, expect=200)
    due = "2999-01-01T06:00:00+00:00"
    soon = await api.adhoc_run(flow_name="ran", state={"type": "SCHEDULED", "timestamp": None})
    await api(
        "POST",
        "flow-runs",
        {"flow_name": "ran", "state": {"type": "SCHEDULED"}},
        expect=201,
    )
    assert soon["state"]["type"] == "SCHEDULED"

    items = {f["name"]: f for f in (await api("GET", "flows", expect=200)).body["items"]}

    assert items["ran"]["last_run"]["id"] == later["id"]
    assert items["ran"]["last_run"]["state"]["type"] == "RUNNING"
    assert items["ran"]["next_run_at"] is not None and items["ran"]["next_run_at"] < due
    assert items["ran"]["tags"] == ["etl", "prod"]
    assert items["idle"]["last_run"] is None
    assert items["idle"]["next_run_at"] is None
    assert items["idle"]["tags"] == []


async def test_a_resource_spec_is_part_of_the_version_and_its_diff_is_in_words(api) -> None:
    from jupyter_flows.spec.capture import build_spec

    def spec(pandas: str) -> dict:
        probe = {
            "python": {"version": "3.11.7", "implementation": "CPython"},
            "platform": "linux-x86_64",
            "packages": [{"name": "pandas", "version": pandas}],
            "env": {"PYTHONHASHSEED": "0"},
            "machine": {"cpu": 2, "memory": 2**30, "gpus": []},
        }
        return dict(build_spec(probe).spec.document)

    first = await api.register("env", resource_spec=spec("2.2.3"))
    assert first["content"]["resource_spec_hash"]
    again = await api.register("env", resource_spec=spec("2.2.3"))
    assert again["id"] == first["id"] and again["new"] is False
    second = await api.register("env", resource_spec=spec("2.3.1"))
    assert second["id"] != first["id"]
    assert second["changes"]["resource_spec"] is not None

    shown = (await api("GET", f"flow-versions/{second['id']}/resource-spec")).body
    assert shown["resource_spec"]["image"]["packages"] == [{"name": "pandas", "version": "2.3.1"}]
    path = f"flow-versions/{second['id']}/resource-spec/diff"
    diff = await api("GET", path, params={"from": first["id"]})
    assert diff.body["changes"] == ["pandas 2.2.3 → 2.3.1"] and diff.body["changed"] is True
    answer = await api("GET", path, expect=400)
    assert "from=" in answer.body["message"]

    bad = {**spec("1"), "hardware": {"cpu": 0, "memory": "1Gi"}}
    body = {"name": "x", "content": {"resource_spec": bad}}
    answer = await api("POST", "flows", body, expect=400)
    assert "hardware/cpu" in answer.body["message"]
    wrong_hash = {"resource_spec": spec("1"), "resource_spec_hash": "abc"}
    answer = await api("POST", "flows", {"name": "x", "content": wrong_hash}, expect=400)
    assert "not the hash" in answer.body["message"]
