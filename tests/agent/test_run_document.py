"""The run document: one type, made from a claim, from the environment, or fetched by id."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.agent.agent import MAX_ENV_SPEC, Agent
from jupyter_flows.agent.run_document import RunDocument, RunFlowVersion
from jupyter_flows.client import FlowsClient
from jupyter_flows.client_models import ClaimedRun
from jupyter_flows.engine.run_env import RunEnv
from jupyter_flows.spec.flow_kind import FlowKind, notebook_entrypoint
from jupyter_flows.spec.python_flows import registration
from tests.flows_server import FlowsServer

MODULE_CONTENT = {
    "kind": "module",
    "tasks": [{"key": "etl.load", "name": "load", "code_hash": "h1"}],
    "edges": [],
    "parameter_schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
    "task_runner": "threads",
    "run_config": {"working_dir": "/srv/flows", "env": {"MODE": "nightly"}},
    "resource_spec_hash": None,
}


def claimed(**version: Any) -> ClaimedRun:
    content = version.pop("content", MODULE_CONTENT)
    return ClaimedRun.model_validate(
        {
            "id": "run-1",
            "name": "brave-otter",
            "flow_id": "f-1",
            "flow_name": "etl",
            "parameters": {"n": 3},
            "run_config": content.get("run_config") or {},
            "attempt": 1,
            "flow_version": {
                "id": "v-1",
                "flow_id": "f-1",
                "version_number": 1,
                "entrypoint": "etl.py:etl",
                "content": content,
                **version,
            },
        }
    )


def test_a_claim_makes_the_document_and_json_carries_it_whole() -> None:
    document = RunDocument.from_claim(claimed())
    assert document == RunDocument(
        id="run-1",
        name="brave-otter",
        parameters={"n": 3},
        run_config=MODULE_CONTENT["run_config"],
        flow_version=RunFlowVersion("v-1", "f-1", 1, "etl.py:etl", MODULE_CONTENT),
    )
    assert RunDocument.from_json(document.to_json()) == document
    assert document.kind is FlowKind.MODULE


def test_the_kind_is_read_from_the_version_old_contents_included() -> None:
    notebook = {"task_runner": {"engine": "kernel"}, "tasks": []}  # registered before kinds
    script = claimed(content=notebook, entrypoint=notebook_entrypoint("report.py", "ab" * 32))
    assert RunDocument.from_claim(script).kind is FlowKind.SCRIPT
    assert RunDocument(id="run-2").kind is FlowKind.MODULE  # no version: nothing to run


def test_the_agent_hands_the_document_over_in_the_run_env() -> None:
    with FlowsClient("http://127.0.0.1:9/api/flows/", api_key="key") as client:
        spec = Agent(client, "q", infrastructure="local").run_spec(claimed())
    handed = RunEnv.from_environ(spec.env)
    assert handed.flow_run_id == "run-1" and handed.api_key == "key"
    assert handed.run_process and not handed.console_logs and handed.agent_pid is not None
    assert RunDocument.from_run_env(handed) == RunDocument.from_claim(claimed())
    assert spec.env["MODE"] == "nightly"  # the run config's env comes first


def test_a_document_too_large_for_the_environment_is_left_to_fetch() -> None:
    large = {**MODULE_CONTENT, "parameter_schema": {"description": "x" * MAX_ENV_SPEC}}
    with FlowsClient("http://127.0.0.1:9/api/flows/") as client:
        spec = Agent(client, "q", infrastructure="local").run_spec(claimed(content=large))
    handed = RunEnv.from_environ(spec.env)
    assert handed.run_document is None and RunDocument.from_run_env(handed) is None
    assert handed.flow_run_id == "run-1"


FETCHED = """
from jupyter_flows import flow


@flow(retries=2)
def fetched(n: int = 1) -> int:
    return n
"""


@pytest.fixture
def api(flows_server: FlowsServer) -> Iterator[FlowsClient]:
    with FlowsClient(flows_server.url, flows_server.api_key) as client:
        yield client


def test_fetched_by_id_it_is_the_document_the_claim_made(api: FlowsClient, tmp_path: Path) -> None:
    flows = tmp_path / "fetched_flows.py"
    flows.write_text(FETCHED)
    queue = f"q-{uuid.uuid4().hex[:8]}"
    body = registration(flows, name=f"fetched-{queue}")
    version = api.register_flow(**body).version
    deployment = api.create_deployment(version.flow_id, f"d-{queue}", work_queue=queue)
    run = api.run_deployment(deployment.id, parameters={"n": 5})
    agent = api.register_agent(f"a-{queue}", queue)
    got = api.claim(queue, agent.id)
    assert got is not None and got.id == run.id
    from_claim = RunDocument.from_claim(got)
    assert RunDocument.fetch(api, run.id) == from_claim
    assert from_claim.run_config == {"retries": 2} and from_claim.parameters == {"n": 5}
    assert from_claim.kind is FlowKind.MODULE
