"""The ORM: one class per table, typed with SQLAlchemy 2 ``Mapped[...]``.

Rows are plain records; the rules about them (content hashing, legal state changes, the
exactly-once claim) live in the query modules beside this one. A change here needs a new
Alembic revision in ``migrations/versions`` (the migration test compares the two).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from jupyter_flows.engine.states import StateType
from jupyter_flows.store.types import JSONType, UTCDateTime, new_id, utcnow

#: Deterministic constraint names, so migrations can refer to them on both dialects.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Short string columns. VARCHAR lengths are enforced on PostgreSQL only.
NAME = sa.String(200)
ID = sa.String(36)
HASH = sa.String(64)
# On SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: A state type, stored as its name in a VARCHAR (no database enum: adding a type later
#: needs no ALTER TYPE).
STATE_TYPE = sa.Enum(
    StateType, native_enum=False, length=16, validate_strings=True, create_constraint=False
)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class Timestamped:
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# ------------------------------------------------------------------ flows and deployments


class FlowGroup(Timestamped, Base):
    """All versions of one flow name inside a project."""

    __tablename__ = "flow_groups"
    __table_args__ = (sa.UniqueConstraint("project", "name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project: Mapped[str] = mapped_column(NAME, default="default")
    name: Mapped[str] = mapped_column(NAME)
    description: Mapped[str | None] = mapped_column(sa.Text)
    # The most recently registered version (re-registering old content makes it latest
    # again). No foreign key: flow_versions points here too, and versions are never deleted.
    latest_version_id: Mapped[str | None] = mapped_column(HASH)


class FlowVersion(Base):
    """Immutable. ``id`` is the content hash (see ``hashing.flow_version_id``)."""

    __tablename__ = "flow_versions"
    __table_args__ = (sa.UniqueConstraint("flow_group_id", "version_number"),)

    id: Mapped[str] = mapped_column(HASH, primary_key=True)
    flow_group_id: Mapped[str] = mapped_column(
        sa.ForeignKey("flow_groups.id", ondelete="CASCADE"), index=True
    )
    #: 1, 2, 3… per flow group, for people; the id is what the system uses.
    version_number: Mapped[int] = mapped_column(sa.Integer)
    predecessor_id: Mapped[str | None] = mapped_column(sa.ForeignKey("flow_versions.id"))
    #: The normalised content the id was computed from.
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    #: What changed from the predecessor (``hashing.diff_contents``); None for the first.
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    #: Where the flow's code starts (``path.py:function``); not part of the content hash.
    entrypoint: Mapped[str | None] = mapped_column(sa.Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WorkQueue(Timestamped, Base):
    __tablename__ = "work_queues"
    __table_args__ = (
        sa.CheckConstraint(
            "concurrency_limit IS NULL OR concurrency_limit >= 0", name="concurrency_limit"
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    #: A run is served only if its tags include every tag listed here.
    tag_filter: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: Most runs of this queue in Pending, Running or Cancelling at once; None = no limit.
    concurrency_limit: Mapped[int | None] = mapped_column(sa.Integer)
    paused: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class Deployment(Timestamped, Base):
    __tablename__ = "deployments"
    __table_args__ = (
        sa.UniqueConstraint("flow_group_id", "name"),
        sa.CheckConstraint(
            "(version_policy = 'latest' AND pinned_version_id IS NULL)"
            " OR (version_policy = 'pinned' AND pinned_version_id IS NOT NULL)",
            name="version_policy",
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    flow_group_id: Mapped[str] = mapped_column(
        sa.ForeignKey("flow_groups.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(NAME)
    description: Mapped[str | None] = mapped_column(sa.Text)
    version_policy: Mapped[str] = mapped_column(sa.String(16), default="latest")
    pinned_version_id: Mapped[str | None] = mapped_column(sa.ForeignKey("flow_versions.id"))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    work_queue_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("work_queues.id", ondelete="SET NULL")
    )
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    paused: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    #: Retention of this deployment's finished runs (``store.retention``); None in a field
    #: means the server's default for it.
    retention_keep_runs: Mapped[int | None] = mapped_column(sa.Integer)
    retention_keep_days: Mapped[float | None] = mapped_column(sa.Float)
    retention_keep_last_failure: Mapped[bool | None] = mapped_column(sa.Boolean)


class Schedule(Base):
    """When a deployment runs: an interval from an anchor, or a cron line in a timezone."""

    __tablename__ = "schedules"
    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'interval' AND interval_seconds > 0 AND anchor_date IS NOT NULL)"
            " OR (kind = 'cron' AND cron IS NOT NULL)",
            name="kind",
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    interval_seconds: Mapped[float | None] = mapped_column(sa.Float)
    anchor_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cron: Mapped[str | None] = mapped_column(sa.String(120))
    #: IANA name; cron fields and interval day boundaries are read in this zone.
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    work_queue_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("work_queues.id", ondelete="SET NULL"), index=True
    )
    #: "online" or "offline" (set by the agent on a clean stop, or by the reaper).
    status: Mapped[str] = mapped_column(sa.String(16), default="online")
    last_heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The agent API key that registered it: only that key may act as this agent. None for
    #: an agent registered with a user key or the server's token.
    api_key_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("api_keys.id", ondelete="SET NULL"), index=True
    )
    #: Where its runs go, as the agent describes it ("kubernetes, namespace flows").
    infrastructure: Mapped[str | None] = mapped_column(NAME)


# ------------------------------------------------------------------ runs


class RunMixin(Timestamped):
    """Columns flow runs and task runs share: the current state and the timings.

    Only ``runs.propose_state`` writes the ``state_*`` columns and timings.
    """

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: How many more attempts a failed run gets, and the wait before each.
    retries: Mapped[int] = mapped_column(sa.Integer, default=0)
    retry_delay_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)

    state_type: Mapped[StateType | None] = mapped_column(STATE_TYPE, index=True)
    state_name: Mapped[str | None] = mapped_column(sa.String(64))
    state_message: Mapped[str | None] = mapped_column(sa.Text)
    state_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Number of states so far; the guard of every state change (optimistic concurrency).
    state_seq: Mapped[int] = mapped_column(sa.Integer, default=0)

    expected_start_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    next_scheduled_start_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Seconds spent in Running, over all attempts.
    total_run_time: Mapped[float] = mapped_column(sa.Float, default=0.0)
    #: Times the run entered Running.
    run_count: Mapped[int] = mapped_column(sa.Integer, default=0)


class FlowRun(RunMixin, Base):
    __tablename__ = "flow_runs"
    __table_args__ = (
        sa.UniqueConstraint("flow_group_id", "idempotency_key"),
        # The claim query: a queue's due Scheduled runs, oldest first (revision 0002).
        sa.Index("ix_flow_runs_claim", "work_queue_id", "state_type", "next_scheduled_start_time"),
    )

    flow_group_id: Mapped[str] = mapped_column(
        sa.ForeignKey("flow_groups.id", ondelete="CASCADE"), index=True
    )
    flow_version_id: Mapped[str | None] = mapped_column(sa.ForeignKey("flow_versions.id"))
    deployment_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="SET NULL"), index=True
    )
    work_queue_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("work_queues.id", ondelete="SET NULL")
    )
    agent_id: Mapped[str | None] = mapped_column(sa.ForeignKey("agents.id", ondelete="SET NULL"))
    #: Where the last attempt ran: its agent's infrastructure, copied at claim (the agent
    #: may later be reconfigured or gone).
    infrastructure: Mapped[str | None] = mapped_column(NAME)
    #: The run this one is a subflow of.
    parent_flow_run_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("flow_runs.id", ondelete="SET NULL"), index=True
    )
    #: The task run a subflow was called from. No foreign key: a reporter's batch may carry
    #: the subflow run before the task run that called it.
    parent_task_run_id: Mapped[str | None] = mapped_column(ID)
    #: Unique per flow group: a retried create, or one schedule slot, makes one run.
    idempotency_key: Mapped[str | None] = mapped_column(NAME)
    #: The attempt's lease (``store.leases``): each claim makes attempt ``attempt`` with a
    #: fresh ``lease_token``; every state, log batch and heartbeat of that attempt carries
    #: both, and those of an older attempt are refused. The holder (``agent_id``) renews it
    #: by heartbeat until ``lease_expires_at``; the reaper crashes runs whose lease expired.
    #: A run sent back to its queue loses its lease (token None): nobody holds it.
    attempt: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    lease_token: Mapped[str | None] = mapped_column(sa.String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    #: The backfill that made this run (``store.backfills``), if one did.
    backfill_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("backfills.id", ondelete="SET NULL"), index=True
    )


class TaskRun(RunMixin, Base):
    __tablename__ = "task_runs"
    __table_args__ = (sa.UniqueConstraint("flow_run_id", "task_key", "dynamic_key"),)

    flow_run_id: Mapped[str] = mapped_column(
        sa.ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    #: The task's key in the flow version's content.
    task_key: Mapped[str] = mapped_column(NAME)
    #: Tells apart calls of one task in one run (a map index, a call count).
    dynamic_key: Mapped[str] = mapped_column(NAME, default="0")
    cache_key: Mapped[str | None] = mapped_column(sa.String(200))


class StateHistoryMixin:
    """One row per state a run has been in, numbered from 1 by ``seq``."""

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(sa.Integer)
    type: Mapped[StateType] = mapped_column(STATE_TYPE)
    name: Mapped[str] = mapped_column(sa.String(64))
    message: Mapped[str | None] = mapped_column(sa.Text)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Extra facts about the state: scheduled time, pending reason, agent.
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (sa.UniqueConstraint("run_id", "seq"),)


class FlowRunState(StateHistoryMixin, Base):
    __tablename__ = "flow_run_states"

    run_id: Mapped[str] = mapped_column(sa.ForeignKey("flow_runs.id", ondelete="CASCADE"))


class TaskRunState(StateHistoryMixin, Base):
    __tablename__ = "task_run_states"

    run_id: Mapped[str] = mapped_column(sa.ForeignKey("task_runs.id", ondelete="CASCADE"))


# ------------------------------------------------------------------ logs, artifacts, keys


class LogLine(Base):
    __tablename__ = "log_lines"
    __table_args__ = (sa.Index(None, "flow_run_id", "timestamp", "id"),)

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(sa.ForeignKey("flow_runs.id", ondelete="CASCADE"))
    task_run_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("task_runs.id", ondelete="CASCADE"), index=True
    )
    #: A `logging` level number (10 DEBUG … 50 CRITICAL).
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    #: The logger's name.
    name: Mapped[str] = mapped_column(NAME, default="")
    message: Mapped[str] = mapped_column(sa.Text)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The id the client gave the line: a resent batch inserts nothing twice.
    client_id: Mapped[str | None] = mapped_column(sa.String(64), index=True, unique=True)


ARTIFACT_TYPES = ("notebook", "table", "link")


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (sa.CheckConstraint("type IN ('notebook', 'table', 'link')", name="type"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    flow_run_id: Mapped[str] = mapped_column(
        sa.ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    #: Indexed: deleting task runs (retention) looks their artifacts up by it.
    task_run_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("task_runs.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(sa.String(16))
    #: An optional name the user gave it ("report", "metrics").
    key: Mapped[str | None] = mapped_column(NAME)
    description: Mapped[str | None] = mapped_column(sa.Text)
    #: notebook: {"uri": …}; table: {"columns": […], "rows": [[…]]}; link: {"url": …}.
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


API_KEY_ROLES = ("user", "agent")


class ApiKey(Base):
    """Only the sha256 of the token is stored; the token is shown once, at creation."""

    __tablename__ = "api_keys"
    __table_args__ = (sa.CheckConstraint("role IN ('user', 'agent')", name="role"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    role: Mapped[str] = mapped_column(sa.String(16))
    #: The token's first characters, to tell keys apart in a list.
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(HASH, unique=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AgentLogLine(Base):
    """A line an agent logged about itself (claims, launches, errors), apart from run logs."""

    __tablename__ = "agent_log_lines"
    __table_args__ = (sa.Index(None, "agent_id", "timestamp", "id"),)

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(sa.ForeignKey("agents.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    name: Mapped[str] = mapped_column(NAME, default="")
    message: Mapped[str] = mapped_column(sa.Text)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())


class Credential(Timestamped, Base):
    """A named secret: only its encrypted value is stored (``jupyter_flows.credentials``)."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    #: The variable a run sees it in; None: the name upper-cased, dashes as underscores.
    env: Mapped[str | None] = mapped_column(NAME)
    #: A Fernet token: the value encrypted with the server's credentials key.
    ciphertext: Mapped[str] = mapped_column(sa.Text)


# ------------------------------------------------------------------ retention and backfills


class BlobCandidate(Base):
    """A blob that a deleted row referenced: collected once unreferenced and old enough.

    ``marked_at`` starts the grace period (``store.retention.collect_blobs``); a blob marked
    again (another row naming it was deleted) starts it again.
    """

    __tablename__ = "blob_candidates"

    digest: Mapped[str] = mapped_column(HASH, primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Backfill(Base):
    """The runs a deployment's schedule would have made in a past window (or one per value
    of a parameter), made as its concurrency cap allows (``store.backfills``)."""

    __tablename__ = "backfills"
    __table_args__ = (
        sa.UniqueConstraint("deployment_id", "key"),
        sa.CheckConstraint("max_concurrent IS NULL OR max_concurrent >= 1", name="max_concurrent"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    #: The sha256 of what was asked: the same backfill asked again is this one.
    key: Mapped[str] = mapped_column(HASH)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: One entry per run to make, in order: ``{"key", "slot", "parameters"}``.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    #: ``len(items)``, for the query of backfills with runs still to make.
    size: Mapped[int] = mapped_column(sa.Integer)
    #: How many of ``items`` have been made (or found made already).
    next_index: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: Most of its runs not yet finished at once; None = all at once.
    max_concurrent: Mapped[int | None] = mapped_column(sa.Integer)
    #: "running" or "cancelled" (a cancelled backfill makes no more runs).
    status: Mapped[str] = mapped_column(sa.String(16), default="running")
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# ------------------------------------------------------------------ notifications, automations

#: Run events a notification policy or an automation may react to: a flow run's state
#: names, "Late" (a Scheduled run not started on time) and "Running" (a run still running
#: after a policy's duration).
NOTIFY_EVENTS = ("Failed", "Crashed", "TimedOut", "Completed", "Late", "Running")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "suppressed")


class NotificationDestination(Timestamped, Base):
    """A named target of notifications; its apprise URL is a credential (encrypted)."""

    __tablename__ = "notification_destinations"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    #: The credential that holds the apprise URL (its value is never answered).
    credential_id: Mapped[str] = mapped_column(
        sa.ForeignKey("credentials.id", ondelete="RESTRICT"), index=True
    )
    #: The URL's scheme (mailto, json, slack, …), shown in lists.
    scheme: Mapped[str] = mapped_column(sa.String(32))
    #: Failed deliveries in a row; at the delivery service's limit the destination is dead.
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: When it was marked dead (nothing is sent to it until a test or an update revives it).
    dead_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class NotificationPolicy(Timestamped, Base):
    """Which events of a deployment's runs (or of every deployment of a flow, as a default)
    go to which destinations, with a cool-down."""

    __tablename__ = "notification_policies"
    __table_args__ = (
        sa.CheckConstraint(
            "(deployment_id IS NULL) <> (flow_group_id IS NULL)", name="deployment_or_flow"
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    deployment_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    flow_group_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("flow_groups.id", ondelete="CASCADE"), index=True
    )
    #: Among NOTIFY_EVENTS.
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: Destination ids.
    destination_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: "Running": a run still running this many seconds after it started.
    running_after_seconds: Mapped[float | None] = mapped_column(sa.Float)
    #: At most one message per this many seconds (per policy and deployment); 0: no limit.
    cooldown_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class OutboxEvent(Base):
    """One event of a flow run to react to, written in the transaction of the change that
    caused it; the delivery service turns it into deliveries and automation firings."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    #: Indexed, as every column referencing flow_runs: deleting runs (retention) looks up
    #: their referencing rows, a table scan per run without it.
    flow_run_id: Mapped[str] = mapped_column(
        sa.ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    #: Among NOTIFY_EVENTS.
    event: Mapped[str] = mapped_column(sa.String(32))
    state_type: Mapped[StateType | None] = mapped_column(STATE_TYPE)
    state_name: Mapped[str | None] = mapped_column(sa.String(64))
    message: Mapped[str | None] = mapped_column(sa.Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Set for an event that must be written once whoever sees it ("Running" after D).
    dedup_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    #: When a delivery service expanded it; NULL: still to do (the claim's index).
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class NotificationDelivery(Base):
    """One message to one destination, with its retries."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (sa.Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("notification_outbox.id", ondelete="SET NULL"), index=True
    )
    policy_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("notification_policies.id", ondelete="SET NULL")
    )
    destination_id: Mapped[str] = mapped_column(
        sa.ForeignKey("notification_destinations.id", ondelete="CASCADE"), index=True
    )
    flow_run_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("flow_runs.id", ondelete="SET NULL"), index=True
    )
    event: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    #: Among DELIVERY_STATUSES.
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The server sending it and until when its claim holds (a crashed sender's claim
    #: expires and another server sends it).
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryAttempt(Base):
    """One try to send a delivery (or a destination's test), as the API and CLI show it."""

    __tablename__ = "notification_attempts"
    __table_args__ = (sa.Index(None, "destination_id", "started_at"),)

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("notification_deliveries.id", ondelete="CASCADE"), index=True
    )
    destination_id: Mapped[str] = mapped_column(
        sa.ForeignKey("notification_destinations.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(sa.Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[float] = mapped_column(sa.Float)
    ok: Mapped[bool] = mapped_column(sa.Boolean)
    error: Mapped[str | None] = mapped_column(sa.Text)
    sender: Mapped[str | None] = mapped_column(sa.String(64))


class Automation(Timestamped, Base):
    """When EVENT (``trigger``) of a deployment's runs, then ACTION (``action``)."""

    __tablename__ = "automations"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    deployment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    #: {"event": "state", "states": [...]} | {"event": "consecutive_failures", "count": N}
    #: | {"event": "late"}
    trigger: Mapped[dict[str, Any]] = mapped_column(JSONType)
    #: {"type": "notify", "destinations": [...]} | {"type": "pause"} | {"type": "cancel"}
    #: | {"type": "run_deployment", "deployment_id": …, "parameters": {…}}
    action: Mapped[dict[str, Any]] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class AutomationFiring(Base):
    """One time an automation fired, and what its action did."""

    __tablename__ = "automation_firings"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    automation_id: Mapped[str] = mapped_column(
        sa.ForeignKey("automations.id", ondelete="CASCADE"), index=True
    )
    outbox_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("notification_outbox.id", ondelete="SET NULL"), index=True
    )
    flow_run_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("flow_runs.id", ondelete="SET NULL"), index=True
    )
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(sa.Boolean)
    #: What the action did (the run it started, …) or why it failed.
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
