"""The throwaway PostgreSQL fixture really starts a server the store can use."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str):
    engine = sa.create_engine(postgres_url)
    yield engine
    engine.dispose()


def test_answers_a_sqlalchemy_query(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        version = conn.execute(sa.text("SHOW server_version_num")).scalar_one()
        listen = conn.execute(sa.text("SHOW listen_addresses")).scalar_one()

    assert int(version) >= 120000
    assert listen == "127.0.0.1"  # loopback only


def test_round_trips_rows_and_skip_locked(engine: sa.Engine) -> None:
    """The claim query the agent will use (FOR UPDATE SKIP LOCKED) works on this server."""
    runs = sa.Table(
        "fixture_runs",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
    )
    runs.metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(
                runs.insert(), [{"id": 1, "state": "Scheduled"}, {"id": 2, "state": "Scheduled"}]
            )

        claim = (
            sa.select(runs.c.id)
            .where(runs.c.state == "Scheduled")
            .order_by(runs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with engine.connect() as first, engine.connect() as second:
            first_tx, second_tx = first.begin(), second.begin()
            first_claim = first.execute(claim).scalar_one()
            second_claim = second.execute(claim).scalar_one()
            first_tx.rollback()
            second_tx.rollback()

        assert (first_claim, second_claim) == (1, 2)
    finally:
        runs.metadata.drop_all(engine)
