"""Index for the agents' claim query: a queue's due Scheduled runs, oldest first.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_flow_runs_claim",
        "flow_runs",
        ["work_queue_id", "state_type", "next_scheduled_start_time"],
    )


def downgrade() -> None:
    op.drop_index("ix_flow_runs_claim", table_name="flow_runs")
