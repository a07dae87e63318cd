"""Credentials: created, listed, deleted and re-keyed by users; read, as values, only by
the attempt of a run that references them.

No answer of a user's request carries a value. ``run_credentials`` hands a claimed run's
values to the holder of its current lease (the claim's agent), and only the credentials the
run's configuration names (``run_config.credentials``: names, or ``{"name", "env"}``).
``run_redactor`` is the server's own guard: what an attempt sends is redacted with the
values of its run before it is stored (``service/ingest.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.credentials import (
    Cipher,
    CredentialError,
    Keyring,
    WrongKey,
    check_name,
    check_value,
    env_name_of,
    references,
)
from jupyter_flows.engine.redaction import Redactor
from jupyter_flows.server.errors import Conflict, CredentialsKeyError, InvalidInput, NotFound
from jupyter_flows.server.service import iso, page, run_states
from jupyter_flows.store.models import Credential, FlowRun, FlowVersion, NotificationDestination
from jupyter_flows.store.types import utcnow

if TYPE_CHECKING:
    from jupyter_flows.server.wire import CreateCredential, Lease


def credential_out(credential: Credential) -> dict[str, Any]:
    return {
        "name": credential.name,
        "env": env_name_of(credential.name, credential.env),
        "created": iso(credential.created),
        "updated": iso(credential.updated),
    }


def _cipher(keyring: Keyring) -> Cipher:
    try:
        return keyring.cipher()
    except CredentialError as error:
        raise CredentialsKeyError(str(error)) from None


def create_credential(session: Session, keyring: Keyring, body: CreateCredential) -> dict[str, Any]:
    try:
        check_name(body.name)
        check_value(body.value)
        env_name_of(body.name, body.env)
    except CredentialError as error:
        raise InvalidInput(str(error)) from None
    ciphertext = _cipher(keyring).encrypt(body.value)
    existing = session.scalar(sa.select(Credential).where(Credential.name == body.name))
    if existing is not None:
        if not body.replace:
            raise Conflict(f"credential {body.name!r} exists (replace it with replace: true)")
        existing.ciphertext = ciphertext
        existing.env = body.env
        existing.updated = utcnow()
        session.flush()
        return {**credential_out(existing), "created_now": False}
    credential = Credential(name=body.name, env=body.env, ciphertext=ciphertext)
    session.add(credential)
    session.flush()
    return {**credential_out(credential), "created_now": True}


def list_credentials(session: Session, *, limit: int, offset: int) -> dict[str, Any]:
    total = session.scalar(sa.select(sa.func.count()).select_from(Credential)) or 0
    rows = session.scalars(
        sa.select(Credential).order_by(Credential.name).limit(limit).offset(offset)
    )
    return page([credential_out(c) for c in rows], total, limit, offset)


def delete_credential(session: Session, name: str) -> None:
    credential = session.scalar(sa.select(Credential).where(Credential.name == name))
    if credential is None:
        raise NotFound(f"No credential {name!r}")
    user = session.scalar(
        sa.select(NotificationDestination.name).where(
            NotificationDestination.credential_id == credential.id
        )
    )
    if user is not None:
        raise Conflict(
            f"credential {name!r} holds the URL of notification destination {user!r}: "
            "delete the destination instead"
        )
    session.delete(credential)


def reencrypt_all(session: Session, keyring: Keyring, new: Cipher) -> dict[str, Any]:
    """Every value decrypted with the current key and encrypted with ``new`` (one
    transaction: all or none). A value the current key cannot read stops it."""
    old = _cipher(keyring)
    rows = list(session.scalars(sa.select(Credential).with_for_update()))
    try:
        for row in rows:
            row.ciphertext = old.rotate(row.ciphertext, new, row.name)
    except WrongKey as error:
        raise CredentialsKeyError(str(error)) from None
    session.flush()
    return {"rotated": len(rows)}


# ------------------------------------------------------------------ a run's credentials


def references_of(session: Session, flow_run_id: str) -> list[dict[str, str | None]]:
    """The credentials of this store the run's flow version references: ``[{"name",
    "env"}]`` (``credentials.references``; one that names a ``secret`` is a Kubernetes
    Secret of the cluster, read there, not here)."""
    query = (
        sa.select(FlowVersion.content)
        .join(FlowRun, FlowRun.flow_version_id == FlowVersion.id)
        .where(FlowRun.id == flow_run_id)
    )
    return [
        {"name": ref["name"], "env": ref.get("env")}
        for ref in references(session.scalar(query))
        if not ref.get("secret")
    ]


def _values(session: Session, keyring: Keyring, names: Iterable[str]) -> dict[str, Credential]:
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = session.scalars(sa.select(Credential).where(Credential.name.in_(wanted)))
    return {row.name: row for row in rows}


def run_credentials(
    session: Session, keyring: Keyring, flow_run_id: str, lease: Lease
) -> dict[str, Any]:
    """The values of the credentials ``flow_run_id`` references, for its current attempt
    (its lease; else 409 stale_attempt), and the names of those this store lacks."""
    if lease.flow_run_id != flow_run_id:
        raise InvalidInput("the lease is not for this flow run")
    run_states.check_lease(session, lease)
    refs = references_of(session, flow_run_id)
    rows = _values(session, keyring, (ref["name"] or "" for ref in refs))
    missing = [ref["name"] for ref in refs if ref["name"] not in rows]
    cipher = _cipher(keyring)
    try:
        items = [
            {
                "name": row.name,
                "env": ref["env"] or env_name_of(row.name, row.env),
                "value": cipher.decrypt(row.ciphertext, row.name),
            }
            for ref in refs
            if ref["name"] in rows
            for row in [rows[str(ref["name"])]]
        ]
    except WrongKey as error:
        raise CredentialsKeyError(str(error)) from None
    # What this store does not hold may be the infrastructure's own (an agent's source,
    # a Secret of the cluster): the agent decides, and names what nobody has.
    return {"items": items, "missing": missing}


def run_redactor(session: Session, keyring: Keyring, flow_run_id: str) -> Redactor:
    """What the server masks in what the run's attempt sends: its credentials' values."""
    refs = references_of(session, flow_run_id)
    if not refs:
        return Redactor(())
    rows = _values(session, keyring, (ref["name"] or "" for ref in refs))
    if not rows:
        return Redactor(())
    cipher = _cipher(keyring)
    try:
        return Redactor(cipher.decrypt(row.ciphertext, row.name) for row in rows.values())
    except WrongKey as error:
        raise CredentialsKeyError(str(error)) from None


def redacted_lines(session: Session, keyring: Keyring, lines: list[Any]) -> list[Any]:
    """Log lines (wire ``CreateLog``) with the values of their runs' credentials masked:
    the server's guard on job logs, which the agent has already redacted."""
    out = list(lines)
    for run_id in {line.flow_run_id for line in lines}:
        if not references_of(session, run_id):
            continue
        redactor = run_redactor(session, keyring, run_id)
        if not redactor:
            continue
        out = [
            line.model_copy(update={"message": redactor.redact(line.message)})
            if line.flow_run_id == run_id
            else line
            for line in out
        ]
    return out
