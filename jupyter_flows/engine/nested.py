"""Futures inside a run's arguments and results, at any depth.

A task's argument may hold futures (or values earlier task runs returned) anywhere inside
it: in lists, tuples, sets and dicts (and their subclasses: named tuples, OrderedDict,
defaultdict), in dataclasses and in pydantic models. This module finds them (the DAG's
edges), lists the ones still running (what a run waits for), replaces them by their
results before the function is called, and swaps them for a remote runner's own futures.

Containers are rebuilt only where something inside them changed, so a value without
futures reaches the task as the very object that was passed. Plain scalars are checked
first and skipped: most arguments cost one type lookup. pydantic is never imported here: a
model is recognised by its class's ``model_fields``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.errors import UpstreamTaskError
from jupyter_flows.engine.futures import TaskFuture, allow_failure, unmapped
from jupyter_flows.engine.states import State

if TYPE_CHECKING:
    from jupyter_flows.engine.context import FlowRunContext

#: Types that can never hold a future: checked first, to keep direct calls cheap.
PLAIN = frozenset({int, float, str, bool, bytes, type(None), complex})
_SEQUENCES = (list, tuple, set, frozenset)


class RemoteResult:
    """What a task run on a remote worker sends back: its final state and its records."""

    __slots__ = ("task_run_id", "task_run_name", "state", "records")

    def __init__(self, task_run_id: str, task_run_name: str, state: State, records: Any) -> None:
        self.task_run_id = task_run_id
        self.task_run_name = task_run_name
        self.state = state
        self.records = records


# -- walking values --------------------------------------------------------------------------


def _children(value: Any) -> Iterator[Any] | None:
    """The values directly inside ``value``, or None when it is not a container we open."""
    kind = type(value)
    if kind in _SEQUENCES:
        return iter(value)  # type: ignore[no-any-return]
    if kind is dict:
        return iter(value.values())  # type: ignore[no-any-return]
    if kind is allow_failure or kind is unmapped:
        return iter((value.value,))
    if isinstance(value, (list, tuple, set, frozenset)):
        return iter(value)
    if isinstance(value, dict):
        return iter(value.values())
    fields = _fields(kind)
    if fields is not None:
        return (getattr(value, name) for name in fields)
    return None


def _fields(kind: type) -> tuple[str, ...] | None:
    """The field names of a dataclass or pydantic model class, else None."""
    dataclass_fields = getattr(kind, "__dataclass_fields__", None)
    if isinstance(dataclass_fields, dict):
        return tuple(dataclass_fields)
    model_fields = getattr(kind, "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(kind, "model_copy"):
        return tuple(model_fields)
    return None


def _rebuild(value: Any, transform: Callable[[Any], Any]) -> Any:
    """``value`` with ``transform`` applied to what is directly inside it.

    The same object comes back when nothing inside changed.
    """
    kind = type(value)
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        items = [transform(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return kind(items)
    if kind is dict:
        pairs = {key: transform(item) for key, item in value.items()}
        if all(pairs[key] is item for key, item in value.items()):
            return value
        return pairs
    if isinstance(value, tuple):  # named tuples and other tuple subclasses
        items = [transform(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return kind(*items) if hasattr(value, "_fields") else kind(items)
    if isinstance(value, (list, set, frozenset)):
        items = [transform(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return kind(items)
    if isinstance(value, dict):  # OrderedDict, defaultdict, Counter: keep their extras
        changed = {}
        for key, item in value.items():
            new = transform(item)
            if new is not item:
                changed[key] = new
        if not changed:
            return value
        rebuilt = copy.copy(value)
        rebuilt.update(changed)
        return rebuilt
    fields = _fields(kind)
    if fields is None:
        return value
    updates = {}
    for name in fields:
        item = getattr(value, name)
        new = transform(item)
        if new is not item:
            updates[name] = new
    if not updates:
        return value
    if hasattr(value, "model_copy"):
        return value.model_copy(update=updates)
    rebuilt = copy.copy(value)
    for name, new in updates.items():  # frozen dataclasses too, without re-running __init__
        object.__setattr__(rebuilt, name, new)
    return rebuilt


# -- what the DAG and the waits need ---------------------------------------------------------


def producers(value: Any, flow_ctx: FlowRunContext | None) -> list[str]:
    """Ids of the task runs that produced ``value`` or the futures anywhere inside it."""
    found: list[str] = []
    _visit_producers(value, flow_ctx, found, set())
    return found


def _visit_producers(
    value: Any, flow_ctx: FlowRunContext | None, found: list[str], path: set[int]
) -> None:
    kind = type(value)
    if kind in PLAIN:
        return
    if kind is TaskFuture:
        found.append(value.task_run_id)
        return
    if flow_ctx is not None:
        producer = flow_ctx.producer_of(value)
        if producer is not None:
            found.append(producer)
            return
    children = _children(value)
    if children is None or id(value) in path:  # a container that holds itself
        return
    path.add(id(value))
    for item in children:
        _visit_producers(item, flow_ctx, found, path)
    path.discard(id(value))


def pending_futures(value: Any) -> list[TaskFuture[Any]]:
    """The futures anywhere inside ``value`` that have not reached a final state yet."""
    found: list[TaskFuture[Any]] = []
    _visit_pending(value, found, set())
    return found


def _visit_pending(value: Any, found: list[TaskFuture[Any]], path: set[int]) -> None:
    kind = type(value)
    if kind in PLAIN:
        return
    if kind is TaskFuture:
        if not value.done():
            found.append(value)
        return
    children = _children(value)
    if children is None or id(value) in path:
        return
    path.add(id(value))
    for item in children:
        _visit_pending(item, found, path)
    path.discard(id(value))


def has_containers(values: Iterable[Any]) -> bool:
    """True when any of ``values`` is more than a plain scalar (it may hold futures)."""
    return not PLAIN.issuperset(map(type, values))  # in C: direct calls check every argument


# -- replacing futures -----------------------------------------------------------------------


def resolve(value: Any) -> Any:
    """``value`` with every future (or remote result) inside it replaced by its result.

    Raises UpstreamTaskError for an upstream run that did not complete, unless it is
    wrapped in ``allow_failure``, which passes on its exception instead. A future still
    running is waited for here (callers that must not block wait first, see
    ``pending_futures``).
    """
    return _resolve(value, set())


def _resolve(value: Any, path: set[int]) -> Any:
    kind = type(value)
    if kind in PLAIN:
        return value
    if kind is TaskFuture or kind is RemoteResult:
        state = value.state if kind is RemoteResult else _final_state(value)
        if state.is_completed():
            return state.data
        if state.name == "NotReady" and state.message:
            raise UpstreamTaskError(state.message)  # the first failed ancestor, named once
        raise UpstreamTaskError(
            f"upstream task run {value.task_run_name!r} ended {state.name}"
            + (f": {state.message}" if state.message else "")
        )
    if kind is allow_failure:
        inner = value.value
        if isinstance(inner, RemoteResult):
            state = inner.state
        elif type(inner) is TaskFuture:
            state = _final_state(inner)
        else:
            return _resolve(inner, path)
        return state.data if state.is_completed() else state.result(raise_on_failure=False)
    if kind is unmapped:
        return _resolve(value.value, path)
    if id(value) in path:
        return value
    path.add(id(value))
    try:
        return _rebuild(value, lambda item: _resolve(item, path))
    finally:
        path.discard(id(value))


def _final_state(future: TaskFuture[Any]) -> State:
    future.wait()
    return future.state


def map_futures(value: Any, transform: Callable[[TaskFuture[Any]], Any]) -> Any:
    """``value`` with each TaskFuture anywhere inside it replaced by ``transform(future)``."""
    kind = type(value)
    if kind in PLAIN:
        return value
    if kind is TaskFuture:
        return transform(value)
    return _rebuild(value, lambda item: map_futures(item, transform))


def swap_futures(value: Any, native: Callable[[TaskFuture[Any]], Any]) -> Any:
    """``value`` with each TaskFuture replaced by ``native(future)``, a remote runner's own
    future for it, which the runner resolves on its side.

    A remote runner only looks inside plain lists, tuples, sets and dicts (Dask turns an
    OrderedDict into a dict and passes a dataclass through untouched), so a future anywhere
    else, or one the runner has no handle for, is waited for here and travels as its final
    state (a ``RemoteResult``), which the worker resolves like any other.
    """
    return _swap(value, native, True, set())


def _swap(
    value: Any, native: Callable[[TaskFuture[Any]], Any], plain_path: bool, path: set[int]
) -> Any:
    kind = type(value)
    if kind in PLAIN:
        return value
    if kind is TaskFuture:
        handle = native(value) if plain_path else None
        if handle is not None:
            return handle
        value.wait()
        return RemoteResult(value.task_run_id, value.task_run_name, value.state, None)
    if kind is allow_failure:
        inner = _swap(value.value, native, plain_path, path)
        return value if inner is value.value else allow_failure(inner)
    if id(value) in path:
        return value
    inside_plain = plain_path and (kind in _SEQUENCES or kind is dict)
    path.add(id(value))
    try:
        return _rebuild(value, lambda item: _swap(item, native, inside_plain, path))
    finally:
        path.discard(id(value))
