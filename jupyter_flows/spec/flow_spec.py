"""FlowSpec: the one description of a flow, whatever its code is.

Every converter produces it (``notebooks/`` for notebooks, selected cells and scripts,
:mod:`jupyter_flows.spec.python_flows` for a module of ``@flow`` functions), and everything
that registers or runs a flow reads it: :meth:`FlowSpec.to_content` is the ``content`` of
``POST flows``, and :meth:`FlowSpec.from_content` turns a registered content back into a
FlowSpec for the server (registering), and for the agent and its run process (which code
to load, on which engine). Its :attr:`~FlowSpec.kind` says what the code is: a module of
``@flow`` functions, a notebook, or a script, the last two run cell by cell by a notebook
engine.

``jupyter flows inspect --json`` prints :meth:`FlowSpec.to_document`; ``docs/notebooks.md``
documents every field and ``schema/flow-spec.schema.json`` is its JSON Schema (a test keeps
the two in step).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupyter_flows.spec.flow_kind import (
    FlowKind,
    FlowSpecError,
    kind_of,
    notebook_entrypoint,
    parse_entrypoint,
)

__all__ = [
    "FlowKind",
    "FlowSpec",
    "FlowSpecError",
    "kind_of",
    "notebook_entrypoint",
    "parse_entrypoint",
]

FORMAT: Literal["jupyter-flows/flow-spec"] = "jupyter-flows/flow-spec"
FORMAT_VERSION: Literal[1] = 1

#: A notebook engine's name (``kernel``, ``tasks``, or one another package registers in
#: ``notebooks.engines.NOTEBOOK_ENGINES``), or ``flow`` for a module's @flow.
Engine = str
SourceKind = Literal["notebook", "percent", "script", "module"]
TaskKind = Literal["code", "parameters", "flow-task"]

_KIND_OF_SOURCE: dict[str, FlowKind] = {
    "module": FlowKind.MODULE,
    "notebook": FlowKind.NOTEBOOK,
    "percent": FlowKind.SCRIPT,
    "script": FlowKind.SCRIPT,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceInfo(_Model):
    path: str = Field(description="The file as it was given (or a name for an in-memory one).")
    kind: SourceKind = Field(
        description="notebook (.ipynb), percent (a `# %%` script), script (a plain .py, cells "
        "split at blank lines) or module (a .py of @flow functions)."
    )
    cells: int = Field(description="How many cells the file has, markdown included.")


class TaskSpec(_Model):
    key: str = Field(description="Unique, stable id of the task within the flow.")
    name: str = Field(description="flow:name tag, else the heading above, else `cell N`.")
    kind: TaskKind = Field(
        description="parameters: the papermill parameters cell; flow-task: a @task of a module."
    )
    cell_ids: list[str] = Field(description="The cells this task runs, in order.")
    cell_indices: list[int] = Field(description="Their positions in the file (0-based).")
    source: str = Field(description="The cells' source, joined by a blank line.")
    code_hash: str = Field(description="sha256 of `source`.")
    reads: list[str] = Field(
        default_factory=list,
        description="Names the task reads from earlier tasks (builtins left out), including "
        "those read by the functions it uses.",
    )
    defines: list[str] = Field(default_factory=list, description="Names the task (re)binds.")
    mutates: list[str] = Field(
        default_factory=list, description="Names from earlier tasks that it changes in place."
    )


class EdgeSpec(_Model):
    source: str = Field(description="Upstream task key (always earlier in the file).")
    target: str = Field(description="Downstream task key.")
    kind: Literal["data", "order", "after"] = Field(
        default="data",
        description="data: values or state flow along it (the DAG a person reads); order: the "
        "target only waits, because it changes what the source read; after: only a flow:after "
        "tag asked for it.",
    )
    names: list[str] = Field(
        default_factory=list, description="The names whose values flow along the edge."
    )
    state: list[str] = Field(
        default_factory=list,
        description="State outside Python names the target reads from the source: "
        "`file:PATH`, `random:numpy`, `magic:NAME`, `store:NAME`, `env:NAME`, `module:NAME`.",
    )
    after: bool = Field(default=False, description="A flow:after tag asked for this edge.")
    mutated: list[str] = Field(
        default_factory=list,
        description="Names (or state) the target changes after the source read them: the "
        "target must wait, so that the source sees the value before the change.",
    )


class ParameterSpec(_Model):
    name: str
    type: str = Field(description="`int`, `list[str]`, `any`…: the annotation or the default's.")
    required: bool = Field(description="True when the cell gives no value (`x: int`).")
    default: Any = Field(default=None, description="The literal default (JSON).")
    default_expression: str | None = Field(
        default=None, description="A default that is computed when the cell runs."
    )
    description: str | None = Field(default=None, description="The trailing comment.")


class WarningSpec(_Model):
    code: str = Field(
        description="undefined_name, defined_later, defined_in_skipped_cell, "
        "multiple_definitions, opaque_definitions, syntax_error, unpicklable, parameters, "
        "unknown_tag, merge, no_code, flow_magic."
    )
    message: str
    tasks: list[str] = Field(default_factory=list)
    cells: list[int] = Field(default_factory=list, description="Cell indices concerned.")
    names: list[str] = Field(default_factory=list)


class AddedTask(_Model):
    task: str = Field(description="The task added to the selection.")
    cell_ids: list[str]
    cell_indices: list[int]
    needed_by: list[str] = Field(description="The tasks of the selection that need it.")
    names: list[str] = Field(description="What they need from it.")


class Selection(_Model):
    cells: list[int] = Field(description="The cells asked for (indices).")
    tasks: list[str] = Field(description="Their tasks.")
    added: list[AddedTask] = Field(description="Tasks added because the selection needs them.")


class FlowSpec(_Model):
    """A notebook, cells or script as a flow: tasks, edges, parameters, warnings."""

    format: Literal["jupyter-flows/flow-spec"] = FORMAT
    format_version: Literal[1] = FORMAT_VERSION
    name: str = Field(description="The flow's default name (the file's stem).")
    source: SourceInfo
    engine: Engine = Field(
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="kernel: the cells run in order in one kernel; tasks: each task runs on "
        "the task runner with the names it needs passed in; flow: a module's @flow function; "
        "any other name: a notebook engine another package registers.",
    )
    tasks: list[TaskSpec]
    edges: list[EdgeSpec]
    parameters: list[ParameterSpec]
    parameter_schema: dict[str, Any] = Field(description="JSON Schema of the run parameters.")
    selection: Selection | None = None
    warnings: list[WarningSpec]
    entrypoint: str | None = Field(
        default=None, description="`file.py:attr` for a module's @flow (engine flow)."
    )
    task_runner: str | dict[str, Any] | None = Field(
        default=None, description="The task runner the registration content names."
    )

    def task(self, key: str) -> TaskSpec:
        for task in self.tasks:
            if task.key == key:
                return task
        raise KeyError(key)

    def upstream(self, key: str) -> list[str]:
        return [e.source for e in self.edges if e.target == key]

    @property
    def kind(self) -> FlowKind:
        """A module of @flows, a notebook or a script (what its source is)."""
        return _KIND_OF_SOURCE[self.source.kind]

    @property
    def notebook_engine(self) -> str | None:
        """The notebook engine that runs its cells; None for a module's @flow."""
        return None if self.kind is FlowKind.MODULE else self.engine

    def to_content(
        self,
        *,
        run_config: dict[str, Any] | None = None,
        resource_spec_hash: str | None = None,
        resource_spec: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``content`` of ``POST flows`` (docs/rest-api.md).

        Tasks keep what identifies their code (key, name, kind, cell ids, code hash), not
        the source itself, which travels as the flow's code blob; cell indices are left out
        so inserting a markdown cell does not make a new version. Edges keep the names they
        carry (an ordering edge carries none).
        """
        tasks = []
        for task in self.tasks:
            item: dict[str, Any] = {"key": task.key, "name": task.name, "code_hash": task.code_hash}
            if task.kind != "flow-task":
                item["kind"] = task.kind
                item["cell_ids"] = list(task.cell_ids)
            tasks.append(item)
        return {
            "kind": self.kind.value,
            "tasks": tasks,
            "edges": [
                {"source": e.source, "target": e.target, "names": list(e.names)} for e in self.edges
            ],
            "parameter_schema": dict(self.parameter_schema),
            "task_runner": self.task_runner,
            "run_config": dict(run_config or {}),
            "resource_spec_hash": resource_spec_hash,
        } | ({} if resource_spec is None else {"resource_spec": dict(resource_spec)})

    @classmethod
    def from_content(
        cls,
        content: Mapping[str, Any],
        *,
        entrypoint: str | None = None,
        name: str | None = None,
    ) -> FlowSpec:
        """The FlowSpec of a registered ``content`` (a flow version's, as the API gives it).

        What a content does not keep stays empty: the tasks' sources and cell indices (the
        code travels as the flow's blob or module), parameter details beyond the schema,
        warnings. ``entrypoint`` (the version's) names the file: ``path.py:attr`` for a
        module, ``path#sha256=<digest>`` for a notebook or script. ``name``: the flow's
        name (default: the file's stem). Raises FlowSpecError for a content that does not
        describe a flow.
        """
        kind = kind_of(content, entrypoint)
        runner = content.get("task_runner")
        engine: str = "flow"
        if kind is not FlowKind.MODULE:
            named = runner.get("engine") if isinstance(runner, Mapping) else None
            if not isinstance(named, str) or named in ("", "flow"):
                raise FlowSpecError(
                    f"a {kind.value} flow's task_runner names its notebook engine "
                    f'({{"engine": "kernel"}} or {{"engine": "tasks", …}}), not {runner!r}'
                )
            engine = named
        path = _path_of(entrypoint, kind)
        source_kind = "module" if kind is FlowKind.MODULE else kind.value
        try:
            return cls(
                name=name or _stem(path) or "flow",
                source=SourceInfo(path=path or "", kind=source_kind, cells=0),
                engine=engine,
                tasks=[_task_of(task, kind) for task in content.get("tasks") or []],
                edges=[_edge_of(edge) for edge in content.get("edges") or []],
                parameters=[],
                parameter_schema=dict(content.get("parameter_schema") or {}),
                warnings=[],
                entrypoint=entrypoint if kind is FlowKind.MODULE else None,
                task_runner=runner,
            )
        except (ValidationError, TypeError, KeyError) as error:
            raise FlowSpecError(f"the content does not describe a flow: {error}") from None

    def to_document(self) -> dict[str, Any]:
        """The JSON document ``jupyter flows inspect --json`` prints."""
        return self.model_dump(mode="json")

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_document(), indent=indent, ensure_ascii=False) + "\n"


def code_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def document_schema() -> dict[str, Any]:
    """The JSON Schema of the inspect document (checked in as schema/flow-spec.schema.json)."""
    schema = FlowSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _path_of(entrypoint: str | None, kind: FlowKind) -> str | None:
    if kind is FlowKind.MODULE:
        return (entrypoint or "").rpartition(":")[0] or None
    located = parse_entrypoint(entrypoint)
    return located[0] if located else None


def _stem(path: str | None) -> str | None:
    if not path:
        return None
    return path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0] or None


def _task_of(task: Mapping[str, Any], kind: FlowKind) -> TaskSpec:
    default: TaskKind = "flow-task" if kind is FlowKind.MODULE else "code"
    task_kind = task.get("kind")
    return TaskSpec(
        key=task["key"],
        name=task.get("name") or task["key"],
        kind=task_kind if task_kind in get_args(TaskKind) else default,
        cell_ids=list(task.get("cell_ids") or []),
        cell_indices=[],
        source="",
        code_hash=task.get("code_hash") or "",
    )


def _edge_of(edge: Mapping[str, Any]) -> EdgeSpec:
    return EdgeSpec(source=edge["source"], target=edge["target"], names=edge.get("names") or [])
