"""The Jupyter server's own agent: one local agent process, so a single user never starts one.

:class:`LocalAgentConfig` (mixed into ``FlowsApp``) starts ``python -m jupyter_flows.agent``
when the server has started listening, pointed at this server with its token, serving the
``default`` work queue with local processes; and stops it (SIGTERM: a warm shutdown) when
the server stops. ``start_local_agent = False`` turns it off (a team server: its agents run
elsewhere); so does the JupyterLab setting "Run the local agent" (``localAgent`` of
schema/lab/plugin.json), read from the user's lab settings when the server starts, unless
``start_local_agent`` is set in the server's configuration, which wins. The agent's output
goes to the server's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from traitlets import Bool, HasTraits, Int, Unicode

from jupyter_flows.engine import run_env

log = logging.getLogger(__name__)


class LocalAgentConfig(HasTraits):
    start_local_agent = Bool(
        True,
        help="Start one local agent with the server (serving local_agent_queue with local "
        "processes) and stop it with the server.",
    ).tag(config=True)
    local_agent_queue = Unicode("default", help="The work queue the local agent serves.").tag(
        config=True
    )
    local_agent_limit = Int(
        0, help="At most this many runs at once on the local agent (0: no limit)."
    ).tag(config=True)

    _local_agent: subprocess.Popen[bytes] | None = None
    #: The lab setting "Run the local agent" (None: not set), read at start.
    lab_local_agent: bool | None = None

    def wants_local_agent(self) -> bool:
        """``start_local_agent`` when the server's configuration sets it, else the lab
        setting when the user set it, else on."""
        config: Any = getattr(self, "config", {})  # of the Configurable it is mixed into
        configured = "start_local_agent" in config.get(type(self).__name__, {})
        if configured or self.lab_local_agent is None:
            return bool(self.start_local_agent)
        return self.lab_local_agent

    def start_local_agent_process(self, api_url: str, token: str | None, port: int) -> None:
        """Start the agent (nothing if turned off or running already)."""
        if not self.wants_local_agent() or self._local_agent is not None:
            return
        cmd = [
            sys.executable,
            "-m",
            "jupyter_flows.agent",
            "--queue",
            self.local_agent_queue,
            "--name",
            f"local-{socket.gethostname()}-{port}",
            "--url",
            api_url,
        ]
        if self.local_agent_limit > 0:
            cmd += ["--limit", str(self.local_agent_limit)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(run_env.API_PREFIX)}
        env[run_env.API_URL] = api_url
        if token:
            env[run_env.API_TOKEN] = token
        self._local_agent = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
        log.info("jupyter-flows: local agent started (pid %d)", self._local_agent.pid)

    async def stop_local_agent_process(self, timeout: float = 40.0) -> None:
        """SIGTERM the agent (warm shutdown), then SIGKILL if it outlives ``timeout``."""
        proc, self._local_agent = self._local_agent, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.to_thread(proc.wait, 10)


#: Where JupyterLab keeps this extension's settings, below the user settings directory.
LAB_SETTINGS_FILE = Path("jupyter-flows") / "plugin.jupyterlab-settings"


def lab_settings_dir(serverapp: Any) -> Path:
    """The JupyterLab user settings directory of the server's lab (its configured one, else
    JupyterLab's default: ``$JUPYTERLAB_SETTINGS_DIR`` or ``<config dir>/lab/user-settings``)."""
    apps = serverapp.extension_manager.extension_apps.get("jupyterlab", set())
    for app in apps:
        configured = getattr(app, "user_settings_dir", "")
        if configured:
            return Path(configured)
    from jupyter_core.paths import jupyter_config_dir

    return Path(
        os.environ.get("JUPYTERLAB_SETTINGS_DIR")
        or Path(jupyter_config_dir()) / "lab" / "user-settings"
    )


def read_lab_local_agent(settings_dir: Path) -> bool | None:
    """The user's "Run the local agent" lab setting; None when not set or not readable
    (no lab, no such file, or a file JupyterLab would not read either)."""
    try:
        import json5  # JupyterLab's settings are JSON5 (comments allowed); it comes with it

        data = json5.loads((settings_dir / LAB_SETTINGS_FILE).read_text(encoding="utf-8"))
    except (ImportError, OSError, ValueError):
        return None
    value = data.get("localAgent") if isinstance(data, dict) else None
    return value if isinstance(value, bool) else None
