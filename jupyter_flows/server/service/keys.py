"""API keys of a team server: created (the token shown once), listed, revoked, verified."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from jupyter_flows.server.errors import NotFound
from jupyter_flows.server.service import iso, page
from jupyter_flows.store import keys as store_keys
from jupyter_flows.store.models import ApiKey

if TYPE_CHECKING:
    from jupyter_flows.server.wire import CreateApiKey


def key_out(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "prefix": key.prefix,
        "created": iso(key.created),
        "last_used_at": iso(key.last_used_at),
    }


def create_key(session: Session, body: CreateApiKey) -> dict[str, Any]:
    key, token = store_keys.create_api_key(session, body.name, body.role)
    return {**key_out(key), "token": token}


def list_keys(session: Session, *, limit: int, offset: int) -> dict[str, Any]:
    keys = store_keys.read_api_keys(session)
    return page([key_out(k) for k in keys[offset : offset + limit]], len(keys), limit, offset)


def revoke_key(session: Session, key_id: str) -> None:
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound(f"No API key {key_id!r}")
    store_keys.revoke_api_key(session, key_id)


def authenticate(session: Session, token: str) -> dict[str, str] | None:
    """The key ``token`` belongs to (id, name, role), or None if unknown or revoked."""
    key = store_keys.verify_api_key(session, token)
    if key is None:
        return None
    return {"id": key.id, "name": key.name, "role": key.role}
