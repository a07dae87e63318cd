"""A ``.py`` file of ``@flow`` functions → a FlowSpec of kind ``module``, and the body of
``POST flows`` (docs/rest-api.md).

``jupyter flows register etl.py`` imports the file as a module named after it (so task keys
read ``etl.extract``), finds its ``Flow`` objects and describes the chosen one: the module's
``@task`` objects with their code hashes, the flow's parameter schema (JSON Schema from its
type hints, via pydantic), its task runner, and the entrypoint ``etl.py:etl`` an agent will
import. The same file registered twice gives the same content, so the server answers with
the version it already has. ``jupyter flows inspect etl.py`` shows the same FlowSpec.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.flow import Flow
from jupyter_flows.engine.task import Task

if TYPE_CHECKING:
    from jupyter_flows.spec.flow_spec import FlowSpec


class FlowFileError(ValueError):
    """The file cannot be registered (missing, fails to import, no or ambiguous flow)."""


def load_module(path: str | Path) -> ModuleType:
    """Import ``path`` as a module named after the file (its folder first on ``sys.path``)."""
    file = Path(path)
    if file.suffix != ".py":
        raise FlowFileError(f"{path}: expected a Python file ending in .py")
    if not file.is_file():
        raise FlowFileError(f"{path}: no such file")
    name = file.stem if file.stem.isidentifier() else "flows_module"
    loaded = sys.modules.get(name)
    if loaded is not None and not getattr(loaded, "_loaded_by_jupyter_flows", False):
        name = f"_jupyter_flows_{name}"  # never shadow a module imported for real (json.py)
    spec = importlib.util.spec_from_file_location(name, file.resolve())
    if spec is None or spec.loader is None:
        raise FlowFileError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    module._loaded_by_jupyter_flows = True  # type: ignore[attr-defined]
    folder = str(file.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise FlowFileError(f"{path} failed to import: {type(exc).__name__}: {exc}") from exc
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def flows_in(module: ModuleType) -> dict[str, Flow[..., Any]]:
    """The module's flows by the name of the attribute that holds them."""
    return {attr: value for attr, value in vars(module).items() if isinstance(value, Flow)}


def tasks_in(module: ModuleType) -> list[Task[..., Any]]:
    found: dict[str, Task[..., Any]] = {}
    for value in vars(module).values():
        if isinstance(value, Task):
            found.setdefault(value.task_key, value)
    return [found[key] for key in sorted(found)]


def pick_flow(
    module: ModuleType, path: str | Path, wanted: str | None
) -> tuple[str, Flow[..., Any]]:
    """The flow named ``wanted`` (attribute or flow name), or the file's only flow."""
    flows = flows_in(module)
    if not flows:
        raise FlowFileError(f"{path}: no @flow functions found")
    if wanted is None:
        if len(flows) > 1:
            names = ", ".join(sorted(flows))
            raise FlowFileError(f"{path} has several flows ({names}): pick one with --flow")
        return next(iter(flows.items()))
    for attr, value in flows.items():
        if wanted in (attr, value.name):
            return attr, value
    names = ", ".join(sorted(flows))
    raise FlowFileError(f"{path}: no flow named {wanted!r}; it has {names}")


def parameter_schema(flow: Flow[..., Any]) -> dict[str, Any]:
    """JSON Schema of the flow's parameters: types from the hints, defaults from the signature.

    A parameter whose type JSON Schema cannot describe (a DataFrame) accepts any value. A
    flow without ``**kwargs`` takes no other parameter (``additionalProperties: false``):
    the server refuses a run with an unknown one (400 invalid_parameters) instead of the
    run failing later on its agent.
    """
    import pydantic

    closed = not any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in flow.signature.parameters.values()
    )

    fields: dict[str, Any] = {}
    for name, param in flow.signature.parameters.items():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        hint = flow.type_hints.get(name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (hint, default)
    config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    title = f"{flow.name} parameters"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a default JSON cannot hold is left out, as it should
        try:
            model = pydantic.create_model(title, __config__=config, **fields)
            schema: dict[str, Any] = model.model_json_schema()
            if closed:
                schema["additionalProperties"] = False
            return schema
        except (pydantic.PydanticUserError, pydantic.errors.PydanticInvalidForJsonSchema):
            pass
        # Some type cannot be described: describe the others, and accept anything for it.
        properties: dict[str, Any] = {}
        for name, (hint, _default) in fields.items():
            try:
                prop = pydantic.TypeAdapter(hint, config=config).json_schema()
            except (pydantic.PydanticUserError, pydantic.errors.PydanticInvalidForJsonSchema):
                prop = {"description": f"a {getattr(hint, '__name__', hint)} (not checked)"}
            prop.setdefault("title", name.replace("_", " ").title())
            properties[name] = prop
        required = [name for name, (_, default) in fields.items() if default is ...]
        out = {"title": title, "type": "object", "properties": properties, "required": required}
        if closed:
            out["additionalProperties"] = False
        return out


def module_spec(path: str | Path, *, flow: str | None = None, name: str | None = None) -> FlowSpec:
    """The FlowSpec of one flow of the file at ``path`` (the file's only one by default)."""
    module = load_module(path)
    attr, chosen = pick_flow(module, path, flow)
    return _spec_of(path, module, attr, chosen, name)


def _spec_of(
    path: str | Path, module: ModuleType, attr: str, chosen: Flow[..., Any], name: str | None
) -> FlowSpec:
    # Here, not at the top: a run's process imports load_module without pydantic.
    from jupyter_flows.spec.flow_spec import FlowSpec, ParameterSpec, SourceInfo, TaskSpec

    schema = parameter_schema(chosen)
    required = set(schema.get("required") or [])
    parameters = [
        ParameterSpec(
            name=param,
            type=_schema_label(prop),
            required=param in required,
            default=prop.get("default"),
            description=prop.get("description"),
        )
        for param, prop in (schema.get("properties") or {}).items()
    ]
    tasks = [
        TaskSpec(
            key=task.task_key,
            name=task.name,
            kind="flow-task",
            cell_ids=[],
            cell_indices=[],
            source=_source_of(task.fn),
            code_hash=task.code_hash,
        )
        for task in tasks_in(module)
    ]
    return FlowSpec(
        name=name or chosen.name,
        source=SourceInfo(path=str(path), kind="module", cells=0),
        engine="flow",
        tasks=tasks,
        edges=[],
        parameters=parameters,
        parameter_schema=schema,
        warnings=[],
        entrypoint=f"{Path(path).as_posix()}:{attr}",
        task_runner=chosen.task_runner.name,
    )


def run_config(flow: Flow[..., Any]) -> dict[str, Any]:
    """The flow's settings an agent and the server need: its retry policy (a crash of its
    process is retried through the queue with the same budget as a failure in it)."""
    config: dict[str, Any] = {}
    if flow.retries:
        config["retries"] = flow.retries
        delay = flow.retry_delay_seconds
        if isinstance(delay, (int, float)) and delay:
            config["retry_delay_seconds"] = float(delay)
    return config


def registration(
    path: str | Path,
    *,
    flow: str | None = None,
    name: str | None = None,
    project: str | None = None,
) -> dict[str, Any]:
    """The ``POST flows`` body for one flow of the file at ``path``."""
    module = load_module(path)
    attr, chosen = pick_flow(module, path, flow)
    spec = _spec_of(path, module, attr, chosen, name)
    body: dict[str, Any] = {
        "name": spec.name,
        "content": spec.to_content(run_config=run_config(chosen)),
        "entrypoint": spec.entrypoint,
    }
    if chosen.description:
        body["description"] = chosen.description
    if project:
        body["project"] = project
    return body


def _source_of(fn: Any) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def _schema_label(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " | ".join(_schema_label(p) for p in prop["anyOf"])
    kinds = {
        "integer": "int",
        "number": "float",
        "string": "str",
        "boolean": "bool",
        "array": "list",
        "object": "dict",
        "null": "None",
    }
    return kinds.get(prop.get("type", ""), "any")
