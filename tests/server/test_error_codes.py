"""Every error code the server can answer is listed in openapi.yaml's ErrorCode enum.

The JupyterLab extension's types are generated from that enum, so a code missing there is
a code the UI cannot name.
"""

from __future__ import annotations

import yaml

from jupyter_flows.server import errors
from jupyter_flows.server.handlers import base
from tests.server.openapi_check import SPEC_PATH


def _enum() -> set[str]:
    spec = yaml.safe_load(SPEC_PATH.read_text())
    return set(spec["components"]["schemas"]["ErrorCode"]["enum"])


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_domain_error_codes_are_documented() -> None:
    codes = {cls.code for cls in [errors.FlowsError, *_subclasses(errors.FlowsError)]}
    assert codes <= _enum(), codes - _enum()


def test_http_status_codes_are_documented() -> None:
    codes = set(base.HTTP_ERROR_CODES.values())
    codes |= {"illegal_transition", "internal_error", "server_error", "http_error"}
    assert codes <= _enum(), codes - _enum()


def test_every_statuss_fallback_is_documented() -> None:
    for status in (400, 404, 418, 500, 502, 503):
        assert base.error_response(status, None)[1]["error"] in _enum()
