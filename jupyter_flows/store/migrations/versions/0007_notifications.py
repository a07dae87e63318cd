"""Notifications and automations: destinations, policies, the outbox, deliveries and their
attempts; automations and their firings.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
STATE_TYPE = sa.String(length=16)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ID = sa.String(length=36)
NAME = sa.String(length=200)


def upgrade() -> None:
    op.create_table(
        "notification_destinations",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("credential_id", ID, nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("dead_since", DATETIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created", DATETIME, nullable=False),
        sa.Column("updated", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_notification_destinations_credential_id_credentials"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_destinations")),
        sa.UniqueConstraint("name", name=op.f("uq_notification_destinations_name")),
    )
    op.create_index(
        op.f("ix_notification_destinations_credential_id"),
        "notification_destinations",
        ["credential_id"],
    )
    op.create_table(
        "automations",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("deployment_id", ID, nullable=False),
        sa.Column("trigger", JSON, nullable=False),
        sa.Column("action", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.Column("updated", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_automations_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automations")),
        sa.UniqueConstraint("name", name=op.f("uq_automations_name")),
    )
    op.create_index(op.f("ix_automations_deployment_id"), "automations", ["deployment_id"])
    op.create_table(
        "notification_policies",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("deployment_id", ID, nullable=True),
        sa.Column("flow_group_id", ID, nullable=True),
        sa.Column("events", JSON, nullable=False),
        sa.Column("destination_ids", JSON, nullable=False),
        sa.Column("running_after_seconds", sa.Float(), nullable=True),
        sa.Column("cooldown_seconds", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.Column("updated", DATETIME, nullable=False),
        sa.CheckConstraint(
            "(deployment_id IS NULL) <> (flow_group_id IS NULL)",
            name=op.f("ck_notification_policies_deployment_or_flow"),
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_notification_policies_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flow_group_id"],
            ["flow_groups.id"],
            name=op.f("fk_notification_policies_flow_group_id_flow_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_notification_policies_name")),
    )
    op.create_index(
        op.f("ix_notification_policies_deployment_id"), "notification_policies", ["deployment_id"]
    )
    op.create_index(
        op.f("ix_notification_policies_flow_group_id"), "notification_policies", ["flow_group_id"]
    )
    op.create_table(
        "notification_outbox",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("flow_run_id", ID, nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("state_type", STATE_TYPE, nullable=True),
        sa.Column("state_name", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("occurred_at", DATETIME, nullable=False),
        sa.Column("dedup_key", sa.String(length=120), nullable=True),
        sa.Column("processed_at", DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_notification_outbox_flow_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_notification_outbox_dedup_key")),
    )
    op.create_index(
        op.f("ix_notification_outbox_processed_at"), "notification_outbox", ["processed_at"]
    )
    # Every column referencing flow_runs or the outbox is indexed: deleting runs (retention)
    # looks up the rows referencing each, a table scan per row without an index.
    op.create_index(
        op.f("ix_notification_outbox_flow_run_id"), "notification_outbox", ["flow_run_id"]
    )
    op.create_table(
        "automation_firings",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("automation_id", ID, nullable=False),
        sa.Column("outbox_id", BIGID, nullable=True),
        sa.Column("flow_run_id", ID, nullable=True),
        sa.Column("fired_at", DATETIME, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_firings_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_automation_firings_flow_run_id_flow_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["notification_outbox.id"],
            name=op.f("fk_automation_firings_outbox_id_notification_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_firings")),
    )
    op.create_index(
        op.f("ix_automation_firings_automation_id"), "automation_firings", ["automation_id"]
    )
    op.create_index(
        op.f("ix_automation_firings_flow_run_id"), "automation_firings", ["flow_run_id"]
    )
    op.create_index(op.f("ix_automation_firings_outbox_id"), "automation_firings", ["outbox_id"])
    op.create_table(
        "notification_deliveries",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("outbox_id", BIGID, nullable=True),
        sa.Column("policy_id", ID, nullable=True),
        sa.Column("destination_id", ID, nullable=False),
        sa.Column("flow_run_id", ID, nullable=True),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", DATETIME, nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", DATETIME, nullable=True),
        sa.Column("sent_at", DATETIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["notification_destinations.id"],
            name=op.f("fk_notification_deliveries_destination_id_notification_destinations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_notification_deliveries_flow_run_id_flow_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["notification_outbox.id"],
            name=op.f("fk_notification_deliveries_outbox_id_notification_outbox"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["notification_policies.id"],
            name=op.f("fk_notification_deliveries_policy_id_notification_policies"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
    )
    op.create_index(
        op.f("ix_notification_deliveries_destination_id"),
        "notification_deliveries",
        ["destination_id"],
    )
    op.create_index(
        op.f("ix_notification_deliveries_flow_run_id"), "notification_deliveries", ["flow_run_id"]
    )
    op.create_index(
        op.f("ix_notification_deliveries_outbox_id"), "notification_deliveries", ["outbox_id"]
    )
    op.create_index(
        op.f("ix_notification_deliveries_status_next_attempt_at"),
        "notification_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "notification_attempts",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("delivery_id", BIGID, nullable=True),
        sa.Column("destination_id", ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", DATETIME, nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sender", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["notification_deliveries.id"],
            name=op.f("fk_notification_attempts_delivery_id_notification_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["notification_destinations.id"],
            name=op.f("fk_notification_attempts_destination_id_notification_destinations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_attempts")),
    )
    op.create_index(
        op.f("ix_notification_attempts_delivery_id"), "notification_attempts", ["delivery_id"]
    )
    op.create_index(
        op.f("ix_notification_attempts_destination_id_started_at"),
        "notification_attempts",
        ["destination_id", "started_at"],
    )


def downgrade() -> None:
    for table in (
        "notification_attempts",
        "notification_deliveries",
        "automation_firings",
        "notification_outbox",
        "notification_policies",
        "automations",
        "notification_destinations",
    ):
        op.drop_table(table)
