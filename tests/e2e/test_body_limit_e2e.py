"""A body the server will refuse is refused on its headers, before the server reads it.

Raw sockets against a standalone server: a request without credentials that announces a
500 MB body, and one with a key whose Content-Length is over the limit, are answered (401,
413 JSON) while the client has sent none of the body; a client that keeps streaming
anyway is cut off after at most what the sockets' buffers hold. The server's peak memory
stays where it was.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.flows_server import FlowsServer

HALF_A_GIGABYTE = 500 * 1024 * 1024


def _headers(server: FlowsServer, length: int, key: str | None = None) -> bytes:
    lines = [
        "POST /api/flows/ingest HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Content-Type: application/json",
        f"Content-Length: {length}",
    ]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ", 2)[1]), json.loads(body[:length])


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_refused_body_is_answered_before_it_is_read(tmp_path: Path) -> None:
    server = FlowsServer(tmp_path, extra_args=["--max-body-bytes=1000000"])
    server.start()
    try:
        assert server.process is not None
        peak_before = _peak_rss_kib(server.process.pid)

        # No credentials, 500 MB announced, nothing sent: 401 at once.
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(_headers(server, HALF_A_GIGABYTE))
            status, body = _answer(sock)
        assert (status, body["error"]) == (401, "unauthorized"), body

        # A key, and a Content-Length over the limit: the JSON 413, the body unread.
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(_headers(server, 2_000_000, server.api_key))
            status, body = _answer(sock)
        assert (status, body["error"]) == (413, "too_large"), body

        # A client that streams its 500 MB regardless is cut off early.
        sent = 0
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(_headers(server, HALF_A_GIGABYTE))
            chunk = b"x" * (1024 * 1024)
            try:
                while sent < HALF_A_GIGABYTE:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:  # reset or broken pipe: the server closed the connection
                pass
        assert sent < 64 * 1024 * 1024, f"the server took {sent} bytes of a refused body"
        grew = _peak_rss_kib(server.process.pid) - peak_before
        assert grew < 100 * 1024, f"the server's peak memory grew by {grew} KiB"
    finally:
        server.stop()
