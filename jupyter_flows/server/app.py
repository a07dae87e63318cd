"""The jupyter-server extension: ``FlowsApp`` wires the REST API into a Jupyter server.

It is loaded through ``jupyter_flows._jupyter_server_extension_points`` inside JupyterLab,
and by :mod:`jupyter_flows.server.standalone` as a team server of its own. It owns one
store :class:`~jupyter_flows.store.Database` (migrated when the server starts), the event
bus, and the thread pool the handlers run store calls on (``server.transactions``).
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, Unicode, default

from jupyter_flows._version import __version__
from jupyter_flows.engine import run_env
from jupyter_flows.server import redact
from jupyter_flows.server.background import BackgroundConfig
from jupyter_flows.server.context import SETTINGS_KEY, FlowsContext
from jupyter_flows.server.dispatch import Dispatcher
from jupyter_flows.server.event_bus import EventBus
from jupyter_flows.server.handlers import (
    agents,
    api_keys,
    artifacts,
    backfills,
    base,
    credentials,
    deployments,
    events,
    flow_runs,
    flows,
    ingest,
    logs,
    notebooks,
    notifications,
    retention,
    task_runs,
    version,
    work_queues,
)
from jupyter_flows.server.local_agent import (
    LocalAgentConfig,
    lab_settings_dir,
    read_lab_local_agent,
)
from jupyter_flows.server.transactions import TransactionRunner
from jupyter_flows.store import Database, default_url

HANDLER_MODULES = (
    version,
    flows,
    deployments,
    flow_runs,
    task_runs,
    logs,
    ingest,
    artifacts,
    notebooks,
    work_queues,
    agents,
    api_keys,
    credentials,
    retention,
    backfills,
    notifications,
    events,
)


class FlowsApp(BackgroundConfig, LocalAgentConfig, ExtensionApp):
    name = "jupyter_flows"
    description = "jupyter-flows: notebook-first workflows (REST API server)"
    version = __version__
    load_other_extensions = True

    db_url = Unicode(
        help=f"SQLAlchemy URL of the store (default: ${run_env.DB_URL}, else a SQLite "
        "file in the Jupyter data dir).",
    ).tag(config=True)
    max_body_bytes = Int(
        10 * 1024 * 1024, help="Largest request body the REST API accepts (bytes); 413 above."
    ).tag(config=True)
    db_workers = Int(4, help="Threads that run store calls for the handlers.").tag(config=True)
    event_queue_size = Int(
        1000, help="Messages kept for each event-stream client before the oldest are dropped."
    ).tag(config=True)
    claim_recheck_seconds = Float(
        10.0,
        help="A long-polled claim looks at its queue again at least this often, to see runs "
        "that another server sharing the database made due (this server's own changes wake "
        "waiting claims at once).",
    ).tag(config=True)
    open_folder = Unicode(
        "jupyter-flows-runs",
        help="Folder (relative to the server root) where opening a run's executed notebook "
        "writes it: <folder>/<flow>/<run name>-<last 8 of the run id>.ipynb. Not a hidden folder: "
        "Jupyter does not serve hidden files by default.",
    ).tag(config=True)
    set_kernel_env = Bool(
        True,
        help=f"Set {run_env.API_URL} (and {run_env.API_TOKEN}) in this process's environment at "
        "start, so kernels started by the server report their runs here. A value already "
        "set is kept.",
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        return default_url()

    context: FlowsContext | None = None
    _env_set: dict[str, str]

    def initialize_settings(self) -> None:
        db = Database(self.db_url)  # applies migrations
        bus = EventBus(max_queue=self.event_queue_size)
        runner = TransactionRunner(db, bus, max_workers=self.db_workers)
        self.context = FlowsContext(
            db=db,
            bus=bus,
            runner=runner,
            max_body_bytes=self.max_body_bytes,
            dispatcher=Dispatcher(
                runner,
                bus,
                recheck=self.claim_recheck_seconds,
                lease_seconds=self.reaper_threshold_seconds,
            ),
            open_folder=self.open_folder,
            lease_seconds=self.reaper_threshold_seconds,
            pruner=self.retention_pruner(db),
        )
        self.settings[SETTINGS_KEY] = self.context
        loggers = [self.log] + ([self.serverapp.log] if self.serverapp is not None else [])
        redact.install(*loggers)  # no API key in any log line
        self._env_set = {}
        self._export_env()
        self.log.info("jupyter-flows: store at %r", db)

    def initialize_handlers(self) -> None:
        for module in HANDLER_MODULES:
            self.handlers.extend(module.default_handlers)
        # Last: anything else below /api/flows/ is a JSON 404.
        self.handlers.extend(base.fallback_handlers)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self._export_env()  # the port is final once the server listens
        if self.context is not None:  # the scheduler, late-run marker, reaper (BackgroundConfig)
            own_url = self.serverapp.connection_url if self.serverapp is not None else None
            self.start_background(
                self.context.db,
                self.context.bus.publish,
                keyring=self.context.keyring,
                public_url=own_url,
                listen=self.context.bus.add_listener,
            )
        if self.serverapp is not None:  # LocalAgentConfig
            server = self.serverapp
            url = server.connection_url.rstrip("/") + base.API_PREFIX + "/"
            token = getattr(server.identity_provider, "token", "") or None
            self.lab_local_agent = read_lab_local_agent(lab_settings_dir(server))
            self.start_local_agent_process(url, token, server.port)

    def _export_env(self) -> None:
        if not self.set_kernel_env or self.serverapp is None:
            return
        server = self.serverapp
        # What kernels started by this server find (the engine's HTTP reporter reads them).
        values = {run_env.API_URL: server.connection_url.rstrip("/") + base.API_PREFIX + "/"}
        token = getattr(server.identity_provider, "token", "")
        if token:
            values[run_env.API_TOKEN] = token
        for key, value in values.items():
            if key in os.environ and self._env_set.get(key) != os.environ[key]:
                continue  # set by the user: theirs wins
            os.environ[key] = value
            self._env_set[key] = value

    async def stop_extension(self) -> None:
        for key, value in self._env_set.items():
            if os.environ.get(key) == value:
                del os.environ[key]
        self._env_set = {}
        await self.stop_local_agent_process()
        await self.stop_background()
        if self.context is not None:
            self.context.bus.close()
            self.context.runner.close()
            self.context.db.dispose()
            self.context = None
