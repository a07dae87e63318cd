"""No API key in the server's log, whatever a request sent and however it ended; a refused
WebSocket is one line, not a traceback.

A standalone server logging at DEBUG gets requests that carry keys in ``?token=`` (as a
browser's WebSocket sends them) and in headers, answered 400, 401, 403, 404 and 409, and
WebSockets refused with a wrong key and with an agent key; then its whole log is scanned.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from tornado.httpclient import HTTPClientError
from tornado.websocket import websocket_connect

from tests.flows_server import FlowsServer

KEY = re.compile(r"jf_[A-Za-z0-9_\-]{4,}")


def test_the_server_log_never_shows_a_key(tmp_path: Path) -> None:
    server = FlowsServer(tmp_path, extra_args=["--log-level=DEBUG"])
    server.start()
    try:
        user = server.api_key
        base = server.url
        made = httpx.post(
            base + "api-keys",
            json={"name": "ag", "role": "agent"},
            headers={"Authorization": f"Bearer {user}"},
        )
        agent = made.json()["token"]
        wrong = "jf_" + "x" * 40
        statuses = []
        for method, path, key, body in [
            ("GET", "flow-runs", wrong, None),  # 401
            ("GET", "flow-runs/nope", user, None),  # 404
            ("GET", "flows", agent, None),  # 403
            ("POST", "work-queues", user, {"name": 7}),  # 400
            ("POST", "work-queues", user, {"name": "twice"}),
            ("POST", "work-queues", user, {"name": "twice"}),  # 409
        ]:
            answer = httpx.request(method, f"{base}{path}?token={key}", json=body)
            statuses.append(answer.status_code)
            answer = httpx.request(
                method, base + path, json=body, headers={"Authorization": f"Bearer {key}"}
            )
            statuses.append(answer.status_code)
        assert {400, 401, 403, 404, 409} <= set(statuses)

        async def refused(key: str) -> int:
            url = base.replace("http://", "ws://") + f"events?token={key}"
            try:
                connection = await websocket_connect(url)
            except HTTPClientError as error:
                return error.code
            connection.close()
            return 101

        assert asyncio.run(refused(wrong)) == 401
        assert asyncio.run(refused(agent)) == 403
    finally:
        server.stop()
    log = "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("server-*.log")))
    out = "\n".join(
        line
        for p in sorted(tmp_path.glob("server-*.out"))
        for line in p.read_text(errors="replace").splitlines()
        if not line.startswith("API key 'tests'")  # the one place a new key is shown
    )
    assert log.count("/api/flows/") > 10  # the requests are logged at all
    leaked = KEY.findall(log + out)
    assert leaked == [], leaked[:3]
    assert "Traceback" not in log
    refusals = [line for line in log.splitlines() if "/events" in line and "token" in line]
    assert len(refusals) <= 4, refusals  # one line per refused connection (and its access line)
