"""A throwaway PostgreSQL server for tests: its own data dir, loopback only, ~1 s to start.

Nothing of the machine's own PostgreSQL clusters is used or touched. As root the server
runs as the ``postgres`` system user (``initdb`` refuses root); otherwise as the caller.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_pg_bin() -> Path:
    """The bin dir of the newest installed PostgreSQL (Debian layout first, then PATH)."""
    override = os.environ.get("FLOWS_TEST_PG_BIN")
    if override:
        return Path(override)
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if candidates:
        newest = max(candidates, key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
        return Path(newest).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable("initdb not found: install PostgreSQL (Debian: postgresql)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], as_root: bool) -> None:
    if as_root:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}")


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a fresh server; yield its SQLAlchemy URL (psycopg 3 driver); stop and delete it."""
    pg_bin = find_pg_bin()
    as_root = os.geteuid() == 0
    # The system temp dir, not the work tree: the postgres user must be able to reach it.
    tmp = Path(tempfile.mkdtemp(prefix="flows-pg-"))
    data = tmp / "data"
    if as_root:
        shutil.chown(tmp, "postgres", "postgres")
    started = False
    try:
        _run(
            [
                str(pg_bin / "initdb"),
                *("-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"),
                *("--locale=C.UTF-8", "--no-sync"),
            ],
            as_root,
        )
        port = _free_port()
        # Durability off: the data dies with the test session anyway.
        opts = (
            f"-h 127.0.0.1 -p {port} -k {tmp} -F "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [
                str(pg_bin / "pg_ctl"),
                *("-D", str(data), "-l", str(tmp / "server.log"), "-o", opts),
                *("-w", "-t", "30", "start"),
            ],
            as_root,
        )
        started = True
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            _run(
                [str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], as_root
            )
        shutil.rmtree(tmp, ignore_errors=True)
