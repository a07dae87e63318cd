"""The server extension loads, serves its version, and answers every error as JSON."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError
from tornado.web import HTTPError, authenticated

from jupyter_flows._version import __version__
from jupyter_flows.server.app import FlowsApp
from jupyter_flows.server.errors import Conflict, InvalidInput, NotFound
from jupyter_flows.server.handlers.base import (
    INTERNAL_ERROR_MESSAGE,
    FlowsHandler,
    error_response,
)


async def _error(jp_fetch, *parts: str, **kwargs) -> tuple[int, dict[str, str], str]:
    """Fetch a URL that must fail; its status, JSON body and content type."""
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*parts, **kwargs)
    response = info.value.response
    assert response is not None
    return info.value.code, json.loads(response.body), response.headers["Content-Type"]


def test_extension_is_enabled_and_loaded(jp_serverapp) -> None:
    extension = jp_serverapp.extension_manager.extensions["jupyter_flows"]
    assert extension.enabled
    assert any(isinstance(point.app, FlowsApp) for point in extension.extension_points.values())


async def test_version(jp_fetch) -> None:
    response = await jp_fetch("api", "flows", "version")

    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body) == {"version": __version__}


async def test_version_requires_authentication(jp_fetch) -> None:
    code, body, content_type = await _error(
        jp_fetch, "api", "flows", "version", headers={"Authorization": ""}
    )

    assert code == 401
    assert body["error"] == "unauthorized"
    assert content_type.startswith("application/json")


async def test_unknown_resource_is_json_404(jp_fetch) -> None:
    code, body, content_type = await _error(jp_fetch, "api", "flows", "no-such-thing", "42")

    assert code == 404
    assert body == {
        "error": "not_found",
        "message": "No such API resource: /a%40b/api/flows/no-such-thing/42",
    }
    assert content_type.startswith("application/json")


async def test_unknown_resource_needs_authentication_first(jp_fetch) -> None:
    code, body, _ = await _error(
        jp_fetch, "api", "flows", "no-such-thing", headers={"Authorization": ""}
    )

    assert code == 401
    assert body["error"] == "unauthorized"


async def test_unsupported_method_is_json_405_with_the_allowed_ones(jp_fetch) -> None:
    code, body, _ = await _error(jp_fetch, "api", "flows", "version", method="DELETE")

    assert code == 405
    assert body["error"] == "method_not_allowed"
    assert body["message"]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "flows", "flow-runs", method="PUT", body="{}")
    assert info.value.code == 405
    assert info.value.response is not None
    assert info.value.response.headers["Allow"] == "GET, POST, OPTIONS"


class _RaisingHandler(FlowsHandler):
    """Raises what the ?raise= query names, as a later resource handler might."""

    @authenticated
    def get(self) -> None:
        kind = self.get_query_argument("raise")
        if kind == "conflict":
            raise Conflict("Run 7 is Completed; it cannot become Running")
        if kind == "invalid":
            raise InvalidInput("Parameter 'n' must be an integer, got 'x'")
        if kind == "http":
            raise HTTPError(400, "Missing field %r", "flow")
        raise RuntimeError("secret internals: password=hunter2")


@pytest.fixture
def raising_endpoint(jp_serverapp, jp_base_url) -> tuple[str, ...]:
    # Outside /api/flows/, where the extension's catch-all would answer first.
    jp_serverapp.web_app.add_handlers(".*$", [(f"{jp_base_url}flows-test/raise", _RaisingHandler)])
    return ("flows-test", "raise")


@pytest.mark.parametrize(
    ("kind", "status", "error", "message"),
    [
        ("conflict", 409, "conflict", "Run 7 is Completed; it cannot become Running"),
        ("invalid", 400, "invalid_input", "Parameter 'n' must be an integer, got 'x'"),
        ("http", 400, "bad_request", "Missing field 'flow'"),
        ("bug", 500, "internal_error", INTERNAL_ERROR_MESSAGE),
    ],
)
async def test_errors_map_to_json_in_one_place(
    jp_fetch, raising_endpoint, kind, status, error, message
) -> None:
    code, body, content_type = await _error(jp_fetch, *raising_endpoint, params={"raise": kind})

    assert code == status
    assert body == {"error": error, "message": message}
    assert content_type.startswith("application/json")
    assert "hunter2" not in json.dumps(body)


@pytest.mark.parametrize(
    ("status_code", "exc", "expected"),
    [
        (500, NotFound("No run 'r1'"), (404, {"error": "not_found", "message": "No run 'r1'"})),
        (500, HTTPError(403), (403, {"error": "forbidden", "message": "Forbidden"})),
        (500, HTTPError(418), (418, {"error": "http_error", "message": "I'm a Teapot"})),
        (500, HTTPError(503), (503, {"error": "server_error", "message": "Service Unavailable"})),
        (500, KeyError("x"), (500, {"error": "internal_error", "message": INTERNAL_ERROR_MESSAGE})),
        (404, None, (404, {"error": "not_found", "message": "Not Found"})),
        (503, None, (503, {"error": "server_error", "message": "Service Unavailable"})),
    ],
)
def test_error_response_table(status_code, exc, expected) -> None:
    assert error_response(status_code, exc) == expected
