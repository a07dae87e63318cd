"""Initial schema: every table of the store.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 05:48:46.154649
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Column types spelled out here, not imported from the models: a migration must keep
#: meaning what it meant when it was written.
DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
STATE_TYPE = sa.String(length=16)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.Column("last_used_at", DATETIME, nullable=True),
        sa.Column("revoked_at", DATETIME, nullable=True),
        sa.CheckConstraint("role IN ('user', 'agent')", name=op.f("ck_api_keys_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "flow_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("latest_version_id", sa.String(length=64), nullable=True),
        sa.Column("created", DATETIME, nullable=False),
        sa.Column("updated", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_groups")),
        sa.UniqueConstraint("project", "name", name=op.f("uq_flow_groups_project_name")),
    )
    op.create_table(
        "work_queues",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tag_filter", JSON, nullable=False),
        sa.Column("concurrency_limit", sa.Integer(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.Column("updated", DATETIME, nullable=False),
        sa.CheckConstraint(
            "concurrency_limit IS NULL OR concurrency_limit >= 0",
            name=op.f("ck_work_queues_concurrency_limit"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_work_queues_name")),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("work_queue_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_heartbeat_at", DATETIME, nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["work_queue_id"],
            ["work_queues.id"],
            name=op.f("fk_agents_work_queue_id_work_queues"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("name", name=op.f("uq_agents_name")),
    )
    op.create_index(op.f("ix_agents_work_queue_id"), "agents", ["work_queue_id"])

    op.create_table(
        "flow_versions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("flow_group_id", sa.String(length=36), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("predecessor_id", sa.String(length=64), nullable=True),
        sa.Column("content", JSON, nullable=False),
        sa.Column("changes", JSON, nullable=True),
        sa.Column("created", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_group_id"],
            ["flow_groups.id"],
            name=op.f("fk_flow_versions_flow_group_id_flow_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["predecessor_id"],
            ["flow_versions.id"],
            name=op.f("fk_flow_versions_predecessor_id_flow_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_versions")),
        sa.UniqueConstraint(
            "flow_group_id",
            "version_number",
            name=op.f("uq_flow_versions_flow_group_id_version_number"),
        ),
    )
    op.create_index(op.f("ix_flow_versions_flow_group_id"), "flow_versions", ["flow_group_id"])

    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("flow_group_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("version_policy", sa.String(length=16), nullable=False),
        sa.Column("pinned_version_id", sa.String(length=64), nullable=True),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("work_queue_id", sa.String(length=36), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.Column("updated", DATETIME, nullable=False),
        sa.CheckConstraint(
            "(version_policy = 'latest' AND pinned_version_id IS NULL)"
            " OR (version_policy = 'pinned' AND pinned_version_id IS NOT NULL)",
            name=op.f("ck_deployments_version_policy"),
        ),
        sa.ForeignKeyConstraint(
            ["flow_group_id"],
            ["flow_groups.id"],
            name=op.f("fk_deployments_flow_group_id_flow_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pinned_version_id"],
            ["flow_versions.id"],
            name=op.f("fk_deployments_pinned_version_id_flow_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["work_queue_id"],
            ["work_queues.id"],
            name=op.f("fk_deployments_work_queue_id_work_queues"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint(
            "flow_group_id", "name", name=op.f("uq_deployments_flow_group_id_name")
        ),
    )
    op.create_index(op.f("ix_deployments_flow_group_id"), "deployments", ["flow_group_id"])

    op.create_table(
        "flow_runs",
        sa.Column("flow_group_id", sa.String(length=36), nullable=False),
        sa.Column("flow_version_id", sa.String(length=64), nullable=True),
        sa.Column("deployment_id", sa.String(length=36), nullable=True),
        sa.Column("work_queue_id", sa.String(length=36), nullable=True),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("parent_flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("retry_delay_seconds", sa.Float(), nullable=False),
        sa.Column("state_type", STATE_TYPE, nullable=True),
        sa.Column("state_name", sa.String(length=64), nullable=True),
        sa.Column("state_message", sa.Text(), nullable=True),
        sa.Column("state_timestamp", DATETIME, nullable=True),
        sa.Column("state_seq", sa.Integer(), nullable=False),
        sa.Column("expected_start_time", DATETIME, nullable=True),
        sa.Column("next_scheduled_start_time", DATETIME, nullable=True),
        sa.Column("start_time", DATETIME, nullable=True),
        sa.Column("end_time", DATETIME, nullable=True),
        sa.Column("total_run_time", sa.Float(), nullable=False),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.Column("updated", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_flow_runs_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_flow_runs_deployment_id_deployments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["flow_group_id"],
            ["flow_groups.id"],
            name=op.f("fk_flow_runs_flow_group_id_flow_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flow_version_id"],
            ["flow_versions.id"],
            name=op.f("fk_flow_runs_flow_version_id_flow_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_flow_runs_parent_flow_run_id_flow_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_queue_id"],
            ["work_queues.id"],
            name=op.f("fk_flow_runs_work_queue_id_work_queues"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_runs")),
        sa.UniqueConstraint(
            "flow_group_id",
            "idempotency_key",
            name=op.f("uq_flow_runs_flow_group_id_idempotency_key"),
        ),
    )
    op.create_index(op.f("ix_flow_runs_deployment_id"), "flow_runs", ["deployment_id"])
    op.create_index(op.f("ix_flow_runs_expected_start_time"), "flow_runs", ["expected_start_time"])
    op.create_index(op.f("ix_flow_runs_flow_group_id"), "flow_runs", ["flow_group_id"])
    op.create_index(op.f("ix_flow_runs_parent_flow_run_id"), "flow_runs", ["parent_flow_run_id"])
    op.create_index(op.f("ix_flow_runs_state_type"), "flow_runs", ["state_type"])

    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=True),
        sa.Column("anchor_date", DATETIME, nullable=True),
        sa.Column("cron", sa.String(length=120), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.CheckConstraint(
            "(kind = 'interval' AND interval_seconds > 0 AND anchor_date IS NOT NULL)"
            " OR (kind = 'cron' AND cron IS NOT NULL)",
            name=op.f("ck_schedules_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_schedules_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_index(op.f("ix_schedules_deployment_id"), "schedules", ["deployment_id"])

    op.create_table(
        "flow_run_states",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", STATE_TYPE, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("timestamp", DATETIME, nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["flow_runs.id"],
            name=op.f("fk_flow_run_states_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_run_states")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_flow_run_states_run_id_seq")),
    )
    op.create_table(
        "task_runs",
        sa.Column("flow_run_id", sa.String(length=36), nullable=False),
        sa.Column("task_key", sa.String(length=200), nullable=False),
        sa.Column("dynamic_key", sa.String(length=200), nullable=False),
        sa.Column("cache_key", sa.String(length=200), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("retry_delay_seconds", sa.Float(), nullable=False),
        sa.Column("state_type", STATE_TYPE, nullable=True),
        sa.Column("state_name", sa.String(length=64), nullable=True),
        sa.Column("state_message", sa.Text(), nullable=True),
        sa.Column("state_timestamp", DATETIME, nullable=True),
        sa.Column("state_seq", sa.Integer(), nullable=False),
        sa.Column("expected_start_time", DATETIME, nullable=True),
        sa.Column("next_scheduled_start_time", DATETIME, nullable=True),
        sa.Column("start_time", DATETIME, nullable=True),
        sa.Column("end_time", DATETIME, nullable=True),
        sa.Column("total_run_time", sa.Float(), nullable=False),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.Column("updated", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_task_runs_flow_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_runs")),
        sa.UniqueConstraint(
            "flow_run_id",
            "task_key",
            "dynamic_key",
            name=op.f("uq_task_runs_flow_run_id_task_key_dynamic_key"),
        ),
    )
    op.create_index(op.f("ix_task_runs_expected_start_time"), "task_runs", ["expected_start_time"])
    op.create_index(op.f("ix_task_runs_flow_run_id"), "task_runs", ["flow_run_id"])
    op.create_index(op.f("ix_task_runs_state_type"), "task_runs", ["state_type"])

    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("flow_run_id", sa.String(length=36), nullable=False),
        sa.Column("task_run_id", sa.String(length=36), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.CheckConstraint("type IN ('notebook', 'table', 'link')", name=op.f("ck_artifacts_type")),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_artifacts_flow_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_run_id"],
            ["task_runs.id"],
            name=op.f("fk_artifacts_task_run_id_task_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    op.create_index(op.f("ix_artifacts_flow_run_id"), "artifacts", ["flow_run_id"])

    op.create_table(
        "log_lines",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("flow_run_id", sa.String(length=36), nullable=False),
        sa.Column("task_run_id", sa.String(length=36), nullable=True),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("timestamp", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_log_lines_flow_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_run_id"],
            ["task_runs.id"],
            name=op.f("fk_log_lines_task_run_id_task_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_lines")),
    )
    op.create_index(
        op.f("ix_log_lines_flow_run_id_timestamp_id"),
        "log_lines",
        ["flow_run_id", "timestamp", "id"],
    )
    op.create_index(op.f("ix_log_lines_task_run_id"), "log_lines", ["task_run_id"])

    op.create_table(
        "task_run_states",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", STATE_TYPE, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("timestamp", DATETIME, nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["task_runs.id"],
            name=op.f("fk_task_run_states_run_id_task_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_run_states")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_task_run_states_run_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("task_run_states")
    op.drop_table("log_lines")
    op.drop_table("artifacts")
    op.drop_table("task_runs")
    op.drop_table("flow_run_states")
    op.drop_table("schedules")
    op.drop_table("flow_runs")
    op.drop_table("deployments")
    op.drop_table("flow_versions")
    op.drop_table("agents")
    op.drop_table("work_queues")
    op.drop_table("flow_groups")
    op.drop_table("api_keys")
