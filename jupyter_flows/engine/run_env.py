"""Every ``JUPYTER_FLOWS_*`` environment variable, named once, and a run's hand-off.

An agent starts each run's process with a :class:`RunEnv` written into its environment
(:meth:`RunEnv.to_environ`); the run process, and the engine inside it, read it back
(:meth:`RunEnv.from_environ`). The variables that are not part of that hand-off (where the
server keeps its database, where blobs and results go, how loud logging is) are named here
too, so that no other module spells a name out. It imports nothing but the standard
library: every process reads it, often before anything else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

# ------------------------------------------------------------------ the server

#: The REST API's root (``http://host:8888/api/flows/``): clients and the engine's
#: HttpReporter talk to it; the Jupyter server sets it for its kernels.
API_URL = "JUPYTER_FLOWS_API_URL"
#: An API key of a standalone server, sent as ``Authorization: Bearer``.
API_KEY = "JUPYTER_FLOWS_API_KEY"
#: A jupyter-server token, sent as ``Authorization: token``.
API_TOKEN = "JUPYTER_FLOWS_API_TOKEN"
#: What the three above start with: a process that starts another with a server of its
#: own drops every inherited one first.
API_PREFIX = "JUPYTER_FLOWS_API_"
#: Seconds a top-level run waits at its end for its records to reach the server (10).
FLUSH_TIMEOUT = "JUPYTER_FLOWS_FLUSH_TIMEOUT"
#: The server's database (an SQLAlchemy URL; default: a SQLite file in the data dir).
DB_URL = "JUPYTER_FLOWS_DB_URL"

# ------------------------------------------------------------------ storage and logging

#: Blob storage for flow code, notebooks and artifacts (a path or an fsspec URL).
STORAGE_URL = "JUPYTER_FLOWS_STORAGE_URL"
#: Where tasks persist their results (a path or an fsspec URL).
RESULT_STORAGE = "JUPYTER_FLOWS_RESULT_STORAGE"
#: The level of the ``jupyter_flows`` logger (default INFO).
LOGGING_LEVEL = "JUPYTER_FLOWS_LOGGING_LEVEL"
#: ``0`` (or ``false``, ``no``) silences run logs on the console.
CONSOLE_LOGS = "JUPYTER_FLOWS_CONSOLE_LOGS"

# ------------------------------------------------------------------ agent → run process

#: ``1``: this process runs one flow run of its own, so a timed-out flow ends it.
RUN_PROCESS = "JUPYTER_FLOWS_RUN_PROCESS"
#: The id of the flow run the process runs.
FLOW_RUN_ID = "JUPYTER_FLOWS_FLOW_RUN_ID"
#: The run document (JSON: the run's name, parameters, run config and flow version); left
#: out when too large for an environment, and then fetched by id.
RUN_SPEC = "JUPYTER_FLOWS_RUN_SPEC"
#: The pid of the agent that started the process: if it dies, so does the run.
AGENT_PID = "JUPYTER_FLOWS_AGENT_PID"
#: JSON ``{"address"?, "cluster_kwargs"?}``: run the flow's tasks on this Dask cluster.
DASK = "JUPYTER_FLOWS_DASK"
#: The attempt's lease (``attempt:token``), presented with every batch of records.
LEASE = "JUPYTER_FLOWS_LEASE"
#: Where the run process spools what it cannot deliver (its agent delivers it later).
SPOOL = "JUPYTER_FLOWS_SPOOL"
#: Comma-separated names of the variables that hold the run's credentials: their values
#: are redacted from everything the run reports (``engine/redaction.py``).
REDACT_ENV = "JUPYTER_FLOWS_REDACT_ENV"
#: ``1``: the run process may rebuild the flow's environment from its resource spec (an
#: agent on this machine); unset, it only checks the live environment against it (a pod).
REPRODUCE = "JUPYTER_FLOWS_REPRODUCE"
#: Folders (os.pathsep) the run process borrows jupyter-flows from when it runs in the
#: flow's own interpreter: their packages are not the flow's, and a capture skips them.
OVERLAY = "JUPYTER_FLOWS_OVERLAY"


def overlay_bootstrap(module: str) -> str:
    """Code for ``python -c`` that runs ``module`` as ``-m`` would, in an interpreter that
    borrows what it lacks from the ``OVERLAY`` folders: added after its own packages, so
    the flow's versions win. The run process starts so in the flow's environment, and its
    notebook kernels too (the environment may have no ipykernel of its own)."""
    return (
        "import os, runpy, site, sys\n"
        f"for p in os.environ.get({OVERLAY!r}, '').split(os.pathsep):\n"
        "    if p and p not in sys.path: site.addsitedir(p)\n"
        f"sys.argv[0] = {module!r}\n"
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
    )


# ------------------------------------------------------------------ credentials (server)

#: The credential store's encryption key (a Fernet key) for a team server.
CREDENTIALS_KEY = "JUPYTER_FLOWS_CREDENTIALS_KEY"
#: A file that holds that key (default: ``credentials.key`` in the Jupyter data dir).
CREDENTIALS_KEY_FILE = "JUPYTER_FLOWS_CREDENTIALS_KEY_FILE"

# ------------------------------------------------------------------ tests

#: ``1``: the golden-file tests rewrite their files instead of comparing.
UPDATE_GOLDEN = "JUPYTER_FLOWS_UPDATE_GOLDEN"

_OFF = ("0", "false", "no")


@dataclass(frozen=True)
class RunEnv:
    """What an agent tells a run's process through its environment.

    A field left at its default writes nothing, and an unset variable reads as the
    default, so ``RunEnv.from_environ(env.to_environ()) == env``.
    """

    #: The flow run the process runs.
    flow_run_id: str | None = None
    #: How to reach the server (the engine reports into the run there).
    api_url: str | None = None
    api_key: str | None = None
    api_token: str | None = None
    #: The run document as JSON (``agent.run_document.RunDocument``); None: fetch it.
    run_document: str | None = None
    #: The agent whose death ends the run.
    agent_pid: int | None = None
    #: Where the flow's tasks run on Dask: ``{"address"?, "cluster_kwargs"?}``.
    dask: Mapping[str, Any] | None = None
    #: The attempt's lease as ``attempt:token`` (see :meth:`lease_of`).
    lease: str | None = None
    #: The spool file for records the server could not take.
    spool: str | None = None
    #: The process is one flow run's own (a timeout ends it).
    run_process: bool = False
    #: Run logs go to the console too.
    console_logs: bool = True
    #: The variables that hold the run's credentials (their values are redacted).
    redact_env: tuple[str, ...] = ()
    #: The process may rebuild the flow's environment (a venv from its lock) and re-run
    #: itself in it; else it only checks its environment against the spec.
    reproduce: bool = False
    #: Where the process found jupyter-flows outside the flow's environment.
    overlay: tuple[str, ...] = ()

    def to_environ(self) -> dict[str, str]:
        """The variables to add to the run process's environment."""
        values: dict[str, str | None] = {
            API_URL: self.api_url,
            API_KEY: self.api_key,
            API_TOKEN: self.api_token,
            RUN_PROCESS: "1" if self.run_process else None,
            CONSOLE_LOGS: None if self.console_logs else "0",
            FLOW_RUN_ID: self.flow_run_id,
            AGENT_PID: None if self.agent_pid is None else str(self.agent_pid),
            RUN_SPEC: self.run_document,
            DASK: None if self.dask is None else json.dumps(dict(self.dask)),
            LEASE: self.lease,
            SPOOL: self.spool,
            REDACT_ENV: ",".join(self.redact_env) or None,
            REPRODUCE: "1" if self.reproduce else None,
            OVERLAY: os.pathsep.join(self.overlay) or None,
        }
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> RunEnv:
        """What ``environ`` (default: this process's environment) says."""
        env = os.environ if environ is None else environ
        pid = env.get(AGENT_PID, "")
        dask = env.get(DASK)
        return cls(
            flow_run_id=env.get(FLOW_RUN_ID) or None,
            api_url=env.get(API_URL) or None,
            api_key=env.get(API_KEY) or None,
            api_token=env.get(API_TOKEN) or None,
            run_document=env.get(RUN_SPEC) or None,
            agent_pid=int(pid) if pid.isdigit() else None,
            dask=json.loads(dask) if dask else None,
            lease=env.get(LEASE) or None,
            spool=env.get(SPOOL) or None,
            run_process=env.get(RUN_PROCESS) == "1",
            console_logs=env.get(CONSOLE_LOGS, "1") not in _OFF,
            redact_env=tuple(n for n in env.get(REDACT_ENV, "").split(",") if n),
            reproduce=env.get(REPRODUCE) == "1",
            overlay=tuple(p for p in env.get(OVERLAY, "").split(os.pathsep) if p),
        )

    def lease_of(self) -> dict[str, Any] | None:
        """The attempt's lease as the API takes it (``flow_run_id``, ``attempt``, ``token``),
        None without a run id or a well-formed lease."""
        attempt, _, token = (self.lease or "").partition(":")
        if not self.flow_run_id or not attempt.isdigit() or not token:
            return None
        return {"flow_run_id": self.flow_run_id, "attempt": int(attempt), "token": token}

    @classmethod
    def take(cls, environ: MutableMapping[str, str] | None = None) -> RunEnv:
        """Read the hand-off and remove what only the start of the run needs (the run
        document and the agent's pid), so that the flow's code and the processes it starts
        do not see them."""
        env = os.environ if environ is None else environ
        handed = cls.from_environ(env)
        for name in (RUN_SPEC, AGENT_PID):
            env.pop(name, None)
        return handed
