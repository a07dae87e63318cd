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
    """The request contradicts the current state (e.g. an illegal state transition)."""

    status = 409
    code = "conflict"
