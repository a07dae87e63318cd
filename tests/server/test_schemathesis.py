"""Schemathesis against schema/openapi.yaml on a real standalone server: no contract finding.

The server is a separate process (``python -m jupyter_flows.server.standalone``) on a free
loopback port with a SQLite file; schemathesis generates a few examples per operation.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.openapi_check import SPEC_PATH

TOKEN = "schemathesis-token"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_flows.server.standalone",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--db={tmp_path / 'flows.db'}",
            f"--token={TOKEN}",
            "--log-level=WARNING",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}/api/flows"
    try:
        for _ in range(600):  # the server is up when it answers; give up after 60 s
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {(tmp_path / 'server.log').read_text()}")
            try:
                httpx.get(f"{base}/version", headers={"Authorization": f"token {TOKEN}"})
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    server_log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in server_log, server_log[-5000:]


# Hundreds of requests against a real server: minutes on a loaded 2-core machine.
@pytest.mark.timeout(600)
def test_no_generated_request_makes_a_server_error(server: str, tmp_path: Path) -> None:
    st = shutil.which("schemathesis", path=os.path.dirname(sys.executable)) or shutil.which(
        "schemathesis"
    )
    assert st, "schemathesis is in the test extra"
    result = subprocess.run(
        [
            st,
            "run",
            str(SPEC_PATH),
            f"--url={server}",
            f"--header=Authorization: token {TOKEN}",
            # Every contract check: no 5xx, answers as documented (status codes, content
            # types, bodies, headers), and schema-violating requests refused. Not
            # positive_data_acceptance: a schema cannot say what only the store knows (an
            # edge naming a task the body lacks, a time zone name, a flow that exists), and
            # those schema-valid requests are rightly refused with 400.
            "--checks=all",
            "--exclude-checks=positive_data_acceptance",
            "--max-examples=5",
            "--seed=20261123",
            "--exclude-path=/events",  # a WebSocket
            # A long poll: a valid claim may wait 30 s by design (tests/server/test_api_agents).
            "--exclude-path=/work-queues/{name}/claim",
            "--request-timeout=20",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
