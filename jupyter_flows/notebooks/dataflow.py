"""Def/use facts of tasks in file order → the edges between them, and their warnings.

A task depends on the latest earlier task that made the version of each name it reads
(bound it, or changed it in place): that is a **data** edge, carrying the Python names
whose values flow (``names``) and the state outside names the target reads (``state``:
files, seeded random state, magics, ``%store``, environment variables, packages). A task
that changes a name in place also waits for the earlier tasks that read the version it
changes (an **ordering** edge, ``mutated``), and one that rewrites a file or reseeds a
random state waits for those that read or wrote the earlier one; an ordering edge carries
nothing, so the DAG a person looks at is the data flow.

Beyond what one cell's facts say, the DAG follows objects across cells:

- **aliases**: ``frames = [train, test]`` records that ``frames`` holds the objects of
  ``train`` and ``test``. A later change through ``frames`` (``for d in frames: d[…] = …``)
  is a change of both, and a read of ``frames`` reads a change made to either since; both
  only while the name still holds the object it held (a rebinding ends it).
- **functions that change their parameters**: ``def add(df): df["x"] = 1`` then
  ``add(train)`` changes ``train``.
- **seeded generators**: a draw from a name bound to ``np.random.default_rng(42)`` (its own
  ``rng.normal()``, ``random_state=rng``, a function drawing from its parameter) changes it.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from jupyter_flows.notebooks.defuse import DefUse, Effects, changed_arguments
from jupyter_flows.notebooks.defuse_state import (
    ANY_MAGIC,
    DIR,
    FILE,
    MAGIC,
    RANDOM,
    ancestors,
    is_state,
    word_set,
)
from jupyter_flows.spec.flow_spec import WarningSpec


class FactsTask(Protocol):
    """What inference needs of a task (``dag._Task``)."""

    key: str
    position: int
    facts: DefUse
    reads: set[str]
    defines: set[str]
    mutates: set[str]

    @property
    def label(self) -> str: ...

    @property
    def cell_indices(self) -> list[int]: ...


@dataclass
class Edge:
    names: set[str] = field(default_factory=set)
    state: set[str] = field(default_factory=set)
    after: bool = False
    mutated: set[str] = field(default_factory=set)

    @property
    def kind(self) -> Literal["data", "order", "after"]:
        """``data`` (values or state flow), ``after`` (a flow:after tag only), ``order``."""
        if self.names or self.state:
            return "data"
        return "after" if self.after else "order"


@dataclass
class _Version:
    """One version of a name: the task that made it and who read it."""

    task: FactsTask
    identity: str  # the task that bound the object (a change in place keeps it)
    readers: set[str] = field(default_factory=set)
    #: (member, its identity, its version's task) for each name this one may share objects with
    members: list[tuple[str, str, str]] = field(default_factory=list)
    generator: bool = False
    module: bool = False


@dataclass
class _Binding:
    """A task that bound a name, and the versions of it until the next binding (changes
    in place): for the multiple_definitions warning."""

    task: FactsTask
    reads_previous: bool
    versions: list[_Version] = field(default_factory=list)

    def read_elsewhere(self) -> bool:
        return any(v.readers - {self.task.key} for v in self.versions)


class Inference:
    """Walks the tasks in file order, keeping the current version of every name."""

    def __init__(
        self,
        tasks: list[FactsTask],
        unpicklable_matters: bool,
        undefined: WarningFactory,
    ) -> None:
        self.tasks = tasks
        self.unpicklable_matters = unpicklable_matters
        self.undefined = undefined
        self.edges: dict[tuple[str, str], Edge] = {}
        self.warnings: list[WarningSpec] = []
        self.current: dict[str, _Version] = {}
        self.deferred: dict[str, Effects] = {}
        self.values: dict[str, str] = {}  # name → what unpicklable thing it holds
        self.warned_values: set[str] = set()
        self.opaque: list[FactsTask] = []
        self.bindings: dict[str, list[_Binding]] = {}

    def run(self) -> dict[tuple[str, str], Edge]:
        for task in self.tasks:
            self._task(task)
        self._multiple_definitions()
        return self.edges

    # ---------------------------------------------------------------- one task

    def _task(self, task: FactsTask) -> None:
        facts = task.facts
        if facts.error:
            self.warnings.append(
                WarningSpec(
                    code="syntax_error",
                    message=f"{task.label} cannot be read: {facts.error}; its names are unknown",
                    tasks=[task.key],
                    cells=task.cell_indices,
                )
            )
        reads, soft, defines, mutates = self._effective(facts)
        task.reads, task.defines, task.mutates = set(), set(), set()
        for name in sorted(reads | soft):
            self._read(task, name, soft=name in soft and name not in reads)
        for name in sorted(mutates | {d for d in defines if is_state(d)}):
            self._order(task, name, rewrite=name not in mutates)
        self._new_versions(task, defines, mutates)
        task.defines = {n for n in defines if not is_state(n)}
        task.mutates = {n for n in mutates if not is_state(n)}
        if facts.opaque:
            self.opaque.append(task)
            self.warnings.append(
                WarningSpec(
                    code="opaque_definitions",
                    message=f"{task.label} runs {', '.join(facts.opaque)}: the names it defines "
                    "cannot be known; later reads of names no cell defines are taken from it",
                    tasks=[task.key],
                    cells=task.cell_indices,
                )
            )

    def _effective(self, facts: DefUse) -> tuple[set[str], set[str], set[str], set[str]]:
        """The task's reads, soft reads, defines and mutates, with those of the functions
        it uses, the parameters they change, the generators it draws from and the objects
        its changes and reads reach through aliases."""
        reads, soft = set(facts.reads), set(facts.soft_reads)
        defines, mutates = set(facts.defines), set(facts.mutates)
        draws = set(facts.draws)
        method_only = set(facts.method_only)
        own = set(facts.defines)
        work, seen = sorted(reads, reverse=True), set()
        while work:
            name = work.pop()
            if name in seen:
                continue
            seen.add(name)
            effects = self.deferred.get(name)
            if effects is None:
                continue
            for read in effects.reads | effects.mutates:
                if read not in own and read not in reads:
                    reads.add(read)
                    work.append(read)
            soft |= {s for s in effects.soft_reads if s not in own}
            mutates |= {m for m in effects.mutates if m not in own}
            method_only |= effects.method_only
            draws |= {d for d in effects.draws if d not in own}
            defines |= effects.defines
        for function, arguments in facts.calls:
            effects = self.deferred.get(function)
            if effects is None:
                continue
            changed = changed_arguments(effects.mutated_params, arguments)
            mutates |= {n for n in changed if n not in own}
            draws |= set(changed_arguments(effects.drawn_params, arguments)) - own
        for name in draws:
            version = self.current.get(name)
            if version is not None and version.generator:
                mutates.add(name)
        for name in method_only & mutates:
            version = self.current.get(name)
            if version is not None and version.module:
                mutates.discard(name)  # np.sort(x), plt.step(…): a module's function
        for name in list(mutates):
            if name.startswith(RANDOM) and name not in self.current:
                mutates.discard(name)  # drawing from unseeded random state is no dependency
        mutates |= self._through_aliases(mutates - own, changed=True)
        reads |= mutates
        reads |= self._through_aliases(reads - own - mutates, changed=False)
        return reads, soft - reads, defines, mutates

    def _through_aliases(self, names: Iterable[str], *, changed: bool) -> set[str]:
        """The names whose objects ``names`` hold: all of them for a change; those changed
        since the alias was made, for a read."""
        found: set[str] = set()
        work = list(names)
        while work:
            version = self.current.get(work.pop())
            if version is None:
                continue
            for member, identity, made in version.members:
                now = self.current.get(member)
                if now is None or now.identity != identity or member in found:
                    continue
                if changed or now.task.key != made:
                    found.add(member)
                    work.append(member)
        return found

    def _read(self, task: FactsTask, name: str, *, soft: bool) -> None:
        if is_state(name):
            for through, upstream in self._state_versions(name):
                self._edge(upstream.task.key, task.key).state.add(through)
                upstream.readers.add(task.key)
            return
        version = self.current.get(name)
        if version is None and (soft or _kernel_name(name)):
            return
        task.reads.add(name)
        if version is None and self.opaque:
            self._edge(self.opaque[-1].key, task.key).names.add(name)  # ``import *`` made it
            return
        if version is None:
            self.warnings.append(self.undefined(task, name))
            return
        self._edge(version.task.key, task.key).names.add(name)
        version.readers.add(task.key)
        if self.unpicklable_matters and name in self.values and name not in self.warned_values:
            self.warned_values.add(name)
            self.warnings.append(
                WarningSpec(
                    code="unpicklable",
                    message=f"{task.label} needs {name!r} from {version.task.key!r}, which "
                    f"holds {self.values[name]}: it cannot be pickled to pass between tasks "
                    "(run with the kernel engine, or make it in the task that uses it)",
                    tasks=[version.task.key, task.key],
                    names=[name],
                )
            )

    def _state_versions(self, name: str) -> list[tuple[str, _Version]]:
        """The versions a state read reads, with the state name each is of.

        A file: the latest write of it or of a folder above it (a download unpacked there),
        and for a folder also every file written below it (a listing sees them all); a
        folder a write needs (``dir:``): the latest write of it or above. A magic: the
        extension that provides it, else the latest extension of unknown magics.
        """
        if name.startswith((FILE, DIR)):
            path = name.partition(":")[2]
            candidates = [FILE + path] + [FILE + p for p in ancestors(path)]
            found = [(self.current[c].task.position, c) for c in candidates if c in self.current]
            chosen = [max(found)[1]] if found else []
            if name.startswith(FILE):
                below = FILE + path.rstrip("/") + "/"
                chosen += sorted(n for n in self.current if n.startswith(below))
            return [(c, self.current[c]) for c in chosen]
        if name.startswith(MAGIC) and name not in self.current:
            name = ANY_MAGIC
        version = self.current.get(name)
        return [(name, version)] if version is not None else []

    def _order(self, task: FactsTask, name: str, *, rewrite: bool) -> None:
        """``task`` changes ``name``: it waits for the tasks that read the version it changes
        (and, for state rewritten, for the task that wrote it)."""
        version = self.current.get(name)
        if version is None:
            return
        waiting = set(version.readers)
        if rewrite:
            waiting.add(version.task.key)
        for reader in sorted(waiting - {task.key}):
            self._edge(reader, task.key).mutated.add(name)

    def _new_versions(self, task: FactsTask, defines: set[str], mutates: set[str]) -> None:
        facts = task.facts
        for name in sorted(defines):
            previous = self.current.get(name)
            self.current[name] = _Version(task, identity=task.key)
            self.values.pop(name, None)
            if name in facts.deferred_map:
                self.deferred[name] = facts.deferred_map[name]
            else:
                self.deferred.pop(name, None)
            if name not in facts.deletes and not is_state(name) and name != "_":
                binding = _Binding(task, reads_previous=previous is not None and name in task.reads)
                binding.versions.append(self.current[name])
                self.bindings.setdefault(name, []).append(binding)
            elif name in self.bindings:
                self.bindings[name].append(_Binding(task, reads_previous=True))  # a del
        for name in sorted(mutates - defines):
            previous = self.current.get(name)
            self.current[name] = _Version(
                task,
                identity=previous.identity if previous else task.key,
                members=previous.members if previous else [],
                generator=previous.generator if previous else False,
            )
            if name in self.bindings:
                self.bindings[name][-1].versions.append(self.current[name])
        for name, members in facts.aliases:
            version = self.current.get(name)
            if version is None or version.task is not task:
                continue
            version.members = [
                (m, self.current[m].identity, self.current[m].task.key)
                for m in members
                if m in self.current and m != name
            ]
        for name in facts.generators:
            if name in self.current:
                self.current[name].generator = True
        for name in facts.modules:
            if name in self.current:
                self.current[name].module = True
        self.values.update(facts.unpicklable)

    # ---------------------------------------------------------------- warnings

    def _multiple_definitions(self) -> None:
        """Warn about a name bound again only where that changes the DAG: a later task
        reads the new value while another task read the earlier one, and the new value is
        not made from the earlier (``df = df.dropna()`` is a step, not a reuse)."""
        for name, bindings in sorted(self.bindings.items()):
            used = [b for b in bindings if b.read_elsewhere()]
            reused = [b for b in used[1:] if not b.reads_previous]
            if len(used) < 2 or not reused:
                continue
            bindings = [b for b in bindings if b.versions]
            labels = ", ".join(b.task.label for b in bindings)
            self.warnings.append(
                WarningSpec(
                    code="multiple_definitions",
                    message=f"{name!r} is given a new value in several places that later cells "
                    f"read: {labels}; each reader gets the latest one above it",
                    tasks=[b.task.key for b in bindings],
                    cells=[c for b in bindings for c in b.task.cell_indices],
                    names=[name],
                )
            )

    def _edge(self, source: str, target: str) -> Edge:
        return self.edges.setdefault((source, target), Edge())


class WarningFactory(Protocol):
    def __call__(self, task: FactsTask, name: str) -> WarningSpec: ...


# Names a kernel has before any cell runs: reading them needs no earlier cell.
KERNEL_NAMES = frozenset(dir(builtins)) | word_set(
    "get_ipython display In Out exit quit _ __ ___ _i _ii _iii _ih _oh _dh "
    "__name__ __doc__ __builtins__ __builtin__ __spec__ __loader__ __package__"
)
_HISTORY = re.compile(r"^_(?:i{1,3})?\d+$")  # _3, _i3: output and input history


def _kernel_name(name: str) -> bool:
    return name in KERNEL_NAMES or bool(_HISTORY.match(name))
