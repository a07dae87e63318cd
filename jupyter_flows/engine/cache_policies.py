"""Cache policies: recipes for a task's cache key (``@task(cache_policy=...)``), as Prefect 3.

- ``INPUTS``: the task's arguments; ``INPUTS - "debug"`` leaves a parameter out.
- ``TASK_SOURCE``: the task's source code.
- ``RUN_ID``: the flow run (or, outside a flow, the task run): a cache within one run.
- ``FLOW_PARAMETERS``: the parameters of the flow run the task runs in.
- ``DEFAULT``: ``INPUTS + TASK_SOURCE + RUN_ID``.
- ``NO_CACHE``: no key: the task is never read from a cache.

Policies add up (``TASK_SOURCE + INPUTS``): each part's key is hashed together, and a part
without a key (no inputs, no flow) is left out. A ``cache_key_fn`` is the policy
``CacheKeyFnPolicy(fn)``. Keys are shared: two tasks whose policies give the same key read
each other's results (``TASK_SOURCE`` or the default key keeps tasks apart).

A task given a policy other than ``NO_CACHE`` persists its results (unless it says
``persist_result=False``). A task given none keeps this engine's default: cached only when
it persists its result, keyed by its name, code and inputs (``task_input_hash``), across
flow runs; ``DEFAULT`` is the Prefect 3 default, scoped to one flow run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.cache import hash_objects

if TYPE_CHECKING:
    from jupyter_flows.engine.context import TaskRunContext


class UnhashableInputs(ValueError):
    """The inputs a cache key needs cannot be hashed; the task runs without the cache."""


class CachePolicy:
    """Base class: ``compute_key`` returns the key, or None for "this part has none".

    Policies are values: equal when of one class with equal settings, never changed.
    (Plain classes, not dataclasses: this module is imported with the engine, and
    ``import jupyter_flows`` stays light.)
    """

    __slots__ = ()

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
    ) -> str | None:
        raise NotImplementedError

    @classmethod
    def from_cache_key_fn(
        cls, cache_key_fn: Callable[[TaskRunContext, dict[str, Any]], str | None]
    ) -> CacheKeyFnPolicy:
        return CacheKeyFnPolicy(cache_key_fn)

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if not isinstance(other, CachePolicy):
            return NotImplemented
        if isinstance(other, NoCache):
            return self
        return CompoundCachePolicy((*_parts(self), *_parts(other)))

    def __sub__(self, parameter: str) -> CachePolicy:
        """Leave ``parameter`` out of the inputs; a policy without inputs stays as it is."""
        if not isinstance(parameter, str):
            raise TypeError(
                f"only parameter names can be taken out of a cache policy, got {parameter!r}"
            )
        return self

    def _settings(self) -> tuple[Any, ...]:
        return ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._settings() == self._settings()

    def __hash__(self) -> int:
        return hash((type(self), self._settings()))

    def __repr__(self) -> str:
        settings = ", ".join(repr(value) for value in self._settings())
        return f"{type(self).__name__}({settings})"


def _parts(policy: CachePolicy) -> tuple[CachePolicy, ...]:
    return policy.policies if isinstance(policy, CompoundCachePolicy) else (policy,)


class NoCache(CachePolicy):
    """No key: never cached. Adding it to another policy changes nothing."""

    __slots__ = ()

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any]
    ) -> str | None:
        return None

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if not isinstance(other, CachePolicy):
            return NotImplemented
        return other


class Inputs(CachePolicy):
    """The task's arguments by parameter name, less ``exclude``."""

    __slots__ = ("exclude",)

    def __init__(self, exclude: tuple[str, ...] = ()) -> None:
        self.exclude = tuple(exclude)

    def _settings(self) -> tuple[Any, ...]:
        return (self.exclude,)

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any]
    ) -> str | None:
        kept = {name: value for name, value in inputs.items() if name not in self.exclude}
        if not kept:
            return None
        key = hash_objects(kept)
        if key is None:
            raise UnhashableInputs(
                "the task's inputs can be neither JSON-encoded nor pickled; leave the "
                "parameter out (INPUTS - 'name'), or set cache_key_fn or NO_CACHE"
            )
        return key

    def __sub__(self, parameter: str) -> CachePolicy:
        super().__sub__(parameter)
        return Inputs(tuple(sorted({*self.exclude, parameter})))


class TaskSource(CachePolicy):
    """The source code of the task's function (not of what it calls)."""

    __slots__ = ()

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any]
    ) -> str | None:
        return task_ctx.task.code_hash


class RunId(CachePolicy):
    """The flow run the task runs in; outside a flow, the task run itself."""

    __slots__ = ()

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any]
    ) -> str | None:
        return task_ctx.task_run.flow_run_id or task_ctx.task_run.id


class FlowParameters(CachePolicy):
    """The parameters of the flow run the task runs in."""

    __slots__ = ()

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any]
    ) -> str | None:
        if not flow_parameters:
            return None
        key = hash_objects(flow_parameters)
        if key is None:
            raise UnhashableInputs("the flow's parameters can be neither JSON-encoded nor pickled")
        return key


class CacheKeyFnPolicy(CachePolicy):
    """A ``cache_key_fn(context, inputs)`` as a policy."""

    __slots__ = ("cache_key_fn",)

    def __init__(
        self, cache_key_fn: Callable[[TaskRunContext, dict[str, Any]], str | None] | None = None
    ) -> None:
        self.cache_key_fn = cache_key_fn

    def _settings(self) -> tuple[Any, ...]:
        return (self.cache_key_fn,)

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any]
    ) -> str | None:
        return self.cache_key_fn(task_ctx, inputs) if self.cache_key_fn is not None else None


class CompoundCachePolicy(CachePolicy):
    """Several policies: their keys hashed together; parts without a key are left out.

    The ``Inputs`` parts merge into one that excludes what any of them excluded.
    """

    __slots__ = ("policies",)

    def __init__(self, policies: tuple[CachePolicy, ...] = ()) -> None:
        flat = [part for policy in policies for part in _parts(policy)]
        inputs = [part for part in flat if isinstance(part, Inputs)]
        others = [part for part in flat if not isinstance(part, (Inputs, NoCache))]
        if inputs:
            excluded = sorted({name for part in inputs for name in part.exclude})
            others.append(Inputs(tuple(excluded)))
        self.policies: tuple[CachePolicy, ...] = tuple(others)

    def _settings(self) -> tuple[Any, ...]:
        return (self.policies,)

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any]
    ) -> str | None:
        keys = [
            key
            for policy in self.policies
            if (key := policy.compute_key(task_ctx, inputs, flow_parameters)) is not None
        ]
        if not keys:
            return None
        return hash_objects(keys)

    def __sub__(self, parameter: str) -> CachePolicy:
        super().__sub__(parameter)
        if not any(isinstance(part, Inputs) for part in self.policies):
            return self
        return CompoundCachePolicy(
            tuple(part - parameter if isinstance(part, Inputs) else part for part in self.policies)
        )


INPUTS = Inputs()
TASK_SOURCE = TaskSource()
RUN_ID = RunId()
FLOW_PARAMETERS = FlowParameters()
NO_CACHE = NoCache()
NONE = NO_CACHE
DEFAULT = INPUTS + TASK_SOURCE + RUN_ID
