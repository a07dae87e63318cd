"""What loading the server extension imports: a Jupyter server pays, at start and in idle
memory, for every module the extension imports, so what serving does not need stays out."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Imported by the requests that use them, never by loading the extension.
LAZY = [
    "pydantic",  # the wire models: the first request with a body imports them
    "jupyter_flows.notebooks",  # the cell analysis: only notebooks/inspect and /register
    "cryptography",  # credentials: the first request that encrypts or decrypts one
]


def _loaded_after_import(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout))


@pytest.fixture(scope="module")
def loaded() -> set[str]:
    return _loaded_after_import("jupyter_flows.server.app")


@pytest.mark.parametrize("lazy", LAZY)
def test_loading_the_extension_does_not_import(loaded: set[str], lazy: str) -> None:
    assert "jupyter_flows.server.app" in loaded
    assert not {m for m in loaded if m == lazy or m.startswith(lazy + ".")}
