"""Real receivers of notifications on loopback: an SMTP server (aiosmtpd) and an HTTP
webhook (http.server), each keeping what it received, with the time it arrived."""

from __future__ import annotations

import email
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    #: (arrival time.time(), message) in arrival order.
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    def wait(self, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return [message for _, message in self.received]


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    """An SMTP server; messages as {"subject", "to", "body"}; ``url``: an apprise mailto."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            parsed = email.message_from_bytes(envelope.content)
            part = parsed.get_payload(0) if parsed.is_multipart() else parsed
            body = part.get_payload(decode=True).decode("utf-8", "replace")
            message = {"subject": parsed["Subject"], "to": envelope.rcpt_tos, "body": body}
            inbox.received.append((time.time(), message))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    inbox.url = f"mailto://127.0.0.1:{port}?from=flows@example.com&to=ops@example.com"
    try:
        yield inbox
    finally:
        controller.stop()


@contextmanager
def webhook_server(status: int = 200, delay: float = 0.0) -> Iterator[Inbox]:
    """An HTTP server taking POSTed JSON (answering after ``delay`` seconds); ``url``: an
    apprise json:// URL to it."""
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            size = int(self.headers.get("Content-Length") or 0)
            data = json.loads(self.rfile.read(size) or b"{}")
            inbox.received.append((time.time(), data))
            time.sleep(delay)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    inbox.url = f"json://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield inbox
    finally:
        server.shutdown()
        server.server_close()
