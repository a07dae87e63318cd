from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.flows_server import FlowsServer
from tests.pg import PostgresUnavailable, find_pg_bin, throwaway_postgres

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    """Every jp_serverapp in the tests runs with the jupyter_flows extension enabled."""
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_flows": True}},
        "FlowsApp": {"start_local_agent": False},
    }


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a PostgreSQL server started for this test session alone.

    Skipped on a developer machine without PostgreSQL; in CI (``CI`` set) that is an error,
    so a missing install step cannot pass unnoticed.
    """
    try:
        find_pg_bin()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def flows_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsServer]:
    """One standalone server (subprocess, SQLite) shared by the CLI and end-to-end tests."""
    server = FlowsServer(tmp_path_factory.mktemp("flows-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_flows_server_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shell inside JupyterLab points JUPYTER_FLOWS_API_URL at its server: tests must not
    report their flow runs there (tests that want a server set these themselves)."""
    for name in ("JUPYTER_FLOWS_API_URL", "JUPYTER_FLOWS_API_KEY", "JUPYTER_FLOWS_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
