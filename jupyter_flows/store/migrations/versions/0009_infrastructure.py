"""Where runs go: the agent's infrastructure, and the run's, copied from its agent at claim.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: a plain ADD COLUMN on both databases, no table copy.
    op.add_column("agents", sa.Column("infrastructure", sa.String(length=200), nullable=True))
    op.add_column("flow_runs", sa.Column("infrastructure", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_column("infrastructure")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("infrastructure")
