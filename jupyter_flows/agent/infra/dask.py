"""A flow run whose tasks run on a Dask cluster.

The run's process is a local one (:class:`~jupyter_flows.agent.infra.local.LocalProcess`);
its flow gets a ``DaskTaskRunner`` (``RunEnv.dask``, which the run process reads):

- on the scheduler at ``address`` (the agent's setting, else the run config's
  ``dask.address``), or
- on a ``LocalCluster`` sized from the run's resources (``cpu`` → workers of one thread,
  ``memory`` → each worker's memory limit), started for the run and closed after it.

Task states and logs recorded on the workers travel back with each task's result and are
replayed into the flow run's reporter, so they reach the run's logs like any other. The
cluster lives in the run's process group: cancelling the run, or the run's process dying,
takes the workers with it.
"""

from __future__ import annotations

import math
import socket
from dataclasses import replace
from typing import Any

from jupyter_flows.agent.infra.base import Handle, InvalidRunSpec, RunSpec
from jupyter_flows.agent.infra.local import LocalProcess
from jupyter_flows.engine.run_env import RunEnv


class DaskCluster(LocalProcess):
    """Local run processes whose flows run their tasks on Dask."""

    kind = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int | None = None,
        processes: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.address = address
        self.n_workers = n_workers
        self.processes = processes

    def describe(self) -> str:
        where = self.address or "a LocalCluster per run"
        return f"dask, {where}, on {socket.gethostname()}"

    def settings(self, run: RunSpec) -> dict[str, Any]:
        """The task runner's settings for ``run``: an address, or a LocalCluster's size."""
        dask = run.resources.get("dask") or {}
        if not isinstance(dask, dict):
            raise InvalidRunSpec(f"resources.dask must be a mapping, not {dask!r}")
        address = self.address or dask.get("address")
        if address:
            return {"address": str(address)}
        cpu = run.resources.get("cpu")
        try:
            workers = self.n_workers or (max(1, math.ceil(float(cpu))) if cpu else 2)
        except (TypeError, ValueError):
            raise InvalidRunSpec(f"resources.cpu must be a number, not {cpu!r}") from None
        cluster: dict[str, Any] = {
            "n_workers": int(dask.get("n_workers", workers)),
            "threads_per_worker": int(dask.get("threads_per_worker", 1)),
            "processes": bool(dask.get("processes", self.processes)),
            "dashboard_address": None,
        }
        memory = run.resources.get("memory")
        if memory:
            cluster["memory_limit"] = str(memory)
        return {"cluster_kwargs": cluster}

    def check(self, run: RunSpec) -> None:
        super().check(run)
        self.settings(run)

    def start(self, run: RunSpec) -> Handle:
        env = {**run.env, **RunEnv(dask=self.settings(run)).to_environ()}
        return super().start(replace(run, env=env))
