"""Retention and backfills.

- ``deployments.retention_keep_runs``, ``retention_keep_days``,
  ``retention_keep_last_failure``: a deployment's own retention (None: the server's
  default).
- ``blob_candidates``: blobs a deleted row named, collected once unreferenced and past a
  grace period.
- ``backfills`` and ``flow_runs.backfill_id``: a backfill and the runs it made.
- ``ix_artifacts_task_run_id``: deleting task runs finds their artifacts by index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("retention_keep_runs", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("retention_keep_days", sa.Float(), nullable=True))
        batch.add_column(sa.Column("retention_keep_last_failure", sa.Boolean(), nullable=True))
    op.create_table(
        "blob_candidates",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("marked_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_blob_candidates")),
    )
    op.create_index(
        op.f("ix_blob_candidates_marked_at"), "blob_candidates", ["marked_at"], unique=False
    )
    op.create_table(
        "backfills",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", DATETIME, nullable=True),
        sa.Column("window_end", DATETIME, nullable=True),
        sa.Column("items", JSON, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created", DATETIME, nullable=False),
        sa.Column("cancelled_at", DATETIME, nullable=True),
        sa.CheckConstraint(
            "max_concurrent IS NULL OR max_concurrent >= 1",
            name=op.f("ck_backfills_max_concurrent"),
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_backfills_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfills")),
        sa.UniqueConstraint("deployment_id", "key", name=op.f("uq_backfills_deployment_id_key")),
    )
    op.create_index(
        op.f("ix_backfills_deployment_id"), "backfills", ["deployment_id"], unique=False
    )
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("backfill_id", sa.String(length=36), nullable=True))
        batch.create_index(op.f("ix_flow_runs_backfill_id"), ["backfill_id"])
        batch.create_foreign_key(
            op.f("fk_flow_runs_backfill_id_backfills"),
            "backfills",
            ["backfill_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(op.f("ix_artifacts_task_run_id"), "artifacts", ["task_run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_artifacts_task_run_id"), table_name="artifacts")
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_constraint(op.f("fk_flow_runs_backfill_id_backfills"), type_="foreignkey")
        batch.drop_index(op.f("ix_flow_runs_backfill_id"))
        batch.drop_column("backfill_id")
    op.drop_index(op.f("ix_backfills_deployment_id"), table_name="backfills")
    op.drop_table("backfills")
    op.drop_index(op.f("ix_blob_candidates_marked_at"), table_name="blob_candidates")
    op.drop_table("blob_candidates")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("retention_keep_last_failure")
        batch.drop_column("retention_keep_days")
        batch.drop_column("retention_keep_runs")
