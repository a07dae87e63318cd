"""A flow run as a local process: a subprocess of the agent, in a process group of its own.

The command is the agent's (``python -m jupyter_flows.agent.execute RUN_ID`` in the agent's
interpreter or the one the run's spec names); the environment is the agent's plus the
run's. With ``reproduce`` (the default) the run process may move into the interpreter of
the flow's ResourceSpec, or a virtual environment built from its lock and cached
(``agent/environment.py``): the build's output is part of the job log.

stdout and stderr are merged and read line by line (``logs``): they become the
run's job logs. ``cancel`` sends SIGTERM to the whole group (the run's process and
anything it started, such as Dask workers), then SIGKILL after ``stop_timeout`` seconds.
When the process ends, whatever it left behind in its group is killed too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import IO

from jupyter_flows.agent.infra.base import (
    ExitStatus,
    Handle,
    HandleNotFound,
    Infrastructure,
    InfrastructureError,
    InvalidRunSpec,
    RunSpec,
    WaitTimeout,
)
from jupyter_flows.engine.run_env import RunEnv


class LocalProcess(Infrastructure):
    """Runs each flow run as a subprocess on this machine."""

    kind = "local"
    runs_on_this_machine = True

    def describe(self) -> str:
        return f"local process on {socket.gethostname()}"

    cancel_grace_seconds = 30.0
    log_drain_seconds = 10.0

    def __init__(
        self,
        *,
        stop_timeout: float = 10.0,
        inherit_env: bool = True,
        credentials: Mapping[str, str] | Callable[[str], str | None] | None = None,
        reproduce: bool = True,
    ) -> None:
        """``credentials``: where the values of the run's credential references come from
        (a mapping or a lookup by name); they are injected as the references' variables.
        ``reproduce``: run each flow in its own environment (False: in the agent's, only
        checked against the spec)."""
        self.stop_timeout = stop_timeout
        self.reproduce = reproduce
        self.inherit_env = inherit_env
        self.credentials = credentials if credentials is not None else {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- the five methods

    def check(self, run: RunSpec) -> None:
        for ref in run.credentials:
            if self._value(run, ref.name) is None:
                raise InvalidRunSpec(f"credential {ref.name!r} has no value on this agent")

    def start(self, run: RunSpec) -> Handle:
        self.check(run)
        env = {**os.environ, **run.env} if self.inherit_env else dict(run.env)
        command = list(run.command)
        if self.reproduce:
            command, handoff = _in_flow_environment(command, env)
            env.update(handoff.to_environ())
        for ref in run.credentials:
            env[ref.env_name] = self._value(run, ref.name) or ""
        try:
            proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=run.working_dir or None,
                env=env,
                start_new_session=True,  # its own group: cancel reaches its children
            )
        except OSError as error:
            raise InfrastructureError(f"cannot start {run.command[0]!r}: {error}") from error
        handle = Handle(self.kind, str(proc.pid), run.flow_run_id, {"pid": proc.pid})
        with self._lock:
            self._procs[handle.id] = proc
        return handle

    def wait(self, handle: Handle, timeout: float | None = None) -> ExitStatus:
        proc = self._proc(handle)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise WaitTimeout(f"process {handle.id} still running after {timeout} s") from None
        self._kill_group(proc.pid, signal.SIGKILL)  # leftovers of a run that ended
        cancelled = handle.id in self._cancelled
        if code < 0:
            message = f"killed by signal {signal.Signals(-code).name}"
        elif code == 0:
            message = "exited normally"
        else:
            message = f"exited with code {code}"
        return ExitStatus(code=code, message=message, cancelled=cancelled)

    def logs(self, handle: Handle) -> Iterator[str]:
        stream: IO[bytes] | None = self._proc(handle).stdout
        if stream is None:
            return
        for raw in iter(stream.readline, b""):
            yield raw.decode("utf-8", "replace").rstrip("\r\n")

    def cancel(self, handle: Handle) -> None:
        with self._lock:
            proc = self._procs.get(handle.id)
            self._cancelled.add(handle.id)
        if proc is None or proc.poll() is not None:
            return
        self._kill_group(proc.pid, signal.SIGTERM)
        timer = threading.Timer(self.stop_timeout, self._kill_group, (proc.pid, signal.SIGKILL))
        timer.daemon = True
        timer.start()

    def status(self, handle: Handle) -> str:
        return ""  # a local process runs as soon as it exists: nothing to wait for

    def forget(self, handle: Handle) -> None:
        """Drop what is kept about a run that ended (the agent calls it when done)."""
        with self._lock:
            proc = self._procs.pop(handle.id, None)
            self._cancelled.discard(handle.id)
        if proc is not None and proc.stdout is not None:
            with contextlib.suppress(OSError):
                proc.stdout.close()

    # ---------------------------------------------------------------- helpers

    def _value(self, run: RunSpec, name: str) -> str | None:
        """The value the server gave for this attempt, else this agent's own source."""
        if name in run.credential_values:
            return run.credential_values[name]
        return self._credential(name)

    def _credential(self, name: str) -> str | None:
        if callable(self.credentials):
            return self.credentials(name)
        return self.credentials.get(name)

    def _proc(self, handle: Handle) -> subprocess.Popen[bytes]:
        with self._lock:
            proc = self._procs.get(handle.id)
        if proc is None:
            raise HandleNotFound(f"no process {handle.id} started by this agent")
        return proc

    @staticmethod
    def _kill_group(pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)


def _in_flow_environment(command: list[str], env: Mapping[str, str]) -> tuple[list[str], RunEnv]:
    """The run process's command in the flow's own environment when that is ready (the
    spec's interpreter, or a cached build): started there at once, without a second start.
    Otherwise the command as it is, and the run process reproduces the environment itself
    (building it, its output in the job log)."""
    run_module = ["-m", "jupyter_flows.agent.execute"]
    handed = RunEnv.from_environ(env)
    if command[1:3] != run_module or len(command) != 4 or handed.run_document is None:
        return command, RunEnv(reproduce=True)
    from jupyter_flows.agent import environment
    from jupyter_flows.agent.run_document import RunDocument

    try:
        spec = RunDocument.from_json(handed.run_document).resource_spec
        python = environment.ready_interpreter(spec) if spec is not None else None
    except Exception:  # an unreadable document or spec: the run process says what is wrong
        return command, RunEnv(reproduce=True)
    if python is None:
        return command, RunEnv(reproduce=spec is not None)
    if os.path.abspath(python) == os.path.abspath(command[0]):
        return command, RunEnv()
    overlay = RunEnv(overlay=environment.overlay_paths())
    return [python, "-c", environment.BOOTSTRAP, command[3]], overlay
