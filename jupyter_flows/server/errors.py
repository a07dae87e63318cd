"""Refusals the service layer raises; the base handler turns them into 4xx JSON.

They carry no HTTP machinery so the service layer stays testable without a server:
the status code is just data the handler reads.
"""

from __future__ import annotations

from typing import ClassVar


class FlowsError(Exception):
    """A request the platform refuses. Nothing was changed."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(FlowsError):
    """Malformed or ill-typed input (bad JSON, unknown parameter, wrong type)."""

    status = 400
    code = "invalid_input"


class NotFound(FlowsError):
    """An unknown id or resource."""

    status = 404
    code = "not_found"


class Conflict(FlowsError):
    """The request clashes with the current data (a name taken, a stale expected state)."""

    status = 409
    code = "conflict"


class InvalidParameters(FlowsError):
    """A run's parameters do not fit the flow version's parameter schema."""

    status = 400
    code = "invalid_parameters"


class Unauthorized(FlowsError):
    """No credentials, or credentials the server does not know."""

    status = 401
    code = "unauthorized"


class Forbidden(FlowsError):
    """Known credentials that may not do this (an agent key on a user endpoint)."""

    status = 403
    code = "forbidden"


class TooLarge(FlowsError):
    """A request body over the server's limit."""

    status = 413
    code = "too_large"


class BlobMissing(FlowsError):
    """An artifact names a blob that is not in the server's storage."""

    status = 404
    code = "blob_not_found"


class BlobCorrupt(FlowsError):
    """A blob whose bytes do not match its digest (or are not what the artifact says)."""

    status = 500
    code = "blob_corrupt"


class StorageUnavailable(FlowsError):
    """The blob storage could not be reached or did not answer in time."""

    status = 503
    code = "storage_unavailable"


class CredentialsKeyError(FlowsError):
    """The server's credentials key cannot decrypt what is stored, or is not usable."""

    status = 500
    code = "credentials_key"
