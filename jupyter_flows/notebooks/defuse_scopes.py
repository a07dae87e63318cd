"""The facts :mod:`defuse` produces (:class:`DefUse`, :class:`Effects`) and the scopes its
visitor tells about every name: a cell's top level (order matters), a function body
(Python's locals rule; what escapes is deferred to the cells that call it) and a
comprehension, class body or ``%timeit`` namespace (binds stay inside).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jupyter_flows.notebooks.defuse_state import is_state

Argument = tuple[int | str, tuple[str, ...]]
"""A call's argument: its position (or keyword) and the names whose objects it passes."""


@dataclass(frozen=True)
class Effects:
    """What running some code (or calling a function) does to the global namespace."""

    reads: frozenset[str] = frozenset()
    defines: frozenset[str] = frozenset()
    mutates: frozenset[str] = frozenset()
    soft_reads: frozenset[str] = frozenset()
    """Names read only if an earlier cell defines them (no warning otherwise)."""
    draws: frozenset[str] = frozenset()
    """Names a random draw is made from: a change if the name holds a seeded generator."""
    mutated_params: frozenset[tuple[int, str]] = frozenset()
    """Parameters (position, name) the function changes in place: its arguments change."""
    drawn_params: frozenset[tuple[int, str]] = frozenset()
    """Parameters it draws from: a change of a seeded generator passed there."""
    method_only: frozenset[str] = frozenset()
    """Of ``mutates``, those changed only by calling a changing method on the name itself
    (``np.sort(x)`` on a module is no change: the DAG drops these for modules)."""

    def __bool__(self) -> bool:
        return any(
            (self.reads, self.defines, self.mutates, self.soft_reads, self.draws),
        ) or bool(self.mutated_params or self.drawn_params)


@dataclass(frozen=True)
class DefUse:
    """The def/use facts of one piece of code (a cell, or cells merged into one task).

    Names include state names (``file:out.csv``, ``random:numpy``…, see
    :mod:`defuse_state`): reading one no earlier cell defines is no dependency.
    """

    reads: tuple[str, ...] = ()
    """Global names read before this code binds them (sorted)."""
    defines: tuple[str, ...] = ()
    """Names this code binds, rebinds or deletes."""
    mutates: tuple[str, ...] = ()
    """Names from earlier code that this code changes in place (each also in ``reads``)."""
    deferred: tuple[tuple[str, Effects], ...] = ()
    """Functions and classes defined here, with what using them reads, defines, mutates."""
    deletes: tuple[str, ...] = ()
    """Names removed with ``del`` (also in ``defines``: the removal is their new version)."""
    opaque: tuple[str, ...] = ()
    """Why this code may define names that cannot be seen (``from m import *``, ``%run``)."""
    unpicklable: tuple[tuple[str, str], ...] = ()
    """Names bound to values that will not pickle: (name, what it is)."""
    error: str | None = None
    """A syntax error: the code's names are unknown."""
    soft_reads: tuple[str, ...] = ()
    """Names read only if an earlier cell defines them (``$name`` in a shell line, tables
    named in SQL): no edge and no warning otherwise."""
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Names bound here that may share objects with other names: ``frames = [a, b]``."""
    draws: tuple[str, ...] = ()
    """Earlier names drawn from as random generators (``rng.normal()``, ``random_state=rng``)."""
    generators: tuple[str, ...] = ()
    """Names bound here to a seeded random generator (``np.random.default_rng(0)``)."""
    calls: tuple[tuple[str, tuple[Argument, ...]], ...] = ()
    """Calls of earlier functions with the names their arguments pass: a function that
    changes its parameter in place changes those."""
    modules: tuple[str, ...] = ()
    """Names bound here by an import."""
    method_only: tuple[str, ...] = ()
    """Of ``mutates``, those changed only by a changing method called on the name itself."""

    @property
    def deferred_map(self) -> Mapping[str, Effects]:
        return dict(self.deferred)

    @property
    def alias_map(self) -> Mapping[str, tuple[str, ...]]:
        return dict(self.aliases)


# ------------------------------------------------------------------ scopes


class Scope:
    """Where names live while visiting: decides which reads and binds escape to globals."""

    def read(self, name: str) -> None:
        raise NotImplementedError

    def soft(self, name: str) -> None:
        """A read that counts only if an earlier cell defines ``name``."""

    def bind(self, name: str) -> None:
        raise NotImplementedError

    def bind_walrus(self, name: str) -> None:
        self.bind(name)

    def mutate(self, name: str, by_method: bool = False) -> None:
        """A change of ``name`` in place; ``by_method``: by calling a changing method on it."""
        raise NotImplementedError

    def module(self, name: str) -> None:
        """``name`` was just bound by an import."""

    def alias(self, name: str, sources: set[str]) -> None:
        """``name`` (just bound) may share objects with ``sources``."""

    def draw(self, name: str) -> None:
        """A random draw from ``name`` (a change, if it is a seeded generator)."""
        self.read(name)

    def generator(self, name: str) -> None:
        """``name`` (just bound) is a seeded random generator."""

    def call(self, function: str, arguments: list[Argument]) -> None:
        """``function`` was called with these arguments."""

    def defer(self, name: str, effects: Effects) -> None:
        """A function or class ``name`` was defined here with these deferred effects."""

    def delete(self, name: str) -> None:
        """``del name``: read it, then its new version is its absence."""
        self.read(name)
        self.bind(name)

    def note_value(self, name: str, what: str) -> None:
        """``name`` was bound to something that will not pickle."""

    def opaque(self, why: str) -> None:
        """Names may be defined here that cannot be seen."""


class ModuleScope(Scope):
    """A cell's top level: order matters (a read before the binding is a read of the past)."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.reads: set[str] = set()
        self.soft_reads: set[str] = set()
        self.defines: set[str] = set()
        self.mutates: set[str] = set()
        self.deletes: set[str] = set()
        self.deferred: dict[str, Effects] = {}
        self.values: dict[str, str] = {}
        self.why_opaque: list[str] = []
        self.aliases: dict[str, set[str]] = {}
        self.draws: set[str] = set()
        self.generators: set[str] = set()
        self.calls: list[tuple[str, tuple[Argument, ...]]] = []
        self.modules: set[str] = set()
        self.by_method: set[str] = set()
        self.by_other: set[str] = set()
        self._applying: set[str] = set()
        self._mutating: set[str] = set()

    def read(self, name: str) -> None:
        if name not in self.bound:
            self.reads.add(name)
        effects = self.deferred.get(name)
        if effects and name not in self._applying:
            self._applying.add(name)  # a recursive function reads itself
            try:
                for read in sorted(effects.reads):
                    self.read(read)
                for read in sorted(effects.soft_reads):
                    self.soft(read)
                for drawn in sorted(effects.draws):
                    self.draw(drawn)
                for mutated in sorted(effects.mutates):
                    self.mutate(mutated, by_method=mutated in effects.method_only)
                for defined in sorted(effects.defines):
                    self.bind(defined, keep_deferred=True)
            finally:
                self._applying.discard(name)

    def soft(self, name: str) -> None:
        if name not in self.bound:
            self.soft_reads.add(name)

    def delete(self, name: str) -> None:
        super().delete(name)
        self.deletes.add(name)

    def bind(self, name: str, keep_deferred: bool = False) -> None:
        self.deletes.discard(name)
        self.bound.add(name)
        self.defines.add(name)
        self.values.pop(name, None)
        self.aliases.pop(name, None)
        self.generators.discard(name)
        self.modules.discard(name)
        if not keep_deferred:
            self.deferred.pop(name, None)

    def module(self, name: str) -> None:
        self.modules.add(name)

    def mutate(self, name: str, by_method: bool = False) -> None:
        if name in self._mutating:
            return
        self._mutating.add(name)
        try:
            self.read(name)
            if name not in self.bound:
                self.mutates.add(name)
                (self.by_method if by_method else self.by_other).add(name)
            for source in sorted(self.aliases.get(name, ())):
                self.mutate(source)  # a change through an alias changes what it aliases
        finally:
            self._mutating.discard(name)

    def _outside(self, names: Iterable[str]) -> set[str]:
        """``names`` with those bound here replaced by what they alias: the earlier names."""
        found: set[str] = set()
        work, seen = list(names), set()
        while work:
            name = work.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.bound:
                work.extend(self.aliases.get(name, ()))
            else:
                found.add(name)
        return found

    def alias(self, name: str, sources: set[str]) -> None:
        sources = {s for s in sources if s != name}
        if sources:
            self.aliases[name] = sources

    def draw(self, name: str) -> None:
        self.read(name)
        if name not in self.bound:
            self.draws.add(name)

    def generator(self, name: str) -> None:
        self.generators.add(name)

    def call(self, function: str, arguments: list[Argument]) -> None:
        effects = self.deferred.get(function)
        if effects is not None:  # defined in this cell: its parameters' changes apply now
            for name in changed_arguments(effects.mutated_params, arguments):
                self.mutate(name)
            for name in changed_arguments(effects.drawn_params, arguments):
                self.draw(name)
        elif function not in self.bound:
            outside = [(k, tuple(sorted(self._outside(n)))) for k, n in arguments]
            outside = [(k, n) for k, n in outside if n]
            if outside:
                self.calls.append((function, tuple(outside)))

    def defer(self, name: str, effects: Effects) -> None:
        if effects:
            self.deferred[name] = effects

    def note_value(self, name: str, what: str) -> None:
        self.values[name] = what

    def opaque(self, why: str) -> None:
        if why not in self.why_opaque:
            self.why_opaque.append(why)

    def result(self) -> DefUse:
        return DefUse(
            reads=tuple(sorted(self.reads)),
            defines=tuple(sorted(self.defines)),
            mutates=tuple(sorted(self.mutates)),
            deferred=tuple(sorted(self.deferred.items())),
            deletes=tuple(sorted(self.deletes)),
            opaque=tuple(self.why_opaque),
            unpicklable=tuple(sorted(self.values.items())),
            soft_reads=tuple(sorted(self.soft_reads - self.reads)),
            aliases=tuple(sorted((n, tuple(sorted(s))) for n, s in self.aliases.items())),
            draws=tuple(sorted(self.draws)),
            generators=tuple(sorted(self.generators)),
            calls=tuple(self.calls),
            modules=tuple(sorted(self.modules)),
            method_only=tuple(sorted((self.by_method - self.by_other) & self.mutates)),
        )


def changed_arguments(
    params: frozenset[tuple[int, str]], arguments: Iterable[Argument]
) -> list[str]:
    """The names passed at the parameters a function changes."""
    changed: list[str] = []
    for key, names in arguments:
        if any(key in (position, name) for position, name in params):
            changed.extend(names)
    return changed


class FunctionScope(Scope):
    """A function body: its locals are fixed by Python's rule (bound anywhere in it)."""

    def __init__(self, local: set[str], declared_global: set[str], params: list[str]) -> None:
        self.local = local
        self.declared_global = declared_global
        self.params = {name: position for position, name in enumerate(params) if name}
        self.reads: set[str] = set()
        self.soft_reads: set[str] = set()
        self.defines: set[str] = set()
        self.mutates: set[str] = set()
        self.draws: set[str] = set()
        self.mutated_params: set[tuple[int, str]] = set()
        self.drawn_params: set[tuple[int, str]] = set()
        self.aliases: dict[str, set[str]] = {}
        self.by_method: set[str] = set()
        self.by_other: set[str] = set()
        self._mutating: set[str] = set()

    def read(self, name: str) -> None:
        if name not in self.local:
            self.reads.add(name)

    def soft(self, name: str) -> None:
        if name not in self.local:
            self.soft_reads.add(name)

    def bind(self, name: str) -> None:
        if name in self.declared_global or is_state(name):
            self.defines.add(name)
        self.aliases.pop(name, None)

    def mutate(self, name: str, by_method: bool = False) -> None:
        if name not in self.local:
            self.reads.add(name)
            self.mutates.add(name)
            (self.by_method if by_method else self.by_other).add(name)
            return
        if name in self.params:
            self.mutated_params.add((self.params[name], name))
        if name in self._mutating:
            return
        self._mutating.add(name)
        try:
            for source in sorted(self.aliases.get(name, ())):
                self.mutate(source)
        finally:
            self._mutating.discard(name)

    def alias(self, name: str, sources: set[str]) -> None:
        if name in self.local:
            self.aliases[name] = {s for s in sources if s != name}

    def draw(self, name: str) -> None:
        if name not in self.local:
            self.reads.add(name)
            self.draws.add(name)
        elif name in self.params:
            self.drawn_params.add((self.params[name], name))

    def merge(self, inner: Effects) -> None:
        """A nested function's effects: what is not local here escapes further."""
        for name in inner.reads:
            self.read(name)
        for name in inner.soft_reads:
            self.soft(name)
        for name in inner.mutates:
            self.mutate(name, by_method=name in inner.method_only)
        for name in inner.draws:
            self.draw(name)
        self.defines |= inner.defines  # ``global x`` in a nested function is still global

    def effects(self) -> Effects:
        return Effects(
            frozenset(self.reads),
            frozenset(self.defines),
            frozenset(self.mutates),
            frozenset(self.soft_reads - self.reads),
            frozenset(self.draws),
            frozenset(self.mutated_params),
            frozenset(self.drawn_params),
            frozenset(self.by_method - self.by_other),
        )


class LocalScope(Scope):
    """A comprehension, class body or timeit namespace: binds stay inside, reads go out."""

    def __init__(self, parent: Scope, walrus_escapes: bool = False) -> None:
        self.parent = parent
        self.local: set[str] = set()
        self.walrus_escapes = walrus_escapes
        self.methods: list[Effects] = []  # class bodies: what their methods do when called
        self.aliases: dict[str, set[str]] = {}

    def read(self, name: str) -> None:
        if name not in self.local:
            self.parent.read(name)

    def soft(self, name: str) -> None:
        if name not in self.local:
            self.parent.soft(name)

    def bind(self, name: str) -> None:
        if is_state(name):
            self.parent.bind(name)
            return
        self.local.add(name)
        self.aliases.pop(name, None)

    def bind_walrus(self, name: str) -> None:
        if self.walrus_escapes:  # PEP 572: a walrus in a comprehension binds outside it
            self.parent.bind_walrus(name)
        else:
            self.bind(name)

    def mutate(self, name: str, by_method: bool = False) -> None:
        if name not in self.local:
            self.parent.mutate(name, by_method)
            return
        for source in sorted(self.aliases.pop(name, ())):
            self.mutate(source)

    def alias(self, name: str, sources: set[str]) -> None:
        self.aliases[name] = {s for s in sources if s != name}

    def draw(self, name: str) -> None:
        if name not in self.local:
            self.parent.draw(name)

    def call(self, function: str, arguments: list[Argument]) -> None:
        if function in self.local:
            return
        outside: list[Argument] = []
        for key, names in arguments:
            found = set()
            for name in names:
                found |= self.aliases.get(name, set()) if name in self.local else {name}
            if found:
                outside.append((key, tuple(sorted(found))))
        self.parent.call(function, outside)

    def defer(self, name: str, effects: Effects) -> None:
        if effects:
            self.methods.append(effects)

    def opaque(self, why: str) -> None:
        self.parent.opaque(why)
