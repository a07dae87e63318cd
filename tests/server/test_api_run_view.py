"""What the run view reads: a run's graph in one request, and its logs paged by cursor
with a total, filtered by source, level and text on the server."""

from __future__ import annotations

from tests.server.conftest import ts


async def test_graph_of_a_registered_flow_has_its_tasks_before_they_run(api) -> None:
    version = await api.register()
    run = (await api("POST", "flow-runs", {"flow_version_id": version["id"]}, expect=201)).body
    graph = (await api("GET", f"flow-runs/{run['id']}/graph", expect=200)).body
    assert graph["flow_run"]["id"] == run["id"]
    assert graph["flow_version"]["version_number"] == version["version_number"]
    assert [n["key"] for n in graph["nodes"]] == ["load", "train"]
    assert all(n["task_runs"] == [] for n in graph["nodes"])
    assert graph["edges"] == [{"source": "load", "target": "train", "names": ["data"]}]
    assert graph["rerun_of"] is None and graph["reruns"] == []

    body = {"flow_run_id": run["id"], "task_key": "train", "state": {"type": "PENDING"}}
    train = (await api("POST", "task-runs", body, expect=201)).body
    graph = (await api("GET", f"flow-runs/{run['id']}/graph", expect=200)).body
    node = next(n for n in graph["nodes"] if n["key"] == "train")
    assert [t["id"] for t in node["task_runs"]] == [train["id"]]
    assert node["task_runs"][0]["state"]["type"] == "PENDING"
    assert graph["task_runs_total"] == 1


async def test_graph_of_a_module_flow_takes_nodes_and_edges_from_its_task_runs(api) -> None:
    run = await api.adhoc_run(state={"type": "PENDING"})
    first = {"flow_run_id": run["id"], "task_key": "m.extract", "name": "extract-0"}
    extract = (await api("POST", "task-runs", first, expect=201)).body
    for i in range(3):  # a mapped task: one node, three task runs
        body = {
            "flow_run_id": run["id"],
            "task_key": "m.clean",
            "name": f"clean-{i}",
            "task_inputs": {"rows": [extract["id"]]},
        }
        await api("POST", "task-runs", body, expect=201)
    graph = (await api("GET", f"flow-runs/{run['id']}/graph", expect=200)).body
    nodes = {n["key"]: n for n in graph["nodes"]}
    assert set(nodes) == {"m.extract", "m.clean"} and nodes["m.clean"]["name"] == "clean"
    assert len(nodes["m.clean"]["task_runs"]) == 3
    assert graph["edges"] == [{"source": "m.extract", "target": "m.clean", "names": ["rows"]}]


async def test_graph_links_a_rerun_both_ways(api) -> None:
    earlier = await api.adhoc_run()
    later = await api.adhoc_run(tags=[f"rerun-of:{earlier['id']}"])
    assert (await api("GET", f"flow-runs/{later['id']}/graph")).body["rerun_of"] == earlier["id"]
    assert (await api("GET", f"flow-runs/{earlier['id']}/graph")).body["reruns"] == [later["id"]]


async def test_graph_of_an_unknown_run_is_404(api) -> None:
    assert (await api("GET", "flow-runs/no-such-run/graph", expect=404)).error == "not_found"


def _line(run_id: str, task_id: str | None, i: int, name: str) -> dict:
    return {
        "id": f"line-{run_id[-6:]}-{i}",
        "flow_run_id": run_id,
        "task_run_id": task_id if name.endswith("task_runs") else None,
        "level": 40 if i % 5 == 0 else 20,
        "timestamp": ts(i),
        "message": f"{name.rsplit('.', 1)[1]} line {i}",
        "name": name,
    }


async def _lines(api, run_id: str, task_id: str) -> None:
    names = [
        "jupyter_flows.flow_runs",
        "jupyter_flows.task_runs",
        "jupyter_flows.agent",
        "jupyter_flows.job",
    ]
    lines = [_line(run_id, task_id, i, names[i % 4]) for i in range(20)]
    await api("POST", "logs", lines, expect=201)


async def test_logs_page_by_cursor_with_a_total(api) -> None:
    run = await api.adhoc_run(state={"type": "PENDING"})
    task = (await api("POST", "task-runs", {"flow_run_id": run["id"], "task_key": "t"})).body
    await _lines(api, run["id"], task["id"])
    path = f"flow-runs/{run['id']}/logs"
    seen, cursor, last_cursor = [], None, None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (await api("GET", path, params=params, expect=200)).body
        assert page["total"] == 20
        seen += [line["message"] for line in page["items"]]
        last_cursor = page["next_cursor"] or last_cursor
        if not page["items"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert len(seen) == 20 and seen[0].endswith("line 0") and seen[-1].endswith("line 19")
    # A follower asks again from where it stopped and gets only what arrived since.
    late = {**_line(run["id"], None, 99, "jupyter_flows.flow_runs"), "message": "late"}
    await api("POST", "logs", [late], expect=201)
    since = (await api("GET", path, params={"cursor": last_cursor}, expect=200)).body
    assert [line["message"] for line in since["items"]] == ["late"]
    bad = await api("GET", path, params={"cursor": "not-a-cursor"}, expect=400)
    assert bad.error == "invalid_input"


async def test_logs_tail_reads_the_end_directly_and_follows_on(api) -> None:
    """The view opens a long log at its end: ``tail`` answers the last lines, where they
    sit, and a cursor that gets only what arrives after them."""
    run = await api.adhoc_run(state={"type": "PENDING"})
    task = (await api("POST", "task-runs", {"flow_run_id": run["id"], "task_key": "t"})).body
    await _lines(api, run["id"], task["id"])
    path = f"flow-runs/{run['id']}/logs"
    end = (await api("GET", path, params={"limit": 6, "tail": "true"}, expect=200)).body
    assert end["total"] == 20 and end["offset"] == 14
    assert [line["message"].rsplit(" ", 1)[1] for line in end["items"]] == [
        str(i) for i in range(14, 20)
    ]
    filtered = {"limit": 3, "tail": "1", "source": "job"}
    jobs = (await api("GET", path, params=filtered, expect=200)).body
    assert jobs["total"] == 5 and jobs["offset"] == 2
    assert [line["message"] for line in jobs["items"]] == [f"job line {i}" for i in (11, 15, 19)]
    short = (await api("GET", path, params={"limit": 50, "tail": "true"}, expect=200)).body
    assert short["offset"] == 0 and len(short["items"]) == 20

    late = {**_line(run["id"], None, 99, "jupyter_flows.flow_runs"), "message": "late"}
    await api("POST", "logs", [late], expect=201)
    since = (await api("GET", path, params={"cursor": end["next_cursor"]}, expect=200)).body
    assert [line["message"] for line in since["items"]] == ["late"]

    both = await api("GET", path, params={"tail": "true", "offset": 5}, expect=400)
    assert both.error == "invalid_input"
    assert (await api("GET", path, params={"tail": "maybe"}, expect=400)).error == "invalid_input"


async def test_logs_filter_by_source_level_and_text(api) -> None:
    run = await api.adhoc_run(state={"type": "PENDING"})
    task = (await api("POST", "task-runs", {"flow_run_id": run["id"], "task_key": "t"})).body
    await _lines(api, run["id"], task["id"])
    path = f"flow-runs/{run['id']}/logs"

    async def messages(**params):
        page = (await api("GET", path, params=params, expect=200)).body
        assert page["total"] == len(page["items"])
        return [line["message"] for line in page["items"]]

    assert all(m.startswith("job ") for m in await messages(source="job"))
    assert len(await messages(source="job")) == 5
    assert len(await messages(source="flow,task")) == 10
    assert all(m.startswith("agent ") for m in await messages(source="agent"))
    assert await messages(source="task", level="ERROR") == ["task_runs line 5"]
    assert await messages(q="JOB LINE 1") == ["job line 11", "job line 15", "job line 19"]
    bad = await api("GET", path, params={"source": "kernel"}, expect=400)
    assert "source" in bad.body["message"]
