"""Where flow runs run: the interface, its registry, and one module per kind."""

from jupyter_flows.agent.infra.base import (
    BUILTIN,
    CredentialRef,
    ExitStatus,
    Handle,
    HandleNotFound,
    Infrastructure,
    InfrastructureError,
    InfrastructureUnavailable,
    InvalidRunSpec,
    RunSpec,
    WaitTimeout,
    available_infrastructures,
    infrastructure_class,
    infrastructure_from_name,
    register_infrastructure,
)

__all__ = [
    "BUILTIN",
    "CredentialRef",
    "ExitStatus",
    "Handle",
    "HandleNotFound",
    "Infrastructure",
    "InfrastructureError",
    "InfrastructureUnavailable",
    "InvalidRunSpec",
    "RunSpec",
    "WaitTimeout",
    "available_infrastructures",
    "infrastructure_class",
    "infrastructure_from_name",
    "register_infrastructure",
]
