"""A real standalone jupyter-flows server in a subprocess, for the CLI and end-to-end tests.

``FlowsServer`` starts ``python -m jupyter_flows.server.standalone`` on a free loopback port
with a SQLite store in a folder of its own, creates a user API key on the first start, and
can be stopped and started again on the same port and database (the "server away" tests).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from jupyter_flows.engine import run_env

#: Bounds, not expectations: a start that takes longer than this is a failure.
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FlowsServer:
    def __init__(
        self, folder: Path, port: int | None = None, extra_args: list[str] | None = None
    ) -> None:
        self.folder = folder
        self.extra_args = list(extra_args or [])
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.db = folder / "flows.db"
        self.url = f"http://127.0.0.1:{self.port}/api/flows/"
        self.api_key = ""
        #: The server's own admin token (what JupyterLab hands its kernels).
        self.token = secrets.token_hex(16)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        out = self.folder / f"server-{self.starts}.out"
        err = self.folder / f"server-{self.starts}.log"
        cmd = [
            sys.executable,
            "-m",
            "jupyter_flows.server.standalone",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--db={self.db}",
            f"--token={self.token}",
            "--log-level=WARN",
            *self.extra_args,
        ]
        if not self.api_key:
            cmd.append("--create-key=tests")
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_FLOWS_API")}
        # The credentials key in the server's folder, never in the home of who runs tests.
        env.setdefault(run_env.CREDENTIALS_KEY_FILE, str(self.folder / "credentials.key"))
        with out.open("wb") as stdout, err.open("wb") as stderr:
            self.process = subprocess.Popen(
                cmd,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                cwd=self.folder,
                env=env,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{err.read_text()[-3000:]}")
            if not self.api_key:
                found = re.search(r"API key 'tests' \(user\): (\S+)", out.read_text())
                self.api_key = found.group(1) if found else ""
            if self.api_key and self._answers():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not answer:\n{err.read_text()[-3000:]}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            response = httpx.get(
                self.url + "version",
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=5,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)
        self.process = None

    def env(self) -> dict[str, str]:
        """What a client process needs to reach this server."""
        return {"JUPYTER_FLOWS_API_URL": self.url, "JUPYTER_FLOWS_API_KEY": self.api_key}
