"""The values a cell-task hands to the tasks after it: one pickled blob, and links that keep
objects shared between tasks as a kernel shares them.

Values travel pickled (cloudpickle), so a task sees them as they were when its upstream
ended. Pickling copies, which breaks one thing a kernel does: ``frames = [train, test]``
in one task, then ``for f in frames: f["x"] = 1`` in a later one changes ``train`` and
``test`` themselves. The DAG gives that later task ``frames``, ``train`` and ``test`` (a
change through an alias changes what it aliases), but from different tasks' blobs, as
different objects. So a task that binds a container of other names' objects also pickles
it a second time with those objects as *links* (``persistent_id``): a name and the task
that first bound the object (its *origin*, kept while it is only changed in place). The
task receiving it resolves each link to its own value of that name when the origins
agree, and the container holds the very objects it received; otherwise the plain copy
stands.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

Result = dict[str, Any]
"""``{"blob": bytes, "names": [...], "origins": {name: task}, "links"?: {...}}`` (the
tasks engine adds the cells' ``outputs``)."""


@dataclass
class Received:
    """What a task starts with: its values, the task each object was bound by, and the
    names whose links were resolved (containers to link again when passed on)."""

    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    linked: set[str] = field(default_factory=set)


def dump_values(
    values: Mapping[str, Any],
    *,
    key: str,
    namespace: Mapping[str, Any],
    received: Received,
    containers: Mapping[str, Iterable[str]],
) -> Result:
    """The result of task ``key`` passing on ``values`` (picklable: checked by the caller).

    ``received``: what it was given; ``containers``: names it bound that may hold other
    names' objects (from the def/use analysis).
    """
    result: Result = {
        "blob": bytes(cloudpickle.dumps(dict(values))),
        "names": sorted(values),
        "origins": {name: _origin(name, key, namespace, received) for name in values},
    }
    linked = [n for n in values if n in containers or n in received.linked]
    if linked:
        result["links"] = _links(values, linked, key, namespace, received)
    return result


def load_values(results: Mapping[str, Result]) -> Received:
    """What a task starts with: for each name it receives (``results``: name → the upstream
    result holding it), the value and its origin, with links resolved."""
    received = Received()
    loaded: dict[int, dict[str, Any]] = {}
    for name, result in results.items():
        blob = result["blob"]
        if id(blob) not in loaded:
            loaded[id(blob)] = cloudpickle.loads(blob)
        received.values[name] = loaded[id(blob)][name]
        received.origins[name] = result.get("origins", {}).get(name, f"?{id(blob)}")
    relinked: dict[int, dict[str, Any] | None] = {}
    for name, result in results.items():
        links = result.get("links")
        if not links or name not in links["names"]:
            continue
        if id(links) not in relinked:
            relinked[id(links)] = _resolve(links, received)
        found = relinked[id(links)]
        if found is not None:
            received.values[name] = found[name]
            received.linked.add(name)
    return received


# ------------------------------------------------------------------ links


def _origin(name: str, key: str, namespace: Mapping[str, Any], received: Received) -> str:
    """The task that bound the object ``name`` holds: the upstream's, if it was received
    and only changed in place here; else this task."""
    if name in received.values and namespace.get(name) is received.values[name]:
        return received.origins.get(name, key)
    return key


def _links(
    values: Mapping[str, Any],
    linked: list[str],
    key: str,
    namespace: Mapping[str, Any],
    received: Received,
) -> dict[str, Any]:
    """``linked`` pickled with the objects of the task's other names as references."""
    shared = {n for n in [*received.values, *values] if n in namespace}
    targets: dict[int, tuple[str, str]] = {}
    for name in sorted(shared):
        target = (name, _origin(name, key, namespace, received))
        targets.setdefault(id(namespace[name]), target)
    used: set[tuple[str, str]] = set()
    buffer = io.BytesIO()
    pickler = _LinkPickler(buffer, targets, used)
    pickler.dump({name: values[name] for name in linked})
    return {"blob": buffer.getvalue(), "names": linked, "refs": sorted(used)}


class _LinkPickler(cloudpickle.Pickler):  # type: ignore[misc]
    def __init__(
        self, file: io.BytesIO, targets: dict[int, tuple[str, str]], used: set[tuple[str, str]]
    ) -> None:
        super().__init__(file)
        self.targets = targets
        self.used = used
        self.top: set[int] = set()

    def dump(self, obj: Any) -> None:
        self.top = {id(value) for value in obj.values()}
        super().dump(obj)

    def persistent_id(self, obj: Any) -> tuple[str, str] | None:
        target = self.targets.get(id(obj))
        if target is None or id(obj) in self.top:
            return None  # a linked value itself is pickled whole
        self.used.add(target)
        return target


class _LinkUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, values: Mapping[str, Any]) -> None:
        super().__init__(io.BytesIO(data))
        self.values = values

    def persistent_load(self, pid: Any) -> Any:
        return self.values[pid[0]]


def _resolve(links: Mapping[str, Any], received: Received) -> dict[str, Any] | None:
    """The linked values with every reference resolved, or None when one cannot be (the
    receiving task does not have that object: the copies stand)."""
    for name, origin in links["refs"]:
        if name not in received.values or received.origins.get(name) != origin:
            return None
    found: dict[str, Any] = _LinkUnpickler(links["blob"], received.values).load()
    return found
