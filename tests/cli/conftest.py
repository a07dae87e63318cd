from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from jupyter_flows.cli.main import cli
from jupyter_flows.client import FlowsClient
from tests.flows_server import FlowsServer

Invoke = Callable[..., Result]


@pytest.fixture
def api(flows_server: FlowsServer) -> Iterator[FlowsClient]:
    with FlowsClient(flows_server.url, flows_server.api_key) as client:
        yield client


@pytest.fixture
def invoke(flows_server: FlowsServer) -> Invoke:
    """``invoke("runs", "ls")``: the CLI, in process, talking to the session's server."""

    def run(*args: str, env: dict[str, Any] | None = None) -> Result:
        return CliRunner().invoke(
            cli, list(args), env={**flows_server.env(), **(env or {})}, catch_exceptions=False
        )

    return run
