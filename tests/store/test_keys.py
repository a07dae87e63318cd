"""API keys: only a hash is stored; verify, revoke, last-used."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.store import InvalidInput, NotFound, keys
from jupyter_flows.store.models import ApiKey
from tests.store.factories import T0


def test_token_is_shown_once_and_only_its_hash_is_stored(session: Session) -> None:
    key, token = keys.create_api_key(session, "laptop", "user")
    session.commit()
    assert token.startswith("jf_") and len(token) > 40
    assert key.key_hash == keys.hash_token(token) and len(key.key_hash) == 64
    assert key.prefix == token[:10]
    stored = session.execute(sa.select(ApiKey.__table__)).one()._asdict()
    assert token not in {str(v) for v in stored.values()}


def test_verify(session: Session) -> None:
    key, token = keys.create_api_key(session, "agent-1", "agent")
    session.commit()
    found = keys.verify_api_key(session, token, now=T0)
    assert found is not None and (found.id, found.role) == (key.id, "agent")
    for wrong in ["", token[:-1], token + "x", "jf_" + "a" * 43, token.upper()]:
        assert keys.verify_api_key(session, wrong) is None


def test_revoked_keys_stop_working(session: Session) -> None:
    key, token = keys.create_api_key(session, "old", "user")
    other, other_token = keys.create_api_key(session, "new", "user")
    assert keys.revoke_api_key(session, key.id, now=T0)
    assert not keys.revoke_api_key(session, key.id)  # already revoked
    session.commit()
    assert keys.verify_api_key(session, token) is None
    assert keys.verify_api_key(session, other_token) is not None
    assert [k.id for k in keys.read_api_keys(session)] == [other.id]
    assert {k.id for k in keys.read_api_keys(session, include_revoked=True)} == {key.id, other.id}
    with pytest.raises(NotFound):
        keys.revoke_api_key(session, "nope")


def test_last_used_is_recorded_at_most_once_a_minute(session: Session) -> None:
    key, token = keys.create_api_key(session, "k", "user")
    assert key.last_used_at is None
    keys.verify_api_key(session, token, now=T0)
    keys.verify_api_key(session, token, now=T0 + timedelta(seconds=30))
    session.commit()
    session.expire_all()
    assert keys.read_api_key(session, key.id).last_used_at == T0
    keys.verify_api_key(session, token, now=T0 + timedelta(seconds=61))
    session.commit()
    session.expire_all()
    assert keys.read_api_key(session, key.id).last_used_at == T0 + timedelta(seconds=61)


def test_roles(session: Session) -> None:
    with pytest.raises(InvalidInput, match="role"):
        keys.create_api_key(session, "x", "admin")


def test_tokens_are_unique(session: Session) -> None:
    tokens = {keys.create_api_key(session, f"k{i}", "user")[1] for i in range(20)}
    assert len(tokens) == 20
