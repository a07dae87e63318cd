"""A team server: jupyter-server with this extension alone (no JupyterLab UI), API keys on.

``jupyter flows server --ip --port --db`` calls :func:`main`; so does
``python -m jupyter_flows.server.standalone``. The server reads no Jupyter config files of
its own kind (``jupyter_flows_server_config.*`` would be its own), loads no other server
extension, authenticates with :class:`~jupyter_flows.server.auth.FlowsIdentityProvider`
(API keys, then the server's token) and authorizes with
:class:`~jupyter_flows.server.auth.FlowsAuthorizer`.

``--create-key NAME`` creates a *user* API key in the store before the server starts and
prints its token on stdout (the only time it is shown): the first key of a new server.
"""

from __future__ import annotations

import argparse
import gc
import secrets
import sys
from pathlib import Path
from typing import Any

from jupyter_server.serverapp import ServerApp
from traitlets.config import Config

from jupyter_flows.engine import run_env
from jupyter_flows.server.auth import FlowsAuthorizer, FlowsIdentityProvider
from jupyter_flows.store import Database, default_url

DEFAULT_PORT = 8765
EXTENSION = "jupyter_flows"


class FlowsServerApp(ServerApp):
    """A Jupyter server that serves the jupyter-flows REST API and nothing of JupyterLab."""

    name = "jupyter-flows-server"
    description = "The jupyter-flows orchestration server (REST API, event stream, API keys)."

    def init_server_extensions(self) -> None:
        # Only this extension, whatever other extensions the environment enables.
        self.jpserver_extensions = {EXTENSION: True}
        super().init_server_extensions()

    def start(self) -> None:
        # What start-up made (modules, the app, handlers: some 250,000 objects) lives as long
        # as the process: out of the cyclic collector's sight, a full collection scans only
        # what requests made. Without this, the objects of big ingest batches that outlive a
        # young collection trigger full collections often enough to cost half the CPU of
        # storing log lines.
        gc.collect()
        gc.freeze()
        super().start()


def db_url_of(value: str | None) -> str:
    """A SQLAlchemy URL from ``--db``: a URL as it is, a plain path as a SQLite file."""
    if not value:
        return default_url()
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def create_key(db_url: str, name: str, role: str = "user") -> str:
    """Create an API key in the store at ``db_url``; return its token."""
    from jupyter_flows.store.keys import create_api_key

    with Database(db_url) as db, db.transaction() as session:
        _, token = create_api_key(session, name, role)
    return token


def make_config(
    *,
    ip: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    db_url: str | None = None,
    token: str | None = None,
    base_url: str = "/",
    max_body_bytes: int | None = None,
    reaper_threshold: float | None = None,
) -> Config:
    """The traitlets config of a standalone server (also handy for tests)."""
    # A team server's agents run elsewhere (jupyter flows agent start): no local agent.
    flows: dict[str, Any] = {
        "db_url": db_url_of(db_url),
        "set_kernel_env": False,
        "start_local_agent": False,
    }
    if max_body_bytes is not None:
        flows["max_body_bytes"] = max_body_bytes
    if reaper_threshold is not None:
        flows["reaper_threshold_seconds"] = reaper_threshold
        flows["reaper_interval_seconds"] = min(5.0, reaper_threshold / 4)
    return Config(
        {
            "ServerApp": {
                "ip": ip,
                "port": port,
                "port_retries": 0,
                "open_browser": False,
                "allow_root": True,  # a service account in a container is often root
                "base_url": base_url,
                "identity_provider_class": FlowsIdentityProvider,
                "authorizer_class": FlowsAuthorizer,
                "jpserver_extensions": {EXTENSION: True},
                "root_dir": str(Path.cwd()),
            },
            "IdentityProvider": {"token": token or secrets.token_hex(24)},
            "FlowsApp": flows,
        }
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="jupyter flows server",
        description="Start a standalone jupyter-flows server (the REST API alone, with API keys).",
    )
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    parser.add_argument(
        "--db",
        default=None,
        help="SQLAlchemy URL or SQLite file of the store (default: "
        f"${run_env.DB_URL}, else a SQLite file in the Jupyter data dir)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="the server's own admin token (default: a random one, printed in the log)",
    )
    parser.add_argument("--base-url", default="/", help="URL prefix of every route")
    parser.add_argument(
        "--max-body-bytes", type=int, default=None, help="largest request body (default 10 MiB)"
    )
    parser.add_argument(
        "--reaper-threshold",
        type=float,
        default=None,
        help="seconds of silence after which an agent's runs are crashed (default 60)",
    )
    parser.add_argument(
        "--create-key",
        metavar="NAME",
        default=None,
        help="create a user API key NAME before starting and print its token",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR or CRITICAL"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the server and serve until it is stopped (Ctrl-C, SIGTERM); return 0."""
    args = parse_args(argv)
    db_url = db_url_of(args.db)
    if args.create_key:
        token = create_key(db_url, args.create_key, "user")
        print(f"API key {args.create_key!r} (user): {token}", flush=True)
    config = make_config(
        ip=args.ip,
        port=args.port,
        db_url=db_url,
        token=args.token,
        base_url=args.base_url,
        max_body_bytes=args.max_body_bytes,
        reaper_threshold=args.reaper_threshold,
    )
    level = args.log_level.upper()
    app = FlowsServerApp.instance(config=config, log_level="WARN" if level == "WARNING" else level)
    app.initialize(argv=[], find_extensions=False)
    app.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
