"""Infrastructure: where an agent runs a flow run's process.

One small interface, one module per kind (a local process, a Dask cluster, a Kubernetes
Job). A kind implements five methods:

- ``start(run) -> Handle``: begin running ``run.command``; return at once.
- ``wait(handle, timeout) -> ExitStatus``: block until it ends (``WaitTimeout`` after
  ``timeout`` seconds, like ``subprocess.Popen.wait``).
- ``logs(handle) -> Iterator[str]``: its output, line by line, as it is written; the
  iterator ends when the process does.
- ``cancel(handle)``: stop it; stopping something already gone is not an error.
- ``status(handle) -> str``: a short human reason while it is not running yet ("pod
  pending: ImagePullBackOff: …", "cluster starting"), shown as the run's pending reason.

:meth:`Infrastructure.run` owns the lifecycle the agent needs (start, stream logs, wait,
honour a cancel request or a deadline, always clean up), so a kind never repeats it.

Kinds are found by name in ``INFRASTRUCTURES`` (the engine's generic registry), imported
only when asked for: ``infrastructure_from_name("kubernetes", namespace="flows")``. A new
kind is one module plus one line in its ``builtins`` (or an entry point in the
``jupyter_flows.infrastructures`` group, for kinds that live in other packages).

This module imports only the standard library and the engine's registry.
"""

from __future__ import annotations

import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jupyter_flows.engine.errors import PluginLoadError, UnknownPluginError
from jupyter_flows.engine.registry import Registry

__all__ = [
    "INFRASTRUCTURES",
    "CredentialRef",
    "ExitStatus",
    "Handle",
    "HandleNotFound",
    "Infrastructure",
    "InfrastructureError",
    "InfrastructureLoadError",
    "InfrastructureUnavailable",
    "InvalidRunSpec",
    "RunSpec",
    "UnknownInfrastructure",
    "WaitTimeout",
    "available_infrastructures",
    "infrastructure_class",
    "infrastructure_from_name",
    "register_infrastructure",
]


# ---------------------------------------------------------------------- errors


class InfrastructureError(Exception):
    """Base of the infrastructure errors; the message says what failed and where."""


class InvalidRunSpec(InfrastructureError, ValueError):
    """The run cannot be started as specified (a bad quantity, a missing image…)."""


class InfrastructureUnavailable(InfrastructureError):
    """The infrastructure could not be reached (an API server down, no configuration)."""


class HandleNotFound(InfrastructureError, LookupError):
    """What the handle names is gone (deleted, or cleaned up after it finished)."""


class WaitTimeout(InfrastructureError, TimeoutError):
    """``wait`` gave up after its timeout; the run goes on."""


# ---------------------------------------------------------------------- data

_CREDENTIAL_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


@dataclass(frozen=True)
class CredentialRef:
    """A credential the run needs, by name: never its value.

    ``env`` is the variable the run sees (default: the name upper-cased, dashes as
    underscores). Kinds that hold secrets themselves read the value from ``secret``
    (default: the name) under ``key``: for Kubernetes, a Secret in the job's namespace.
    Kinds that do not are given values by the agent, which asks the server for them.
    """

    name: str
    env: str | None = None
    secret: str | None = None
    key: str = "value"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _CREDENTIAL_NAME.match(self.name):
            raise InvalidRunSpec(
                f"credential name {self.name!r} must be lowercase letters, digits and dashes"
            )

    @property
    def env_name(self) -> str:
        return self.env or self.name.upper().replace("-", "_")

    @property
    def secret_name(self) -> str:
        return self.secret or self.name

    @classmethod
    def coerce(cls, value: CredentialRef | str | Mapping[str, Any]) -> CredentialRef:
        if isinstance(value, CredentialRef):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            return cls(**value)
        raise InvalidRunSpec(f"not a credential reference: {value!r}")


@dataclass(frozen=True)
class RunSpec:
    """Everything an infrastructure needs to start one flow run's process.

    ``command`` runs the flow (``["python", "-m", …]``); ``env`` is added to the process's
    environment; ``resources`` is the run's resource spec: ``image``, ``cpu``, ``memory``,
    ``gpu``, ``disk``, ``labels`` (a kind uses the keys it understands and ignores the
    rest). ``attempt`` counts the flow run's retries through its queue, so each attempt
    gets infrastructure of its own.
    """

    flow_run_id: str
    flow_id: str
    command: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    credentials: Sequence[CredentialRef] = ()
    resources: Mapping[str, Any] = field(default_factory=dict)
    working_dir: str | None = None
    flow_name: str | None = None
    attempt: int = 1
    #: Credential name → value, fetched by the agent for this attempt; never in a repr.
    credential_values: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in ("flow_run_id", "flow_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise InvalidRunSpec(f"{name} must be a non-empty string, not {value!r}")
        command = self.command
        if isinstance(command, str) or not command or not all(isinstance(a, str) for a in command):
            raise InvalidRunSpec(f"command must be a non-empty list of strings, not {command!r}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.env.items()):
            raise InvalidRunSpec("env must map strings to strings")
        if not isinstance(self.attempt, int) or self.attempt < 1:
            raise InvalidRunSpec(f"attempt must be a positive integer, not {self.attempt!r}")
        credentials = tuple(CredentialRef.coerce(c) for c in self.credentials)
        seen: dict[str, str] = {}
        for credential in credentials:
            env = credential.env_name
            if env in self.env:
                raise InvalidRunSpec(
                    f"credential {credential.name!r} and env both set the variable {env!r}"
                )
            if env in seen:
                raise InvalidRunSpec(
                    f"credentials {seen[env]!r} and {credential.name!r} both set {env!r}"
                )
            seen[env] = credential.name
        object.__setattr__(self, "command", tuple(command))
        object.__setattr__(self, "env", dict(self.env))
        object.__setattr__(self, "credentials", credentials)
        object.__setattr__(self, "resources", dict(self.resources))
        object.__setattr__(self, "credential_values", dict(self.credential_values))

    @property
    def labels(self) -> dict[str, str]:
        labels = self.resources.get("labels") or {}
        if not isinstance(labels, Mapping):
            raise InvalidRunSpec(f"resources.labels must be a mapping, not {labels!r}")
        return {str(k): str(v) for k, v in labels.items()}


@dataclass(frozen=True)
class Handle:
    """What ``start`` returns: enough to find the run's process again.

    Plain data (``to_dict``/``from_dict``), so an agent that restarts can pick up what
    an earlier one started.
    """

    kind: str
    id: str
    flow_run_id: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "flow_run_id": self.flow_run_id,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Handle:
        return cls(
            kind=value["kind"],
            id=value["id"],
            flow_run_id=value["flow_run_id"],
            data=dict(value.get("data") or {}),
        )


@dataclass(frozen=True)
class ExitStatus:
    """How a run's process ended.

    ``code`` is its exit code when known (None when it never ran or vanished);
    ``cancelled`` is true when it was stopped by ``cancel`` or deleted from outside;
    ``message`` says why in words ("OOMKilled", "job deleted", …).
    """

    code: int | None
    message: str = ""
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.code == 0 and not self.cancelled


# ---------------------------------------------------------------------- interface


class Infrastructure(ABC):
    """Where a flow run's process runs. Subclasses implement the five abstract methods."""

    kind: ClassVar[str]
    #: Whether the run's process runs on the agent's machine: it then uses the agent's
    #: interpreter and ends when the agent dies (a pod has its image's, and lives on).
    runs_on_this_machine: ClassVar[bool] = False

    #: How long ``run`` waits for a cancelled run to confirm it stopped.
    cancel_grace_seconds: float = 60.0
    #: How long ``run`` waits for the log stream to end after the process did.
    log_drain_seconds: float = 30.0

    @abstractmethod
    def start(self, run: RunSpec) -> Handle: ...

    @abstractmethod
    def wait(self, handle: Handle, timeout: float | None = None) -> ExitStatus: ...

    @abstractmethod
    def logs(self, handle: Handle) -> Iterator[str]: ...

    @abstractmethod
    def cancel(self, handle: Handle) -> None: ...

    @abstractmethod
    def status(self, handle: Handle) -> str: ...

    def check(self, run: RunSpec) -> None:  # noqa: B027 - optional hook
        """Raise InvalidRunSpec when ``run`` cannot be started here (before claiming it)."""

    def poll(self, handle: Handle) -> ExitStatus | None:
        """The exit status if the run has ended, else None, without blocking."""
        try:
            return self.wait(handle, timeout=0)
        except WaitTimeout:
            return None

    def describe(self) -> str:
        """Where runs go, in a few words a person reads in the run's header and the agent
        list ("local process", "kubernetes, namespace flows"). The agent registers with it."""
        return self.kind

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and connections."""

    def __enter__(self) -> Infrastructure:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        spec: RunSpec,
        *,
        on_log: Callable[[str], None] | None = None,
        on_start: Callable[[Handle], None] | None = None,
        cancel: threading.Event | None = None,
        timeout: float | None = None,
    ) -> ExitStatus:
        """Start ``spec``, stream its logs to ``on_log``, and wait for it to end.

        Setting ``cancel`` (or passing ``timeout`` seconds) cancels the run; the result then
        has ``cancelled=True``. ``on_start`` gets the handle as soon as it exists (the agent
        records it). Errors of the infrastructure propagate after the run was cancelled.
        """
        handle = self.start(spec)
        if on_start is not None:
            on_start(handle)
        log_thread = None
        if on_log is not None:
            log_thread = threading.Thread(
                target=self._forward_logs,
                args=(handle, on_log),
                name=f"logs:{handle.id}",
                daemon=True,
            )
            log_thread.start()
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def waiter() -> None:
            try:
                outcome["status"] = self.wait(handle)
            except BaseException as error:  # handed to the caller below
                outcome["error"] = error
            finally:
                done.set()

        threading.Thread(target=waiter, name=f"wait:{handle.id}", daemon=True).start()
        deadline = None if timeout is None else time.monotonic() + timeout
        stopped_by = ""
        try:
            while not done.wait(0.1):
                if cancel is not None and cancel.is_set():
                    stopped_by = "cancelled"
                elif deadline is not None and time.monotonic() >= deadline:
                    stopped_by = f"timed out after {timeout:g} s"
                if stopped_by:
                    self.cancel(handle)
                    done.wait(self.cancel_grace_seconds)
                    break
        except BaseException:
            self.cancel(handle)
            raise
        if log_thread is not None:
            log_thread.join(self.log_drain_seconds)
        if "error" in outcome:
            if not stopped_by:
                self.cancel(handle)
            raise outcome["error"]
        status: ExitStatus | None = outcome.get("status")
        if stopped_by:
            code = status.code if status is not None else None
            message = stopped_by if status is None else f"{stopped_by}: {status.message}"
            return ExitStatus(code=code, message=message.rstrip(": "), cancelled=True)
        assert status is not None
        return status

    def _forward_logs(self, handle: Handle, on_log: Callable[[str], None]) -> None:
        try:
            for line in self.logs(handle):
                on_log(line)
        except InfrastructureError as error:
            on_log(f"[jupyter-flows] log stream of {handle.id} ended: {error}")


# ---------------------------------------------------------------------- registry


class UnknownInfrastructure(UnknownPluginError, InvalidRunSpec):
    """No infrastructure has that name; the message lists the known ones."""


class InfrastructureLoadError(PluginLoadError, InfrastructureUnavailable):
    """An infrastructure that cannot be imported, or is not an Infrastructure."""


#: Infrastructures by name, imported when first asked for; other packages add theirs
#: through the ``jupyter_flows.infrastructures`` entry-point group.
INFRASTRUCTURES: Registry[Infrastructure] = Registry(
    "infrastructure",
    Infrastructure,
    "jupyter_flows.infrastructures",
    builtins={
        "local": "jupyter_flows.agent.infra.local:LocalProcess",
        "dask": "jupyter_flows.agent.infra.dask:DaskCluster",
        "kubernetes": "jupyter_flows.agent.infra.kubernetes:KubernetesJob",
    },
    aliases={"k8s": "kubernetes", "process": "local"},
    unknown_error=UnknownInfrastructure,
    load_error=InfrastructureLoadError,
)


def register_infrastructure(kind: str, target: str | type[Infrastructure]) -> None:
    """Make ``kind`` available: a class, or ``"module:Class"`` imported on first use."""
    INFRASTRUCTURES.register(kind, target)


def available_infrastructures() -> list[str]:
    return INFRASTRUCTURES.names()


def infrastructure_class(kind: str) -> type[Infrastructure]:
    return INFRASTRUCTURES.get(kind)


def infrastructure_from_name(kind: str, **config: Any) -> Infrastructure:
    """An infrastructure of ``kind``, configured by keyword arguments."""
    return infrastructure_class(kind)(**config)
