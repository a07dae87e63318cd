"""Task runners: where ``task.submit()`` runs a task.

One small interface: ``submit(call)`` returns a TaskFuture; ``shutdown()`` waits for (or
abandons) what is left. A runner given to ``@flow(task_runner=…)`` is a template: each flow
run works on its own ``duplicate()``, started on the first submit, so a flow that submits
nothing pays nothing.

- SequentialTaskRunner: runs the task at once, in the caller's thread.
- ThreadPoolTaskRunner: a thread pool (the default, as in Prefect 3).
- DaskTaskRunner: a ``distributed.Client`` to a scheduler address, or to a LocalCluster it
  starts for the flow run and closes after. Upstream futures are handed to Dask as Dask
  futures, so dependencies resolve on the cluster; each task's states and logs travel back
  with its result and are replayed into the flow run's reporter.
"""

from __future__ import annotations

import contextvars
import importlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.futures import TaskFuture
from jupyter_flows.engine.registry import Registry
from jupyter_flows.engine.states import State
from jupyter_flows.engine.task_run import TaskCall, run_on_worker
from jupyter_flows.engine.worker_env import run_credentials

if TYPE_CHECKING:
    from jupyter_flows.engine.run_env import RunEnv


class TaskRunner:
    """Base class: subclasses implement ``_submit`` and, if they hold resources, start/stop."""

    name = "base"

    def __init__(self) -> None:
        self._started = False
        self._lock = threading.Lock()

    def duplicate(self) -> TaskRunner:
        """A fresh, unstarted runner with the same settings."""
        raise NotImplementedError

    def submit(self, call: TaskCall) -> TaskFuture[Any]:
        if not self._started:
            with self._lock:
                if not self._started:
                    self._start()
                    self._started = True
        return self._submit(call)

    def shutdown(self, wait: bool = True) -> None:
        """Release the runner; ``wait=False`` abandons tasks still running (a timed-out flow)."""
        if self._started:
            self._stop(wait)
            self._started = False

    def _start(self) -> None:
        pass

    def _stop(self, wait: bool) -> None:
        pass

    def _submit(self, call: TaskCall) -> TaskFuture[Any]:
        raise NotImplementedError

    def __enter__(self) -> TaskRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _finished_future(call: TaskCall, state: State) -> TaskFuture[Any]:
    return TaskFuture(
        call.record.id, call.record.name, lambda _timeout: state, lambda: True, lambda: state
    )


class SequentialTaskRunner(TaskRunner):
    """Runs each submitted task to its end before ``submit`` returns."""

    name = "sequential"

    def duplicate(self) -> SequentialTaskRunner:
        return SequentialTaskRunner()

    def _submit(self, call: TaskCall) -> TaskFuture[Any]:
        return _finished_future(call, call.run())


class ThreadPoolTaskRunner(TaskRunner):
    """Runs submitted tasks on a pool of threads (default size: the executor's own)."""

    name = "threads"

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__()
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None

    def duplicate(self) -> ThreadPoolTaskRunner:
        return ThreadPoolTaskRunner(self.max_workers)

    def _start(self) -> None:
        self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="flows-task")

    def _stop(self, wait: bool) -> None:
        assert self._executor is not None
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
        self._executor = None

    def _submit(self, call: TaskCall) -> TaskFuture[Any]:
        assert self._executor is not None
        # Each task sees the context of the code that submitted it (flow run, tags).
        future = self._executor.submit(contextvars.copy_context().run, call.run)
        return TaskFuture(
            call.record.id,
            call.record.name,
            lambda timeout: future.result(timeout),
            future.done,
            call.live_state,
        )

    def __repr__(self) -> str:
        return f"ThreadPoolTaskRunner(max_workers={self.max_workers})"


class DaskTaskRunner(TaskRunner):
    """Runs submitted tasks on a Dask cluster (``pip install jupyter-flows[dask]``).

    ``address``: a running scheduler (``tcp://host:8786``); without one, a LocalCluster is
    started with ``cluster_kwargs`` for each flow run and closed when it ends.
    """

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        cluster_kwargs: dict[str, Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.address = address
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.client_kwargs = dict(client_kwargs or {})
        self._client: Any = None
        self._cluster: Any = None
        self._pending: list[_DaskResult] = []
        #: The run's credentials, sent with each task to a cluster it did not start.
        self._credentials: dict[str, str] = {}

    def duplicate(self) -> DaskTaskRunner:
        return DaskTaskRunner(self.address, self.cluster_kwargs, self.client_kwargs)

    @classmethod
    def from_run_env(cls, env: RunEnv) -> DaskTaskRunner | None:
        """The runner an agent's Dask infrastructure hands a run's process (``env.dask``:
        a scheduler's address, or a LocalCluster's size); None when it hands none. The one
        place a runner is made from the environment."""
        if env.dask is None:
            return None
        return cls(env.dask.get("address"), env.dask.get("cluster_kwargs"))

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` of this flow run (None before the first submit)."""
        return self._client

    def _start(self) -> None:
        try:
            # Any: distributed ships no type hints, and this is its only use here.
            distributed: Any = importlib.import_module("distributed")
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError(
                "DaskTaskRunner needs dask's distributed package: pip install 'jupyter-flows[dask]'"
            ) from error
        Client, LocalCluster = distributed.Client, distributed.LocalCluster  # noqa: N806
        if self.address:
            self._client = Client(self.address, **self.client_kwargs)
            # Its workers were started elsewhere, without this run's environment.
            self._credentials = run_credentials()
        else:
            options = {"dashboard_address": ":0", **self.cluster_kwargs}  # no fixed port to clash
            self._cluster = LocalCluster(**options)
            self._client = Client(self._cluster, **self.client_kwargs)

    def _stop(self, wait: bool) -> None:
        try:
            if wait:
                for pending in list(self._pending):
                    pending.state(None)
        finally:
            self._pending.clear()
            self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None
            self._credentials = {}

    def _submit(self, call: TaskCall) -> TaskFuture[Any]:
        args, kwargs, wait_for = call.remote_arguments(_dask_future_of)
        dask_future = self._client.submit(
            run_on_worker,
            call.without_arguments(),
            args,
            kwargs,
            wait_for,
            self._credentials,
            key=f"{call.record.name}-{call.record.id}",
            pure=False,
        )
        result = _DaskResult(dask_future, call)
        self._pending.append(result)
        return TaskFuture(
            call.record.id,
            call.record.name,
            result.state,
            dask_future.done,
            call.live_state,
            native=dask_future,
        )

    def __repr__(self) -> str:
        return f"DaskTaskRunner(address={self.address!r}, cluster_kwargs={self.cluster_kwargs!r})"


def _dask_future_of(future: TaskFuture[Any]) -> Any:
    return future.native


class _DaskResult:
    """Fetches a Dask task's outcome once and replays its records into the flow's reporter."""

    def __init__(self, dask_future: Any, call: TaskCall) -> None:
        self._future = dask_future
        self._call = call
        self._state: State | None = None
        self._lock = threading.Lock()

    def state(self, timeout: float | None) -> State:
        with self._lock:
            if self._state is None:
                outcome = self._future.result(timeout=timeout)
                outcome.records.replay_into(self._call.reporter)
                self._call.state = outcome.state
                self._state = outcome.state
            return self._state


#: Task runners by name (run configs, notebook specs, the CLI); other packages add theirs
#: through the ``jupyter_flows.task_runners`` entry-point group.
TASK_RUNNERS: Registry[TaskRunner] = Registry(
    "task runner",
    TaskRunner,
    "jupyter_flows.task_runners",
    builtins={
        "sequential": SequentialTaskRunner,
        "threads": ThreadPoolTaskRunner,
        "dask": DaskTaskRunner,
    },
)


def task_runner_from_name(name: str, **options: Any) -> TaskRunner:
    """Build a runner by its registered name (UnknownPluginError lists the known ones)."""
    return TASK_RUNNERS.get(name)(**options)
