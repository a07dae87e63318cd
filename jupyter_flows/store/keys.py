"""API keys: random tokens shown once; only their sha256 is stored.

A token is ``jf_`` + 43 URL-safe characters (256 random bits). Verification looks the key up
by the token's hash: the database compares hashes, never tokens, so the lookup's timing
tells an attacker nothing about a valid token; the final check uses ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.store.errors import InvalidInput, NotFound
from jupyter_flows.store.models import API_KEY_ROLES, ApiKey
from jupyter_flows.store.types import utcnow

TOKEN_PREFIX = "jf_"
#: ``last_used_at`` is written at most this often per key: verifying is on every request,
#: and a write per request would serialise readers behind SQLite's write lock.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_key(session: Session, name: str, role: str) -> tuple[ApiKey, str]:
    """Create a key; return the row and the token (the only time the token is seen)."""
    if role not in API_KEY_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(API_KEY_ROLES)}, not {role!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, role=role, prefix=token[:10], key_hash=hash_token(token))
    session.add(key)
    session.flush()
    return key, token


def verify_api_key(session: Session, token: str, *, now: datetime | None = None) -> ApiKey | None:
    """The key ``token`` belongs to, if it exists and is not revoked; else None.

    May write ``last_used_at`` (at most once a minute per key): on SQLite call it in a
    write session (``Database.session()``), whose BEGIN takes the write lock up front.
    """
    if not isinstance(token, str) or not token:
        return None
    digest = hash_token(token)
    key = session.scalars(sa.select(ApiKey).where(ApiKey.key_hash == digest)).one_or_none()
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    if key.revoked_at is not None:
        return None
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        session.flush()
    return key


def revoke_api_key(session: Session, key_id: str, *, now: datetime | None = None) -> bool:
    """Revoke a key for good; False if it was already revoked."""
    key = read_api_key(session, key_id)
    if key.revoked_at is not None:
        return False
    key.revoked_at = now or utcnow()
    session.flush()
    return True


def read_api_key(session: Session, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("API key", key_id)
    return key


def read_api_keys(session: Session, *, include_revoked: bool = False) -> list[ApiKey]:
    query = sa.select(ApiKey).order_by(ApiKey.created, ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))
