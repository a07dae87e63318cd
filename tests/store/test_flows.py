"""Flow versions: content-addressed ids, idempotent registration, and the recorded diff."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy.orm import Session

from jupyter_flows.store import Database, NotFound, flows
from jupyter_flows.store.hashing import (
    InvalidContent,
    canonical_json,
    diff_contents,
    flow_version_id,
    normalize_content,
)
from tests.store.factories import content

# ------------------------------------------------------------------ the hash (no database)


def test_order_of_tasks_edges_and_keys_does_not_matter() -> None:
    one = content(load="h1", train="h2", report="h3")
    two = {
        "resource_spec_hash": "spec-1",
        "run_config": {"kind": "local"},
        "task_runner": "sequential",
        "parameters": {"properties": {"n": {"type": "integer"}}, "type": "object"},
        "edges": [["train", "report"], ["load", "train"], ["load", "train"]],
        "tasks": [
            {"code_hash": h, "key": k}
            for k, h in [("report", "h3"), ("train", "h2"), ("load", "h1")]
        ],
    }
    assert flow_version_id("p", "f", one) == flow_version_id("p", "f", two)
    assert len(flow_version_id("p", "f", one)) == 64


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["tasks"][0].update(code_hash="other"),
        lambda c: c["tasks"][0].update(retries=2),
        lambda c: c["tasks"].append({"key": "extra", "code_hash": "h9"}),
        lambda c: c["edges"].pop(),
        lambda c: c["parameters"]["properties"].update(m={"type": "string"}),
        lambda c: c.update(task_runner="threads"),
        lambda c: c.update(run_config={"kind": "dask"}),
        lambda c: c.update(resource_spec_hash="spec-2"),
    ],
    ids=["code", "task-setting", "task-added", "edge", "params", "runner", "run-config", "spec"],
)
def test_every_hashed_field_changes_the_id(change: Any) -> None:
    base = content(load="h1", train="h2")
    changed = content(load="h1", train="h2")
    change(changed)
    assert flow_version_id("p", "f", base) != flow_version_id("p", "f", changed)


def test_the_flow_is_part_of_the_id() -> None:
    c = content(load="h1")
    assert flow_version_id("p", "f", c) != flow_version_id("p", "g", c)
    assert flow_version_id("p", "f", c) != flow_version_id("q", "f", c)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"tasks": [{"key": "a", "code_hash": "x"}], "stray": 1}, "unknown flow version fields"),
        ({"tasks": [{"code_hash": "x"}]}, "key"),
        ({"tasks": [{"key": "a"}]}, "code_hash"),
        ({"tasks": [{"key": "a", "code_hash": "x"}] * 2}, "duplicate"),
        ({"tasks": [{"key": "a", "code_hash": "x"}], "edges": [["a", "b"]]}, "unknown task"),
        ({"edges": [["a"]]}, "pair"),
        ({"parameters": [1]}, "JSON Schema"),
        ({"run_config": {"x": float("nan")}}, "plain JSON"),
    ],
)
def test_malformed_content_is_refused(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidContent, match=message):
        normalize_content(bad)


def test_canonical_json_is_compact_and_sorted() -> None:
    assert (
        canonical_json({"b": 1, "a": [1, {"d": 2, "c": "é"}]}) == '{"a":[1,{"c":"é","d":2}],"b":1}'
    )


def test_diff_names_what_changed() -> None:
    old = normalize_content(content(load="h1", train="h2", report="h3"))
    new_raw = content(load="h1", train="h2-new", score="h4")
    new_raw["tasks"][0]["retries"] = 3  # load: a setting changed
    new_raw["parameters"]["properties"]["m"] = {"type": "string"}
    new_raw["parameters"]["required"] = ["n"]
    new_raw["resource_spec_hash"] = "spec-2"
    diff = diff_contents(old, normalize_content(new_raw))
    assert diff["tasks"] == {
        "added": ["score"],
        "removed": ["report"],
        "changed": [
            {"key": "load", "fields": ["retries"]},
            {"key": "train", "fields": ["code_hash"]},
        ],
    }
    assert diff["edges"] == {"added": [["train", "score"]], "removed": [["train", "report"]]}
    assert diff["parameters"] == {"added": ["m"], "removed": [], "changed": ["n"]}
    assert diff["resource_spec"] == {"from": "spec-1", "to": "spec-2"}
    assert (diff["task_runner_changed"], diff["run_config_changed"]) == (False, False)


# ------------------------------------------------------------------ registration


def test_registering_unchanged_content_returns_the_same_version(session: Session) -> None:
    first, created = flows.register_flow_version(
        session, "default", "etl", content(a="h1"), entrypoint="etl.py:main"
    )
    again, created_again = flows.register_flow_version(
        session, "default", "etl", content(a="h1"), entrypoint="moved.py:main"
    )
    assert again.entrypoint == "etl.py:main"  # not hashed: the first registration's stays
    assert (created, created_again) == (True, False)
    assert again.id == first.id == flow_version_id("default", "etl", content(a="h1"))
    assert first.version_number == 1 and first.predecessor_id is None and first.changes is None
    assert len(flows.read_flow_versions(session, first.flow_group_id)) == 1


def test_a_change_makes_a_new_version_with_its_diff(session: Session) -> None:
    v1, _ = flows.register_flow_version(session, "default", "etl", content(a="h1", b="h2"))
    v2, created = flows.register_flow_version(session, "default", "etl", content(a="h1", b="h3"))
    assert created and v2.id != v1.id
    assert (v2.version_number, v2.predecessor_id) == (2, v1.id)
    assert v2.changes is not None
    assert v2.changes["tasks"]["changed"] == [{"key": "b", "fields": ["code_hash"]}]
    assert v2.content == normalize_content(content(a="h1", b="h3"))
    group = flows.read_flow_group(session, v1.flow_group_id)
    assert group.latest_version_id == v2.id
    assert [v.version_number for v in flows.read_flow_versions(session, group.id)] == [2, 1]


def test_reverting_content_makes_the_old_version_latest_again(session: Session) -> None:
    v1, _ = flows.register_flow_version(session, "default", "etl", content(a="h1"))
    v2, _ = flows.register_flow_version(session, "default", "etl", content(a="h2"))
    back, created = flows.register_flow_version(session, "default", "etl", content(a="h1"))
    assert not created and back.id == v1.id
    latest = flows.latest_flow_version(session, v1.flow_group_id)
    assert latest is not None and latest.id == v1.id
    v3, _ = flows.register_flow_version(session, "default", "etl", content(a="h3"))
    assert (v3.version_number, v3.predecessor_id) == (3, v1.id)  # diffed against the latest


def test_same_content_in_two_flows_is_two_versions(session: Session) -> None:
    one, _ = flows.register_flow_version(session, "default", "etl", content(a="h1"))
    two, created = flows.register_flow_version(session, "default", "elt", content(a="h1"))
    assert created and one.id != two.id and one.flow_group_id != two.flow_group_id


def test_flow_groups(session: Session) -> None:
    a = flows.get_or_create_flow_group(session, "p1", "etl")
    assert flows.get_or_create_flow_group(session, "p1", "etl").id == a.id
    flows.get_or_create_flow_group(session, "p2", "etl")
    assert flows.find_flow_group(session, "p1", "etl") is not None
    assert flows.find_flow_group(session, "p1", "nope") is None
    assert [g.project for g in flows.read_flow_groups(session)] == ["p1", "p2"]
    assert [g.project for g in flows.read_flow_groups(session, project="p2")] == ["p2"]
    assert flows.latest_flow_version(session, a.id) is None
    with pytest.raises(NotFound):
        flows.read_flow_group(session, "nope")
    with pytest.raises(NotFound):
        flows.read_flow_version(session, "0" * 64)


def test_concurrent_registrations_agree(db: Database) -> None:
    """Racing registrations of one flow: same content -> one version; numbers never clash."""
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4, timeout=60)

    def register(code: str) -> None:
        try:
            barrier.wait()
            with db.session() as s:
                version, created = flows.register_flow_version(s, "default", "etl", content(a=code))
                s.commit()
                results.append((version.id, created))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(c,)) for c in ["h1", "h1", "h2", "h2"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert len({vid for vid, _ in results}) == 2
    assert sum(created for _, created in results) == 2
    with db.session() as s:
        group = flows.find_flow_group(s, "default", "etl")
        assert group is not None
        assert sorted(v.version_number for v in flows.read_flow_versions(s, group.id)) == [1, 2]
