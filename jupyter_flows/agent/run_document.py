"""The run document: what a run's process needs to run one claimed flow run.

One type, made three ways: from the claim answer an agent got
(:meth:`RunDocument.from_claim`), from the run process's environment where the agent wrote
it (:meth:`RunDocument.from_run_env`), or fetched by id through the client when it was too
large for an environment or nobody handed it over (:meth:`RunDocument.fetch`). Whichever
way it came, it holds the same fields with the same meaning: the run's id, name and
parameters, the run config, and the flow version as ``GET flow-versions/{id}`` gives it.

It imports neither pydantic nor the client: a run's process reads it before anything else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_flows.spec.flow_kind import FlowKind, kind_of

if TYPE_CHECKING:
    from jupyter_flows.client import FlowsClient
    from jupyter_flows.client_models import ClaimedRun
    from jupyter_flows.engine.run_env import RunEnv
    from jupyter_flows.spec.resource_spec import ResourceSpec


@dataclass(frozen=True)
class RunFlowVersion:
    """The flow version a run runs: its content (``FlowSpec.to_content``) and entrypoint."""

    id: str
    flow_id: str | None = None
    version_number: int | None = None
    entrypoint: str | None = None
    content: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, version: Any) -> RunFlowVersion:
        """From the client's model of a version, or its JSON."""
        get = version.get if isinstance(version, Mapping) else lambda name: getattr(version, name)
        return cls(
            id=get("id"),
            flow_id=get("flow_id"),
            version_number=get("version_number"),
            entrypoint=get("entrypoint"),
            content=dict(get("content") or {}),
        )

    @property
    def kind(self) -> FlowKind:
        """A module's @flow, a notebook or a script: what the run process loads."""
        return kind_of(self.content, self.entrypoint)


@dataclass(frozen=True)
class RunDocument:
    """A claimed flow run and what running it needs."""

    id: str
    name: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    #: The version's run config: working_dir, env, python, resources, credentials…
    run_config: dict[str, Any] = field(default_factory=dict)
    flow_version: RunFlowVersion | None = None
    #: The run's tags (a deployment's runs carry its tags: ``environment:strict``).
    tags: list[str] = field(default_factory=list)

    @classmethod
    def from_claim(cls, claimed: ClaimedRun) -> RunDocument:
        """What an agent's claim answered."""
        version = claimed.flow_version
        return cls(
            id=claimed.id,
            name=claimed.name,
            parameters=dict(claimed.parameters),
            run_config=dict(claimed.run_config),
            flow_version=RunFlowVersion.of(version) if version is not None else None,
            tags=list(claimed.tags),
        )

    @classmethod
    def fetch(cls, client: FlowsClient, run_id: str) -> RunDocument:
        """The run and its version, read from the server by id."""
        run = client.get_flow_run(run_id)
        version = client.get_flow_version(run.flow_version_id) if run.flow_version_id else None
        content = version.content if version is not None else {}
        run_config = content.get("run_config")  # what the claim answers as run_config
        return cls(
            id=run.id,
            name=run.name,
            parameters=dict(run.parameters),
            run_config=dict(run_config) if isinstance(run_config, Mapping) else {},
            flow_version=RunFlowVersion.of(version) if version is not None else None,
            tags=list(run.tags),
        )

    @classmethod
    def from_run_env(cls, run_env: RunEnv) -> RunDocument | None:
        """The document an agent handed over in the environment; None if it did not."""
        return cls.from_json(run_env.run_document) if run_env.run_document else None

    @classmethod
    def from_json(cls, text: str) -> RunDocument:
        data = json.loads(text)
        version = data.get("flow_version")
        return cls(
            id=data["id"],
            name=data.get("name"),
            parameters=dict(data.get("parameters") or {}),
            run_config=dict(data.get("run_config") or {}),
            flow_version=RunFlowVersion.of(version) if version else None,
            tags=list(data.get("tags") or []),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @property
    def resource_spec(self) -> ResourceSpec | None:
        """The environment the version was registered with, if it was."""
        from jupyter_flows.spec.resource_spec import ResourceSpec

        content = self.flow_version.content if self.flow_version is not None else None
        return ResourceSpec.of_content(content)

    @property
    def kind(self) -> FlowKind:
        """What the run process loads; a run without a version is taken for a module's."""
        return self.flow_version.kind if self.flow_version is not None else FlowKind.MODULE
