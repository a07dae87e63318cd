"""Columns the REST API contract needs: log lines' client ids, subflow parents, entrypoints.

- ``log_lines.client_id``: the id a client gave a log line; unique, so a resent batch
  inserts nothing twice (``INSERT … ON CONFLICT (client_id) DO NOTHING``).
- ``flow_runs.parent_task_run_id``: the task run a subflow was called from. No foreign key:
  a reporter's batch may carry the subflow run before the task run that called it.
- ``flow_versions.entrypoint``: where the flow's code starts (``path.py:function``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("log_lines", sa.Column("client_id", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_log_lines_client_id"), "log_lines", ["client_id"], unique=True)
    op.add_column("flow_runs", sa.Column("parent_task_run_id", sa.String(length=36), nullable=True))
    op.add_column("flow_versions", sa.Column("entrypoint", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("flow_versions", "entrypoint")
    op.drop_column("flow_runs", "parent_task_run_id")
    op.drop_index(op.f("ix_log_lines_client_id"), table_name="log_lines")
    op.drop_column("log_lines", "client_id")
