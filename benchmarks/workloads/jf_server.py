"""Start a Jupyter server for benchmarks/server_api.py; serve until SIGTERM.

    python jf_server.py api   --port P --db URL --token T   # the team server, API only
    python jf_server.py api-no-outbox …  # the same without the notification outbox's writes
    python jf_server.py plain --port P --db URL --token T   # jupyter-server, no extension
    python jf_server.py flows --port P --db URL --token T   # the same with jupyter_flows

``api`` is ``jupyter flows server`` (``standalone.make_config``: API keys, no local agent)
with the scheduler, late-run marker and reaper off, so only the requests measured use the
database. ``api-no-outbox`` is ``api`` with the outbox's insert on each final state
taken out, the baseline for the outbox's cost. ``plain`` and ``flows`` are the pair for
start time and idle memory: the same ``ServerApp`` subclass, config and token auth, no
Jupyter config files' extensions; the only difference is ``jpserver_extensions``: nothing,
or jupyter_flows at its defaults (scheduler, late-run marker and reaper on) except the local
agent, a process of its own measured by benchmarks/agents.py.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["api", "api-no-outbox", "plain", "flows"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    # SIGTERM: stop like Ctrl-C does (the server's own handler asks on a terminal).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    if args.mode.startswith("api"):
        from jupyter_flows.server.standalone import FlowsServerApp, make_config

        if args.mode == "api-no-outbox":
            from jupyter_flows.server.service import run_states

            run_states._enqueue_events = lambda *_: None

        config = make_config(port=args.port, db_url=args.db, token=args.token)
        config.FlowsApp.scheduler_enabled = False
        config.FlowsApp.reaper_enabled = False
        app = FlowsServerApp.instance(config=config, log_level="ERROR")
    else:
        from jupyter_server.serverapp import ServerApp
        from traitlets.config import Config

        extensions = {"jupyter_flows": True} if args.mode == "flows" else {}

        class BenchServerApp(ServerApp):
            def init_server_extensions(self) -> None:
                self.jpserver_extensions = dict(extensions)  # whatever config files enable
                super().init_server_extensions()

        config = Config(
            {
                "ServerApp": {
                    "ip": "127.0.0.1",
                    "port": args.port,
                    "port_retries": 0,
                    "open_browser": False,
                    "allow_root": True,
                    "root_dir": tempfile.gettempdir(),
                    "jpserver_extensions": extensions,
                },
                "IdentityProvider": {"token": args.token},
                "FlowsApp": {"db_url": args.db, "start_local_agent": False},
            }
        )
        app = BenchServerApp.instance(config=config, log_level="ERROR")
    app.initialize(argv=[], find_extensions=False)
    app.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
