"""Agents' own log lines (what an agent process logs, apart from its runs' logs).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Column types spelled out, as in 0001: a migration keeps meaning what it meant.
DATETIME = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agent_log_lines",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("timestamp", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_log_lines_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_log_lines")),
    )
    op.create_index(
        op.f("ix_agent_log_lines_agent_id_timestamp_id"),
        "agent_log_lines",
        ["agent_id", "timestamp", "id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_log_lines_agent_id_timestamp_id"), table_name="agent_log_lines")
    op.drop_table("agent_log_lines")
