"""Alembic environment: migrations run only through ``Database.upgrade()``.

That function passes an open connection, already inside a transaction (and, on PostgreSQL,
holding an advisory lock), so concurrent openers of one database upgrade it once.
"""

from alembic import context

from jupyter_flows.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run these migrations through jupyter_flows.store.Database.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
