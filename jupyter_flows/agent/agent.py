"""The agent: claim flow runs from one work queue and run them on an infrastructure.

One iteration is :meth:`Agent.run_once` (huey's consumer and rq's worker have the same
shape): collect runs that ended, heartbeat if one is due, and, if a slot is free, claim one
run (a long poll of up to ``wait`` seconds: the server answers the moment a run can be
claimed) and launch it. :meth:`Agent.serve` loops over it, backs off (doubling, capped) while
the server is away, heartbeats from a thread of its own (the answer names runs to stop:
cancellation reaches the agent on its next heartbeat), and ships the agent's log to the
server.

Each run is one thread around ``Infrastructure.run``: start the process, forward its output
as the run's job logs, wait, stop it on cancel. When it ends the agent reads the run: a run
its engine brought to a final state is done; otherwise the agent reports what happened,
Cancelled (it was stopped) or Crashed (its process died: "killed by signal KILL"), and the
server applies the flow's retry policy.

Shutdown, as huey and rq do it: the first SIGTERM or SIGINT is *warm*: stop claiming (a
claim in flight is abandoned and the server hands back anything it claimed meanwhile), let
running work finish for up to ``grace`` seconds, then stop what remains: runs whose process
had not reported Running go back to their queue (Pending → Scheduled), the others end
Cancelled. A second signal is *cold*: stop everything now.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import Any

from jupyter_flows.agent.infra.base import (
    CredentialRef,
    ExitStatus,
    Handle,
    Infrastructure,
    InfrastructureError,
    InvalidRunSpec,
    RunSpec,
    infrastructure_from_name,
)
from jupyter_flows.agent.logs import AgentLogHandler, LogShipper, about_run, log_line
from jupyter_flows.agent.run_document import RunDocument
from jupyter_flows.client import FlowsAPIError, FlowsClient, FlowsConnectionError
from jupyter_flows.client_models import FINAL_STATE_TYPES, ClaimedRun, RunLease
from jupyter_flows.credentials import references
from jupyter_flows.engine.http_reporter import HttpReporter
from jupyter_flows.engine.redaction import Redactor
from jupyter_flows.engine.run_env import RunEnv

log = logging.getLogger("jupyter_flows.agent")

#: The longest long poll the server accepts.
MAX_CLAIM_WAIT = 30.0
#: Above this the run document is not passed in the environment; the run process fetches it.
MAX_ENV_SPEC = 64 * 1024


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _StopClaiming(BaseException):
    """Raised by the signal handler to abandon a claim that is waiting on the server."""


@dataclass
class ActiveRun:
    """A run this agent claimed and is running."""

    run: ClaimedRun
    spec: RunSpec
    cancel: threading.Event = field(default_factory=threading.Event)
    handle: Handle | None = None
    thread: threading.Thread | None = None
    #: Set when the agent shuts down before the run ended (hand back or cancel it).
    shutdown: bool = False
    #: The last pending reason the agent posted for it (what its infrastructure says).
    reported_status: str = ""
    started_running: bool = False
    #: Set when the server says this attempt is over (another holds the run, or the server
    #: ended it): the process is stopped and nothing is reported for it.
    fenced: bool = False
    #: Where its process spools the records it could not deliver (local kinds).
    spool: str | None = None
    #: Masks the values of its credentials in the job log this agent ships.
    redactor: Redactor = field(default_factory=lambda: Redactor(()))

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def lease(self) -> RunLease | None:
        return self.run.lease

    @property
    def attempt(self) -> int:
        return self.run.lease.attempt if self.run.lease else self.run.attempt


class Agent:
    """Claims runs from ``queue`` and runs at most ``limit`` of them at once."""

    def __init__(
        self,
        client: FlowsClient,
        queue: str = "default",
        *,
        name: str | None = None,
        limit: int | None = None,
        infrastructure: Infrastructure | str = "local",
        heartbeat_interval: float = 10.0,
        claim_wait: float = 10.0,
        grace: float = 30.0,
        max_backoff: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
        claim_client: FlowsClient | None = None,
        ship_logs: bool = True,
        python: str | None = None,
        spool_dir: str | None = None,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        self.client = client
        #: Long polls go through a client of their own, so heartbeats never queue behind.
        self.claim_client = claim_client or client
        self.queue = queue
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.limit = limit
        if isinstance(infrastructure, str):
            infrastructure = infrastructure_from_name(infrastructure)
        self.infra = infrastructure
        self.heartbeat_interval = heartbeat_interval
        self.claim_wait = min(max(claim_wait, 0.0), MAX_CLAIM_WAIT)
        self.grace = grace
        self.max_backoff = max_backoff
        self.clock = clock
        self.python = python or sys.executable
        #: Run processes spool what the server cannot take here; the agent delivers it.
        self.spool_dir = spool_dir or os.path.join(
            tempfile.gettempdir(), f"jupyter-flows-spool-{os.getuid()}"
        )
        self.id: str | None = None
        self.active: dict[str, ActiveRun] = {}
        self.launched = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._slot_freed = threading.Event()
        #: Set to end a claim back-off early (the server answered a heartbeat again).
        self._retry_claim = threading.Event()
        self._stopping = threading.Event()
        self._cold = threading.Event()
        self._done = threading.Event()
        self._claiming = False
        self._last_heartbeat: datetime | None = None
        self._ship_logs = ship_logs
        self._job_logs: LogShipper | None = None
        self._agent_logs: LogShipper | None = None
        self._log_handler: AgentLogHandler | None = None

    # ---------------------------------------------------------------- lifecycle

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def register(self) -> str:
        """Register with the server (a known name comes back online); return the agent id."""
        agent = self.client.register_agent(
            self.name, self.queue, infrastructure=self.infra.describe()
        )
        self.id = agent.id
        if self._ship_logs and self._job_logs is None:
            self._job_logs = LogShipper(self.client.create_logs, name="job-logs")
            agent_id = agent.id
            self._agent_logs = LogShipper(
                lambda lines: self.client.create_agent_logs(agent_id, lines), name="agent-logs"
            )
            self._log_handler = AgentLogHandler(self._agent_logs, run_shipper=self._job_logs)
            log.addHandler(self._log_handler)
            if log.level == logging.NOTSET or log.level > logging.INFO:
                log.setLevel(logging.INFO)
        log.info(
            "agent %r (%s) serving work queue %r on %s infrastructure, up to %s run(s) at once",
            self.name,
            agent.id,
            self.queue,
            self.infra.kind,
            self.limit or "any number of",
        )
        return agent.id

    def serve(self) -> int:
        """Register, then claim and run until stopped (a signal or :meth:`stop`); return 0."""
        if self.id is None:
            self.register()
        self._install_signal_handlers()
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        try:
            while not self.stopping:
                if not self._has_capacity():
                    self._slot_freed.wait(self.heartbeat_interval)
                    self._slot_freed.clear()
                    self.collect()
                    continue
                try:
                    self.run_once(wait=self.claim_wait, heartbeat=False)
                    self.failures = 0
                except FlowsAPIError as error:
                    self._back_off(error)
        finally:
            self.shutdown()
        return 0

    def stop(self, cold: bool = False) -> None:
        """Stop claiming and shut down warm; ``cold``: stop the runs too, now."""
        if cold:
            self._cold.set()
        self._stopping.set()
        self._slot_freed.set()
        self._retry_claim.set()

    def shutdown(self) -> None:
        """Wait up to ``grace`` for running work, then stop what remains; go offline."""
        self.stop()
        deadline = time.monotonic() + (0 if self._cold.is_set() else self.grace)
        if self.active and not self._cold.is_set():
            log.info("waiting up to %g s for %d run(s) to finish", self.grace, len(self.active))
        while self.active and time.monotonic() < deadline and not self._cold.is_set():
            self._slot_freed.wait(min(1.0, max(deadline - time.monotonic(), 0.0)))
            self._slot_freed.clear()
            self.collect()
        with self._lock:
            remaining = list(self.active.values())
        for active in remaining:
            about_run(log, active.id).warning(
                "stopping run %s: the agent is shutting down", active.id
            )
            active.shutdown = True
            active.cancel.set()
        for active in remaining:
            if active.thread is not None:
                active.thread.join(self.infra.cancel_grace_seconds + 15)
        self.collect()
        self._done.set()
        if self.id is not None:
            try:
                self._send_heartbeat(status="offline")
            except FlowsAPIError as error:
                log.warning("could not tell the server this agent stopped: %s", error)
        log.info("agent %r stopped", self.name)
        for shipper in (self._job_logs, self._agent_logs):
            if shipper is not None:
                shipper.close(5.0)
        if self._log_handler is not None:
            log.removeHandler(self._log_handler)
        self.infra.close()

    # ---------------------------------------------------------------- one iteration

    def run_once(
        self, now: datetime | None = None, *, wait: float = 0.0, heartbeat: bool = True
    ) -> int:
        """One iteration at ``now``: collect ended runs, heartbeat if due, claim and launch
        at most one run (waiting up to ``wait`` seconds for one). Returns runs launched."""
        now = now or self.clock()
        if self.id is None:
            self.register()
        self.collect()
        if heartbeat and self._heartbeat_due(now):
            self.heartbeat(now)
        if self.stopping or not self._has_capacity():
            return 0
        claimed = self._claim(wait)
        if claimed is None:
            return 0
        if self.stopping:  # claimed as the stop came: give it back
            self._release(
                claimed.id, "SCHEDULED", "handed back: the agent is stopping", claimed.lease
            )
            return 0
        if not self._confirm(claimed):
            return 0
        self.launch(claimed)
        return 1

    def _confirm(self, claimed: ClaimedRun) -> bool:
        """Renew the new attempt's lease before launching it: a claim answered while this
        agent was paused may have been handed back (or claimed again) since."""
        if claimed.lease is None or self.id is None:
            return True
        answer = self.client.heartbeat(self.id, leases=[claimed.lease])
        if claimed.id in answer.fenced:
            about_run(log, claimed.id).warning(
                "run %s: the claim of attempt %d arrived after its lease ended; not launched",
                claimed.id,
                claimed.lease.attempt,
            )
            return False
        return True

    def _claim(self, wait: float) -> ClaimedRun | None:
        assert self.id is not None
        self._claiming = True
        try:
            if self.stopping:
                return None
            wait = min(max(wait, 0.0), MAX_CLAIM_WAIT)
            return self.claim_client.claim(self.queue, self.id, wait=wait)
        except _StopClaiming:
            return None
        finally:
            self._claiming = False

    def heartbeat(self, now: datetime | None = None) -> list[str]:
        """Renew the leases of the active runs; stop the runs the server names (and report
        nothing for those whose attempt it fenced). Returns the runs it named."""
        assert self.id is not None
        self._last_heartbeat = now or self.clock()
        answer = self._send_heartbeat()
        fenced = set(answer.fenced)
        for run_id in answer.cancel:
            active = self.active.get(run_id)
            if active is None or active.cancel.is_set():
                continue
            if run_id in fenced:
                active.fenced = True
                about_run(log, run_id).warning(
                    "run %s: attempt %d is fenced (the server gave the run up or to another "
                    "attempt); stopping its process without reporting",
                    run_id,
                    active.attempt,
                )
            else:
                about_run(log, run_id).info(
                    "run %s: stopping it, as the server asks (cancelled)", run_id
                )
            active.cancel.set()
        self._report_infrastructure()
        return list(answer.cancel)

    def _send_heartbeat(self, status: str = "online") -> Any:
        assert self.id is not None
        with self._lock:
            held = list(self.active.values())
        leases = [a.lease for a in held if a.lease is not None and not a.fenced]
        bare = [a.id for a in held if a.lease is None and not a.fenced]
        return self.client.heartbeat(self.id, bare, status=status, leases=leases)

    def collect(self) -> list[str]:
        """Forget runs whose thread ended; returns their ids."""
        with self._lock:
            ended = [
                run_id
                for run_id, active in self.active.items()
                if active.thread is not None and not active.thread.is_alive()
            ]
            for run_id in ended:
                del self.active[run_id]
        return ended

    # ---------------------------------------------------------------- running one run

    def launch(self, claimed: ClaimedRun) -> ActiveRun:
        """Start running a claimed run on a thread of its own.

        If this agent still runs an earlier attempt of the same run (it was paused while
        the server gave the run up and scheduled it again), that attempt is fenced: it is
        stopped, without reporting, and the new one starts only once it has ended.
        """
        spec = self.run_spec(claimed)
        active = ActiveRun(claimed, spec, spool=RunEnv.from_environ(spec.env).spool)
        with self._lock:
            earlier = self.active.get(claimed.id)
        if earlier is not None:
            about_run(log, claimed.id).warning(
                "run %s: attempt %d claimed while this agent still runs attempt %d; "
                "stopping that one first, without reporting",
                claimed.id,
                active.attempt,
                earlier.attempt,
            )
            earlier.fenced = True
            earlier.cancel.set()
        thread = threading.Thread(
            target=self._run, args=(active, earlier), name=f"run-{claimed.id[-8:]}"
        )
        active.thread = thread
        with self._lock:
            self.active[claimed.id] = active
        self.launched += 1
        about_run(log, claimed.id).info(
            "run %s (%s of %r, attempt %d): launching by agent %r on %s",
            claimed.id,
            claimed.name,
            claimed.flow_name,
            active.attempt,
            self.name,
            self.infra.describe(),
        )
        thread.start()
        return active

    def run_spec(self, claimed: ClaimedRun) -> RunSpec:
        """What the infrastructure needs: the command, env, credentials and resources."""
        config = claimed.run_config
        made = RunDocument.from_claim(claimed)
        version = claimed.flow_version
        content = version.content if version is not None and version.content else {}
        content = {**content, "run_config": config}
        resources = dict(config.get("resources") or {})
        spec = made.resource_spec
        if spec is not None and not self.infra.runs_on_this_machine:
            # A pod is sized and imaged as the flow's spec asks; the run config may override.
            resources = {**spec.infrastructure_resources(), **resources}
        document = made.to_json()
        spool = None
        if self.infra.runs_on_this_machine:  # a pod's spool would die with the pod
            attempt = claimed.lease.attempt if claimed.lease else claimed.attempt
            os.makedirs(self.spool_dir, mode=0o700, exist_ok=True)
            spool = os.path.join(self.spool_dir, f"{claimed.id}-{attempt}.jsonl")
        api = self._api_settings()
        handoff = RunEnv(
            flow_run_id=claimed.id,
            api_url=api["api_url"],
            api_key=api.get("api_key"),
            api_token=api.get("api_token"),
            run_document=document if len(document) <= MAX_ENV_SPEC else None,
            # The run process ends if this agent dies.
            agent_pid=os.getpid() if self.infra.runs_on_this_machine else None,
            # What the run process presents with its records.
            lease=f"{claimed.lease.attempt}:{claimed.lease.token}" if claimed.lease else None,
            spool=spool,
            run_process=True,
            console_logs=False,  # its logs reach the server already
        )
        env = {str(k): str(v) for k, v in (config.get("env") or {}).items()}
        env.update(handoff.to_environ())
        # A pod has its image's interpreter; a local run, this agent's (or the spec's).
        default = self.python if self.infra.runs_on_this_machine else "python"
        python = str(config.get("python") or resources.get("python") or default)
        return RunSpec(
            flow_run_id=claimed.id,
            flow_id=claimed.flow_id or "",
            command=[python, "-m", "jupyter_flows.agent.execute", claimed.id],
            env=env,
            credentials=[CredentialRef.coerce(c) for c in references(content)],
            resources=resources,
            working_dir=config.get("working_dir"),
            flow_name=claimed.flow_name,
            attempt=max(1, claimed.attempt),
        )

    def _with_credentials(self, active: ActiveRun) -> RunSpec:
        """The run's spec with the values of the credentials it references, fetched from
        the server with the claim's lease (only this attempt may read them); their
        variables are named in the hand-off so the run process redacts their values."""
        spec = active.spec
        stored = [ref for ref in spec.credentials if ref.secret is None]
        if not stored or active.lease is None:
            return spec  # none, or a server without leases: the infrastructure's own source
        try:
            fetched = {c.name: c for c in self.client.run_credentials(active.id, active.lease)}
        except FlowsAPIError as error:
            if error.status >= 500 or isinstance(error, FlowsConnectionError):
                raise InfrastructureError(f"credentials: {error.message}") from error
            raise InvalidRunSpec(f"credentials: {error.message}") from error
        refs = [
            replace(ref, env=ref.env or fetched[ref.name].env) if ref.name in fetched else ref
            for ref in spec.credentials
        ]
        values = {name: c.value for name, c in fetched.items()}
        active.redactor = Redactor(values.values())
        redact = RunEnv(redact_env=tuple(ref.env_name for ref in refs)).to_environ()
        return replace(spec, env={**spec.env, **redact}, credentials=refs, credential_values=values)

    def _api_settings(self) -> dict[str, str]:
        """How the run process reaches the server: as this agent does."""
        settings = {"api_url": self.client.api_url}
        scheme, _, value = self.client.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer":
            settings["api_key"] = value
        elif scheme == "token":
            settings["api_token"] = value
        return settings

    def _run(self, active: ActiveRun, earlier: ActiveRun | None = None) -> None:
        if earlier is not None and earlier.thread is not None:
            earlier.thread.join()  # never two attempts of one run from this agent at once
        try:
            active.spec = self._with_credentials(active)
            status = self.infra.run(
                active.spec,
                on_log=lambda line: self._job_log(active.id, line),
                on_start=lambda handle: setattr(active, "handle", handle),
                cancel=active.cancel,
            )
        except InvalidRunSpec as error:  # it cannot run here as specified: no retry helps
            about_run(log, active.id).error("run %s: cannot be started: %s", active.id, error)
            self._release(active.id, "FAILED", f"cannot be started: {error}", active.lease)
            self._slot_freed.set()
            return
        except InfrastructureError as error:
            about_run(log, active.id).error(
                "run %s: the infrastructure failed: %s", active.id, error
            )
            status = ExitStatus(code=None, message=f"infrastructure error: {error}")
        except Exception:
            about_run(log, active.id).exception(
                "run %s: the agent failed while running it", active.id
            )
            status = ExitStatus(code=None, message="the agent failed while running it")
        try:
            self._finish(active, status)
        except Exception:
            about_run(log, active.id).exception("run %s: could not report how it ended", active.id)
        finally:
            forget = getattr(self.infra, "forget", None)
            if forget is not None and active.handle is not None:
                forget(active.handle)
            self._slot_freed.set()

    def _finish(self, active: ActiveRun, status: ExitStatus) -> None:
        """Report how the run ended when its engine could not (killed, crashed, stopped);
        nothing for a fenced attempt (the run is another attempt's, or the server's)."""
        if self._job_logs is not None:
            self._job_logs.flush(5.0)
        if active.fenced:
            about_run(log, active.id).info(
                "run %s: attempt %d stopped (%s); fenced, so nothing is reported",
                active.id,
                active.attempt,
                status.message,
            )
            self._drop_spool(active)
            return
        self._deliver_spool(active)
        if active.fenced:
            return
        run = self._until_answered(lambda: self.client.get_flow_run(active.id))
        state = run.state.type if run.state is not None else None
        if state in FINAL_STATE_TYPES or (state == "SCHEDULED" and not active.shutdown):
            about_run(log, active.id).info(
                "run %s: ended %s (%s)",
                active.id,
                run.state.name if run.state else state,
                status.message,
            )
            return
        lease = active.lease
        if active.shutdown:
            if state == "PENDING":
                self._release(active.id, "SCHEDULED", "handed back: its agent shut down", lease)
            else:
                why = "its agent shut down before it finished"
                self._release(active.id, "CANCELLED", why, lease)
        elif status.cancelled:
            self._release(active.id, "CANCELLED", f"cancelled: process {status.message}", lease)
        elif status.code is None:
            self._release(active.id, "CRASHED", status.message, lease)
        else:
            self._release(active.id, "CRASHED", f"its process {status.message}", lease)

    def _deliver_spool(self, active: ActiveRun) -> None:
        """Deliver what the run's process spooled (it could not reach the server), with the
        attempt's lease, however long the server stays away (until a cold stop)."""
        path = active.spool
        if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
            self._drop_spool(active)
            return
        scheme, _, value = self.client.headers.get("Authorization", "").partition(" ")
        reporter = HttpReporter(
            self.client.api_url,
            api_key=value if scheme == "Bearer" else None,
            token=value if scheme == "token" else None,
            lease=active.lease.wire() if active.lease else None,
            max_backoff=self.max_backoff,
        )
        count = reporter.replay(path)
        about_run(log, active.id).info(
            "run %s: delivering %d records its process spooled", active.id, count
        )
        while not reporter.drain(30.0):
            if self._cold.is_set():
                about_run(log, active.id).warning(
                    "run %s: stopped delivering its spooled records (%s)", active.id, path
                )
                reporter.close(0)
                return
            about_run(log, active.id).warning(
                "run %s: %d spooled records wait for the server", active.id, reporter.pending
            )
        reporter.close(0)
        if reporter.fenced:
            active.fenced = True
            about_run(log, active.id).info(
                "run %s: its spooled records are of a fenced attempt: dropped", active.id
            )
        self._drop_spool(active)

    @staticmethod
    def _drop_spool(active: ActiveRun) -> None:
        if active.spool:
            with contextlib.suppress(OSError):
                os.unlink(active.spool)

    def _until_answered(self, call: Callable[[], Any]) -> Any:
        """``call()`` again and again while the server does not answer (a cold stop ends it)."""
        delay, warned = 0.5, False
        while True:
            try:
                return call()
            except FlowsAPIError as error:
                if error.status not in (0, 502, 503, 504) or self._cold.is_set():
                    raise
                if not warned:
                    log.warning("the server does not answer (%s); trying again", error)
                    warned = True
            self._cold.wait(delay)
            delay = min(delay * 2, self.max_backoff)

    def _release(
        self, run_id: str, state: str, message: str, lease: RunLease | None = None
    ) -> None:
        try:
            after = self._until_answered(
                lambda: self.client.set_flow_run_state(run_id, state, message=message, lease=lease)
            )
        except FlowsAPIError as error:
            if error.error == "stale_attempt":
                about_run(log, run_id).info(
                    "run %s: not reported %s: %s", run_id, state.lower(), error.message
                )
                return
            if error.status in (404, 409):
                return  # it moved on its own meanwhile
            raise
        about_run(log, run_id).info(
            "run %s: %s (%s) -> %s", run_id, state.lower(), message, after.name
        )

    def _job_log(self, run_id: str, line: str) -> None:
        if self._job_logs is not None:
            with self._lock:
                active = self.active.get(run_id)
            if active is not None:
                line = active.redactor.redact(line)
            self._job_logs.put(log_line(20, line, "jupyter_flows.job", flow_run_id=run_id))

    def _report_infrastructure(self) -> None:
        """Post what the infrastructure says of runs not started yet as their pending
        reason ("pod pending: ImagePullBackOff"), once per change."""
        with self._lock:
            waiting = [a for a in self.active.values() if a.handle and not a.started_running]
        for active in waiting:
            assert active.handle is not None
            try:
                said = self.infra.status(active.handle)
            except InfrastructureError:
                continue
            if not said or said == active.reported_status:
                continue
            try:
                self.client.set_flow_run_state(
                    active.id, "PENDING", message=said, lease=active.lease
                )
                active.reported_status = said
            except FlowsAPIError as error:
                if error.status == 409:  # it is running: nothing to say any more
                    active.started_running = True

    # ---------------------------------------------------------------- helpers

    def _has_capacity(self) -> bool:
        return self.limit is None or len(self.active) < self.limit

    def _heartbeat_due(self, now: datetime) -> bool:
        last = self._last_heartbeat
        return last is None or now - last >= timedelta(seconds=self.heartbeat_interval)

    def _heartbeat_loop(self) -> None:
        # Also while shutting down warm: runs still going must not look dead, and a
        # cancellation must still reach them.
        failing = False
        while not self._done.wait(self.heartbeat_interval):
            try:
                self.heartbeat()
            except FlowsAPIError as error:
                if not failing:
                    log.warning("heartbeat failed: %s", error)
                failing = True
                continue
            if failing:  # the server is back: claim again now, not after the back-off
                log.info("the server answers again")
                self._retry_claim.set()
            failing = False

    def _back_off(self, error: FlowsAPIError) -> None:
        self.failures += 1
        delay = min(0.5 * 2 ** (self.failures - 1), self.max_backoff)
        log.warning("claim failed (%s); trying again in %.1f s", error, delay)
        self._retry_claim.clear()
        if not self.stopping:
            self._retry_claim.wait(delay)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        cold = self.stopping
        log.info(
            "received %s: %s shutdown",
            signal.Signals(signum).name,
            "cold" if cold else "warm (a second signal stops running work now)",
        )
        self.stop(cold=cold)
        if cold:
            with self._lock:
                for active in self.active.values():
                    active.shutdown = True
                    active.cancel.set()
        if self._claiming:
            self._claiming = False
            raise _StopClaiming()


def main_options(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse ``python -m jupyter_flows.agent`` options (the lean entry point)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m jupyter_flows.agent")
    parser.add_argument("--queue", default="default")
    parser.add_argument("--name", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--infra", default="local")
    parser.add_argument("--url", default=None)
    parser.add_argument("--heartbeat", type=float, default=10.0)
    parser.add_argument("--wait", type=float, default=10.0)
    parser.add_argument("--grace", type=float, default=30.0)
    return vars(parser.parse_args(argv))


def run_agent(
    *,
    queue: str = "default",
    name: str | None = None,
    limit: int | None = None,
    infra: Infrastructure | str = "local",
    url: str | None = None,
    api_key: str | None = None,
    token: str | None = None,
    heartbeat: float = 10.0,
    wait: float = 10.0,
    grace: float = 30.0,
) -> int:
    """Start an agent in this process and serve until it is stopped."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-7s | %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    client = FlowsClient(url, api_key, token)
    claim_client = FlowsClient(url, api_key, token)
    agent = Agent(
        client,
        queue,
        name=name,
        limit=limit,
        infrastructure=infra,
        heartbeat_interval=heartbeat,
        claim_wait=wait,
        grace=grace,
        claim_client=claim_client,
    )
    delay = 0.5
    while True:  # the server may not be up yet (the Jupyter server starts its agent early)
        try:
            agent.register()
            break
        except FlowsAPIError as error:
            if error.status not in (0, 502, 503, 504) or agent.stopping:
                raise
            log.warning("server not reachable yet (%s); trying again in %.1f s", error, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
    try:
        return agent.serve()
    finally:
        client.close()
        claim_client.close()
