"""The orchestration server's store: SQLAlchemy 2 models, Alembic migrations, queries.

SQLite by default (one WAL file in the Jupyter data dir), PostgreSQL by URL. Each module
holds plain functions taking a ``Session``, one module per group of entities:

- ``flows``: flow groups and content-addressed flow versions (``hashing`` makes the ids)
- ``deployments``: deployments and their schedules
- ``runs``: creating flow and task runs, and ``propose_states`` (``propose_state`` for one),
  the one way a state changes
- ``run_queries``: reading and filtering runs
- ``queues``: work queues, agents, and the agents' exactly-once claim
- ``logs``, ``artifacts``, ``keys``: log lines, run artifacts, API keys

Only ``jupyter_flows.engine.states`` is imported from the rest of the package.
"""

from jupyter_flows.store.db import Database, default_url
from jupyter_flows.store.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    StateConflict,
    StoreError,
)

__all__ = [
    "Conflict",
    "Database",
    "InvalidInput",
    "NotFound",
    "StateConflict",
    "StoreError",
    "default_url",
]
