"""A run's credentials on the workers of a Dask cluster the run did not start.

A LocalCluster a run starts inherits the run process's environment, its credentials
included. The workers of an existing cluster (``DaskTaskRunner(address=…)``) were started
elsewhere and have none of them. So each task sent there carries the run's credential
variables (those ``REDACT_ENV`` names, read once when the runner starts) and the worker
sets them for the task's duration only, then puts back what was there.

A worker runs tasks on threads of one process, and ``os.environ`` is the process's: tasks
that need the same values run side by side, while a task that needs another value of a
variable in use (another run's credential of the same name) waits until it is free. What
reaches the server is redacted in the run process, where the task's records are replayed.
The values travel inside the task, so a cluster shared across trust boundaries should use
Dask's TLS.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from jupyter_flows.engine.run_env import RunEnv


def run_credentials(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that hold this run's credentials, with their values."""
    env: Any = os.environ if environ is None else environ
    return {name: env[name] for name in RunEnv.from_environ(env).redact_env if env.get(name)}


class _Borrowed:
    """The variables tasks have set in this process: each with its value, how many tasks
    use it, and what the environment held before the first of them."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.held: dict[str, tuple[str, int, str | None]] = {}

    def free_for(self, values: Mapping[str, str]) -> bool:
        return all(self.held.get(name, (value,))[0] == value for name, value in values.items())

    @contextlib.contextmanager
    def using(self, values: Mapping[str, str]) -> Iterator[None]:
        with self.changed:
            self.changed.wait_for(lambda: self.free_for(values))
            for name, value in values.items():
                _, users, before = self.held.get(name, (value, 0, os.environ.get(name)))
                self.held[name] = (value, users + 1, before)
                os.environ[name] = value
        try:
            yield
        finally:
            with self.changed:
                for name in values:
                    value, users, before = self.held[name]
                    if users > 1:
                        self.held[name] = (value, users - 1, before)
                        continue
                    del self.held[name]
                    if before is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = before
                self.changed.notify_all()


_borrowed = _Borrowed()


def borrowed_environ(values: Mapping[str, str]) -> contextlib.AbstractContextManager[None]:
    """Set ``values`` in this process's environment while the block runs (see above)."""
    if not values:
        return contextlib.nullcontext()
    return _borrowed.using(values)
