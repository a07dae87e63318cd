from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.pg import PostgresUnavailable, find_pg_bin, throwaway_postgres

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    """Every jp_serverapp in the tests runs with the jupyter_flows extension enabled."""
    return {"ServerApp": {"jpserver_extensions": {"jupyter_flows": True}}}


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
