"""Attempts with leases, and agents bound to the key that registered them.

- ``flow_runs.attempt``, ``lease_token``, ``lease_expires_at``: each claim of a run makes
  a new attempt with a fresh token; what an older attempt sends is refused, and the reaper
  crashes runs whose lease was not renewed in time (``store.leases``).
- ``agents.api_key_id``: the agent key that registered the agent; only it may heartbeat,
  claim and report as that agent.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("lease_token", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", DATETIME, nullable=True))
        batch.create_index(op.f("ix_flow_runs_lease_expires_at"), ["lease_expires_at"])
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("api_key_id", sa.String(length=36), nullable=True))
        batch.create_index(op.f("ix_agents_api_key_id"), ["api_key_id"])
        batch.create_foreign_key(
            op.f("fk_agents_api_key_id_api_keys"),
            "api_keys",
            ["api_key_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Runs already claimed keep the attempt their history shows (one Pending per claim).
    op.execute(
        "UPDATE flow_runs SET attempt = (SELECT count(*) FROM flow_run_states"
        " WHERE flow_run_states.run_id = flow_runs.id AND flow_run_states.type = 'PENDING')"
        " WHERE agent_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_constraint(op.f("fk_agents_api_key_id_api_keys"), type_="foreignkey")
        batch.drop_index(op.f("ix_agents_api_key_id"))
        batch.drop_column("api_key_id")
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_index(op.f("ix_flow_runs_lease_expires_at"))
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_token")
        batch.drop_column("attempt")
