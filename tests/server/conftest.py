"""Server tests: the REST API through a real jupyter-server (pytest-jupyter's ``jp_fetch``),
on SQLite and on a throwaway PostgreSQL, every answer checked against schema/openapi.yaml."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from jupyter_flows.store import Database
from tests.server.openapi_check import check

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
_PG_TEMPLATE = "flows_api_template"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def api_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api-template") / "flows.db"
    db = Database(f"sqlite:///{path}")
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def api_pg_admin(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {_PG_TEMPLATE}")
    Database(make_url(postgres_url).set(database=_PG_TEMPLATE)).dispose()
    yield engine
    engine.dispose()


@pytest.fixture
def flows_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    if backend == "sqlite":
        path = tmp_path / "flows.db"
        shutil.copyfile(request.getfixturevalue("api_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin: sa.Engine = request.getfixturevalue("api_pg_admin")
    name = f"api_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {_PG_TEMPLATE}")
    url = make_url(request.getfixturevalue("postgres_url")).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def flows_config() -> dict[str, Any]:
    """Extra FlowsApp settings a test wants (override in a test module)."""
    return {}


@pytest.fixture
def jp_server_config(
    jp_server_config: dict[str, Any],
    flows_db_url: str,
    flows_config: dict[str, Any],
    request: pytest.FixtureRequest,
) -> dict[str, Any]:
    server_app: dict[str, Any] = {"jpserver_extensions": {"jupyter_flows": True}}
    if request.node.get_closest_marker("api_keys") is not None:
        from jupyter_flows.server.auth import FlowsAuthorizer, FlowsIdentityProvider

        server_app["identity_provider_class"] = FlowsIdentityProvider
        server_app["authorizer_class"] = FlowsAuthorizer
    return {
        "ServerApp": server_app,
        "FlowsApp": {
            "db_url": flows_db_url,
            "set_kernel_env": False,
            "start_local_agent": False,
            **flows_config,
        },
    }


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any

    @property
    def error(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None


_NO_BODY = object()


class Api:
    """Calls the REST API and checks every answer against openapi.yaml."""

    def __init__(self, fetch: Any) -> None:
        self.fetch = fetch

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = _NO_BODY,
        *,
        raw: bytes | str | None = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        expect: int | None = None,
    ) -> Answer:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if raw is not None:
            kwargs["body"] = raw
        elif body is not _NO_BODY:
            kwargs["body"] = json.dumps(body)
        elif method in ("POST", "PATCH", "PUT"):
            kwargs["body"] = ""
        response = await self.fetch(
            "api", "flows", *path.split("/"), params=params, headers=headers, **kwargs
        )
        content_type = response.headers.get("Content-Type", "")
        data: Any = response.body
        if content_type.startswith("application/json") and response.body:
            data = json.loads(response.body)
        check(method, path, response.code, content_type, data if data != b"" else None)
        answer = Answer(response.code, data, response.headers)
        if expect is not None:
            assert answer.status == expect, f"{method} {path}: {answer.status} {answer.body!r}"
        return answer

    # Shorthands for what many tests need first.
    async def register(self, name: str = "etl", **content: Any) -> dict[str, Any]:
        body = {"name": name, "content": {**flow_content(), **content}}
        answer = await self("POST", "flows", body)
        assert answer.status in (200, 201), answer.body
        return answer.body  # type: ignore[no-any-return]

    async def adhoc_run(self, **fields: Any) -> dict[str, Any]:
        body = {"flow_name": "adhoc", **fields}
        return (await self("POST", "flow-runs", body, expect=201)).body  # type: ignore[no-any-return]


def flow_content() -> dict[str, Any]:
    return {
        "tasks": [{"key": "load", "code_hash": "h1"}, {"key": "train", "code_hash": "h2"}],
        "edges": [{"source": "load", "target": "train", "names": ["data"]}],
        "parameter_schema": {
            "type": "object",
            "properties": {"n": {"type": "integer"}, "label": {"type": "string"}},
            "required": ["n"],
            "additionalProperties": False,
        },
        "task_runner": "threads",
        "run_config": {},
        "resource_spec_hash": None,
    }


@pytest.fixture
def api(jp_fetch: Any) -> Api:
    return Api(jp_fetch)


T0 = "2026-01-01T00:00:00+00:00"


def ts(seconds: int) -> str:
    return f"2026-01-01T00:{seconds // 60:02d}:{seconds % 60:02d}+00:00"
