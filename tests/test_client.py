"""FlowsClient's own rules, on an in-memory transport: errors, auth, pages, URLs.

What each endpoint answers is tested against the real server in tests/cli and tests/e2e.
"""

from __future__ import annotations

import json

import httpx
import pytest

from jupyter_flows.client import (
    FlowsAPIError,
    FlowsClient,
    FlowsConnectionError,
    normalize_api_url,
)


def fake(handler: object, **options: object) -> FlowsClient:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    return FlowsClient("http://flows.test/api/flows/", transport=transport, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("http://127.0.0.1:8888/api/flows/", "http://127.0.0.1:8888/api/flows/"),
        ("http://127.0.0.1:8888/api/flows", "http://127.0.0.1:8888/api/flows/"),
        ("http://127.0.0.1:8888", "http://127.0.0.1:8888/api/flows/"),
        ("https://hub.example/user/ana/", "https://hub.example/user/ana/api/flows/"),
    ],
)
def test_the_api_root_is_normalized(given: str, root: str) -> None:
    assert normalize_api_url(given) == root


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="not an http"):
        FlowsClient("127.0.0.1:8888")


def test_the_servers_error_body_becomes_a_flows_api_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": "not_found", "message": "no flow run 'x'"})

    with fake(handler) as api, pytest.raises(FlowsAPIError) as caught:
        api.get_flow_run("x")
    assert (caught.value.status, caught.value.error) == (404, "not_found")
    assert str(caught.value) == "no flow run 'x'"


def test_an_answer_that_is_not_json_still_says_what_happened() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    with fake(handler) as api, pytest.raises(FlowsAPIError) as caught:
        api.version()
    assert caught.value.status == 502 and caught.value.error == "http_error"
    assert "GET http://flows.test/api/flows/version answered 502" in caught.value.message


def test_an_unreachable_server_is_one_line_naming_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    with fake(handler) as api, pytest.raises(FlowsConnectionError) as caught:
        api.version()
    assert str(caught.value) == (
        "cannot reach the jupyter-flows server at http://flows.test/api/flows/: "
        "[Errno 111] Connection refused"
    )
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "env", "header"),
    [
        ({"api_key": "jf_k"}, {}, "Bearer jf_k"),
        ({"token": "t0k"}, {}, "token t0k"),
        ({}, {"JUPYTER_FLOWS_API_KEY": "jf_env"}, "Bearer jf_env"),
        ({}, {"JUPYTER_FLOWS_API_TOKEN": "tok_env"}, "token tok_env"),
        ({}, {}, None),
    ],
)
def test_credentials_come_from_arguments_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, str], env: dict[str, str], header: str
) -> None:
    for name in ("JUPYTER_FLOWS_API_KEY", "JUPYTER_FLOWS_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(200, json={"version": "1.0"})

    with fake(handler, **options) as api:
        assert api.version() == "1.0"
    assert seen == [header]


def test_the_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_FLOWS_API_URL", "http://127.0.0.1:9999")
    assert FlowsClient().api_url == "http://127.0.0.1:9999/api/flows/"


def test_iterate_walks_every_page_with_the_filters() -> None:
    runs = [{"id": f"r{i}", "name": f"run-{i}", "state": None} for i in range(7)]
    asked: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        asked.append(params)
        limit, offset = int(params["limit"]), int(params["offset"])
        page = runs[offset : offset + limit]
        return httpx.Response(
            200, json={"items": page, "total": len(runs), "limit": limit, "offset": offset}
        )

    with fake(handler) as api:
        found = list(api.iterate(api.list_flow_runs, page_size=3, state=["FAILED", "CRASHED"]))
    assert [r.id for r in found] == [f"r{i}" for i in range(7)]
    assert [a["offset"] for a in asked] == ["0", "3", "6"]
    assert all(a["state"] == "FAILED,CRASHED" for a in asked)


def test_registering_tells_a_new_version_from_an_existing_one() -> None:
    answers = iter([201, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        version = {"id": "v1", "flow_id": "f1", "version_number": 1, "content": body["content"]}
        return httpx.Response(next(answers), json=version)

    with fake(handler) as api:
        first = api.register_flow("etl", {"tasks": []})
        again = api.register_flow("etl", {"tasks": []})
    assert (first.new, again.new) == (True, False)
    assert again.version.id == "v1"


def test_ensure_deployment_puts_only_the_fields_given() -> None:
    seen: list[tuple[str, str, dict[str, object]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.raw_path.decode(), json.loads(request.content)))
        answer = {"id": "d1", "flow_id": "f1", "name": "a b/c", "work_queue": "default"}
        return httpx.Response(201, json=answer)

    with fake(handler) as api:
        made = api.ensure_deployment("f1", "a b/c")
        api.ensure_deployment("f1", "a b/c", schedule={"cron": "0 9 * * *"}, work_queue="gpu")
    assert made.id == "d1" and made.name == "a b/c"
    path = "/api/flows/flows/f1/deployments/a%20b%2Fc"
    assert seen == [
        ("PUT", path, {}),
        ("PUT", path, {"schedule": {"cron": "0 9 * * *"}, "work_queue": "gpu"}),
    ]
