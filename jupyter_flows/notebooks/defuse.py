"""What a cell defines, reads and changes in place: the facts the DAG is built from.

:func:`analyze` is pure: code in, :class:`DefUse` out. The code is first put through
IPython's own ``TransformerManager`` (so ``%magic``, ``!shell``, ``x = !cmd`` and ``obj?``
become the Python IPython would run), then read with :mod:`ast`. The rules, with the cases
knowingly not handled, are listed in ``docs/notebooks.md``; in short:

- **defines**: assignment targets (also in ``for``, ``with … as``, ``except … as``, walrus,
  ``match`` captures), imports, ``def`` and ``class``, augmented assignment, ``del``, and
  names bound by magics (``%%capture out``, ``%store -r x``, ``%%bash --out x``).
- **reads**: names loaded before this code binds them. Comprehension variables are local to
  the comprehension. Names read inside a ``def`` body are not read when the function is
  defined: they are recorded as the function's *deferred* effects, and count as reads of
  whichever cell uses the function (a call, or any other use of its name). A function that
  declares ``global x`` and assigns it defines ``x`` for that cell, in the same way. Lambda
  bodies count as read where the lambda is written. Names inside strings that are
  evaluated count too (``df.query("a > @limit")``, ``pd.eval("a + b")``).
- **mutates**: a name from before this code that it changes in place: ``x.attr = …``,
  ``x[k] = …``, ``del x[k]``, ``x[k] += …``, a call of a method named in
  :data:`MUTATING_METHODS` (or ending in one ``_``, PyTorch's in-place convention) on ``x`` or
  on anything reached from it (``x.a[0].append(…)``), any method call with ``inplace=True``,
  and ``setattr(x, …)``, ``random.shuffle(x)``, ``heapq.heappush(x, …)`` and the like. A
  mutated name is read too, and the cell makes a new version of it. A change through an
  alias changes what it aliases: ``for d in [train, test]: d["x"] = …`` changes both, and
  ``aliases`` tells the DAG what a name bound here may share objects with, so a change
  through ``frames`` in a later cell reaches the frames it holds.
- Any other method call is **read-only** (``df.head()``, ``df.describe()``, ``len(df)``): a
  call we cannot judge is taken as a read, because treating it as a change would chain every
  later cell that uses the name behind this one and lose the parallelism the DAG is for.
- **State outside names** (:mod:`defuse_state`): files at literal paths, global random
  state, magics from extensions, ``%store``, environment variables and installed packages
  are read and defined as state names (``file:out.csv``…); draws from a random generator
  (``rng.normal()``) are listed in ``draws`` for the DAG to judge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jupyter_flows.notebooks import defuse_magics, defuse_state
from jupyter_flows.notebooks.defuse_state import ENV, FILE, MODULE, RANDOM, is_state, word_set

MUTATING_METHODS = word_set(
    # list, deque, dict, set, bytearray
    "append appendleft extend extendleft insert remove pop popleft popitem clear sort reverse "
    "rotate update setdefault add discard difference_update intersection_update "
    "symmetric_difference_update "
    # numpy arrays
    "fill resize itemset "
    # scikit-learn style estimators
    "fit fit_transform fit_predict partial_fit set_params "
    # PyTorch modules and optimisers
    "step zero_grad backward load_state_dict "
    # files and csv writers
    "write writelines writerow writerows close"
)
"""Method names whose call changes the object it is called on."""

MUTATING_FUNCTIONS = word_set(
    "setattr delattr shuffle heappush heappop heapify heappushpop heapreplace copyto"
)
"""Functions (plain or module attributes) that change their first argument in place."""

# Calls that return something sharing the objects of their arguments (``enumerate(frames)``).
_PASS_THROUGH = word_set("enumerate zip reversed iter list tuple sorted filter chain")
_VIEW_METHODS = word_set("values items keys")
# Things that cannot be pickled, so cannot travel between tasks run in different processes.
_UNPICKLABLE_CALLS = {
    "open": "an open file",
    "connect": "a connection",
    "socket": "a socket",
    "Lock": "a lock",
    "RLock": "a lock",
    "Condition": "a condition variable",
    "Semaphore": "a semaphore",
    "Event": "an event",
    "Thread": "a thread",
    "Popen": "a process",
    "TemporaryFile": "an open file",
    "NamedTemporaryFile": "an open file",
}

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

    @property
    def deferred_map(self) -> Mapping[str, Effects]:
        return dict(self.deferred)

    @property
    def alias_map(self) -> Mapping[str, tuple[str, ...]]:
        return dict(self.aliases)


# ------------------------------------------------------------------ entry point


def analyze(code: str) -> DefUse:
    """The def/use facts of ``code`` (IPython syntax allowed). Never raises on bad code."""
    return _analyze_cached(code)


def transform(code: str) -> str:
    """``code`` as IPython runs it: magics, shell and help lines turned into Python."""
    transformed: str = _transformer().transform_cell(code)
    return transformed


@lru_cache(maxsize=8192)
def _analyze_cached(code: str) -> DefUse:
    try:
        tree = _parse(code)
    except SyntaxError:
        try:
            tree = _parse(transform(code))
        except SyntaxError as exc:
            return DefUse(error=f"line {exc.lineno}: {exc.msg}")
        except Exception as exc:  # IPython's transformers on pathological input
            return DefUse(error=f"IPython could not transform it: {exc}")
    scope = _ModuleScope()
    _Visitor(scope).visit_body(tree.body)
    return scope.result()


def _parse(code: str) -> ast.Module:
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT  # IPython's top-level await
    tree: ast.Module = compile(code, "<cell>", "exec", flags=flags, dont_inherit=True)
    return tree


@lru_cache(maxsize=1)
def _transformer() -> Any:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()  # type: ignore[no-untyped-call]


# ------------------------------------------------------------------ scopes


class _Scope:
    """Where names live while visiting: decides which reads and binds escape to globals."""

    def read(self, name: str) -> None:
        raise NotImplementedError

    def soft(self, name: str) -> None:
        """A read that counts only if an earlier cell defines ``name``."""

    def bind(self, name: str) -> None:
        raise NotImplementedError

    def bind_walrus(self, name: str) -> None:
        self.bind(name)

    def mutate(self, name: str) -> None:
        raise NotImplementedError

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


class _ModuleScope(_Scope):
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
                    self.mutate(mutated)
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
        if not keep_deferred:
            self.deferred.pop(name, None)

    def mutate(self, name: str) -> None:
        if name in self._mutating:
            return
        self._mutating.add(name)
        try:
            self.read(name)
            if name not in self.bound:
                self.mutates.add(name)
            for source in sorted(self.aliases.get(name, ())):
                self.mutate(source)  # a change through an alias changes what it aliases
        finally:
            self._mutating.discard(name)

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
        elif function not in self.bound and arguments:
            self.calls.append((function, tuple(arguments)))

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


class _FunctionScope(_Scope):
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

    def mutate(self, name: str) -> None:
        if name not in self.local:
            self.reads.add(name)
            self.mutates.add(name)
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
            self.mutate(name)
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
        )


class _LocalScope(_Scope):
    """A comprehension, class body or timeit namespace: binds stay inside, reads go out."""

    def __init__(self, parent: _Scope, walrus_escapes: bool = False) -> None:
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

    def mutate(self, name: str) -> None:
        if name not in self.local:
            self.parent.mutate(name)
            return
        for source in sorted(self.aliases.pop(name, ())):
            self.mutate(source)

    def alias(self, name: str, sources: set[str]) -> None:
        self.aliases[name] = {s for s in sources if s != name}

    def draw(self, name: str) -> None:
        if name not in self.local:
            self.parent.draw(name)

    def call(self, function: str, arguments: list[Argument]) -> None:
        if function not in self.local:
            self.parent.call(function, arguments)

    def defer(self, name: str, effects: Effects) -> None:
        if effects:
            self.methods.append(effects)

    def opaque(self, why: str) -> None:
        self.parent.opaque(why)


# ------------------------------------------------------------------ the visitor


class _Visitor(ast.NodeVisitor):
    """Visits statements in execution order, telling its scope about every name."""

    def __init__(self, scope: _Scope) -> None:
        self.scope = scope

    def visit_body(self, body: Iterable[ast.AST]) -> None:
        for node in body:
            self.visit(node)

    # ---------------------------------------------------------------- targets

    def bind_target(self, target: ast.expr, sources: set[str] | None = None) -> None:
        """Bind ``target``; ``sources``: the names whose objects the value may hold."""
        if isinstance(target, ast.Name):
            self.scope.bind(target.id)
            if sources:
                self.scope.alias(target.id, sources)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind_target(element, sources)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, sources)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            key = defuse_state.environment_key(target)
            if key is not None:
                self.scope.bind(ENV + key)  # os.environ["KEY"] = …
                return
            self.mutate_target(target)
        else:
            self.visit(target)

    def mutate_target(self, target: ast.Attribute | ast.Subscript) -> None:
        """``a.b[k] = …``: read what the target's expression needs, change its root."""
        self._visit_chain(target)
        root = _root_name(target)
        if root is not None:
            self.scope.mutate(root)

    def _visit_chain(self, node: ast.expr) -> None:
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Subscript):
                self.visit(node.slice)
            node = node.value
        if not isinstance(node, ast.Name):
            self.visit(node)

    # ---------------------------------------------------------------- statements

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._bind_value(target, node.value)
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            what = _unpicklable(node.value)
            if what:
                self.scope.note_value(name, what)
            if defuse_state.seeded_generator(node.value):
                self.scope.generator(name)

    def _bind_value(self, target: ast.expr, value: ast.expr) -> None:
        """``a, b = x, y`` pairs each target with its value; otherwise all with all."""
        if (
            isinstance(target, (ast.Tuple, ast.List))
            and isinstance(value, (ast.Tuple, ast.List))
            and len(target.elts) == len(value.elts)
            and not any(isinstance(e, ast.Starred) for e in [*target.elts, *value.elts])
        ):
            for element, part in zip(target.elts, value.elts, strict=True):
                self._bind_value(element, part)
            return
        self.bind_target(target, _alias_sources(value))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is None:
            if not isinstance(node.target, ast.Name):
                self._visit_chain(node.target)
            return  # ``x: int`` alone binds nothing
        self.visit(node.value)
        self._bind_value(node.target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.scope.read(node.target.id)
            self.scope.bind(node.target.id)
        else:
            self.bind_target(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._delete(target)

    def _delete(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.scope.delete(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._delete(element)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            self.mutate_target(target)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(alias.name)
            self.scope.bind(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            self._imported(node.module)
        for alias in node.names:
            if alias.name == "*":
                self.scope.opaque(f"from {'.' * node.level}{node.module or ''} import *")
            else:
                self.scope.bind(alias.asname or alias.name)

    def _imported(self, module: str) -> None:
        """An import reads the module file a cell wrote, or the package it installed."""
        top = module.split(".")[0]
        self.scope.read(MODULE + defuse_state.module_name(top))
        for path in defuse_state.module_files(module):
            self.scope.read(FILE + path)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.bind_target(node.target, _alias_sources(node.iter))
        self.visit_body(node.body)
        self.visit_body(node.orelse)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.bind_target(item.optional_vars)
                what = _unpicklable(item.context_expr)
                if what and isinstance(item.optional_vars, ast.Name):
                    self.scope.note_value(item.optional_vars.id, what)
        self.visit_body(node.body)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.scope.bind(node.name)
        self.visit_body(node.body)

    def visit_Global(self, node: ast.Global) -> None:
        """At a cell's top level ``global x`` changes nothing (see FunctionScope for defs)."""

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        pass

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.scope.bind_walrus(node.target.id)

    def visit_match_case(self, node: ast.match_case) -> None:
        self.visit(node.pattern)
        if node.guard is not None:
            self.visit(node.guard)
        self.visit_body(node.body)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self.scope.bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.scope.bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.scope.bind(node.rest)

    # ---------------------------------------------------------------- functions and classes

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._visit_signature(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        effects = function_effects(node)
        self.scope.bind(node.name)
        if isinstance(self.scope, _FunctionScope):
            self.scope.merge(effects)  # a nested def: its effects are its parent's
        else:
            self.scope.defer(node.name, effects)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        """A lambda's body counts as read where it is written (it is usually called there)."""
        self._visit_signature(node.args)
        effects = function_effects(node)
        for name in sorted(effects.reads):
            self.scope.read(name)
        for name in sorted(effects.soft_reads):
            self.scope.soft(name)
        for name in sorted(effects.draws):
            self.scope.draw(name)
        for name in sorted(effects.mutates):
            self.scope.mutate(name)

    def _visit_signature(self, args: ast.arguments) -> None:
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        body = _LocalScope(self.scope)
        _Visitor(body).visit_body(node.body)
        merged = Effects(
            frozenset().union(*(e.reads for e in body.methods)),
            frozenset().union(*(e.defines for e in body.methods)),
            frozenset().union(*(e.mutates for e in body.methods)),
            frozenset().union(*(e.soft_reads for e in body.methods)),
            frozenset().union(*(e.draws for e in body.methods)),
        )
        self.scope.bind(node.name)
        if isinstance(self.scope, _FunctionScope):
            self.scope.merge(merged)
        else:
            self.scope.defer(node.name, merged)

    # ---------------------------------------------------------------- comprehensions

    def _comprehension(self, generators: list[ast.comprehension], *parts: ast.expr) -> None:
        self.visit(generators[0].iter)  # the first iterable is evaluated outside
        inner = _Visitor(_LocalScope(self.scope, walrus_escapes=True))
        for number, generator in enumerate(generators):
            if number:
                inner.visit(generator.iter)
            inner.bind_target(generator.target, _alias_sources(generator.iter))
            for condition in generator.ifs:
                inner.visit(condition)
        for part in parts:
            inner.visit(part)

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._comprehension(node.generators, node.elt)

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node.generators, node.key, node.value)

    # ---------------------------------------------------------------- expressions

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.scope.read(node.id)
        elif isinstance(node.ctx, ast.Del):
            self.scope.delete(node.id)
        else:  # a Store our statement handlers did not route (new syntax): still a binding
            self.scope.bind(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        if self._ipython_call(node):
            return
        code = defuse_state.exec_code(node)
        if code is not None:
            self.generic_visit(node)
            self.python(code, isolated=False)  # exec("x = 1") runs in this namespace
            return
        self.generic_visit(node)
        self._in_place(node)
        self._files(node)
        self._random(node)
        strict, soft = defuse_state.evaluated_names(node)
        for name in sorted(strict):
            self.scope.read(name)
        for name in sorted(soft):
            self.scope.soft(name)
        setting, reading = defuse_state.environment_call(node)
        if setting:
            self.scope.bind(ENV + setting)
        if reading:
            self.scope.read(ENV + reading)
        if isinstance(node.func, ast.Name):
            arguments: list[Argument] = []
            for position, arg in enumerate(node.args):
                names = _alias_sources(arg.value if isinstance(arg, ast.Starred) else arg)
                if names:
                    arguments.append((position, tuple(sorted(names))))
            for keyword in node.keywords:
                names = _alias_sources(keyword.value)
                if keyword.arg and names:
                    arguments.append((keyword.arg, tuple(sorted(names))))
            self.scope.call(node.func.id, arguments)

    def _in_place(self, node: ast.Call) -> None:
        func = node.func
        inplace = any(
            k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if isinstance(func, ast.Attribute) and (
            inplace
            or func.attr in MUTATING_METHODS
            or _torch_inplace(func.attr)
            or func.attr in defuse_state.MODULE_SETTERS
            or (func.attr == "use" and (defuse_state.dotted(func) or "").endswith("style.use"))
        ):
            root = _root_name(func.value)
            if root is not None:
                self.scope.mutate(root)
        elif name in MUTATING_FUNCTIONS and node.args:
            root = _root_name(node.args[0])
            if root is not None:
                self.scope.mutate(root)

    def _files(self, node: ast.Call) -> None:
        written, appended, read = defuse_state.file_effects(node)
        for path in read:
            self.scope.read(FILE + path)
        touched = set(written) | set(appended) | set(read)
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            literal = defuse_state.path_literal(arg)
            if literal and literal not in touched and defuse_state.looks_like_path(literal):
                self.scope.read(FILE + literal)  # a literal path: the file an earlier cell wrote
        for path in appended:
            self.scope.mutate(FILE + path)
        for path in written:
            self.scope.bind(FILE + path)

    def _random(self, node: ast.Call) -> None:
        seeded, drawn = defuse_state.global_random(node)
        if seeded:
            self.scope.bind(RANDOM + seeded)
        elif drawn:
            self.scope.mutate(RANDOM + drawn)
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in defuse_state.GENERATOR_DRAWS
            and isinstance(func.value, ast.Name)
        ):
            self.scope.draw(func.value.id)
        for keyword in node.keywords:
            if keyword.arg in defuse_state.GENERATOR_KEYWORDS and isinstance(
                keyword.value, ast.Name
            ):
                self.scope.draw(keyword.value.id)

    # ---------------------------------------------------------------- IPython

    def _ipython_call(self, node: ast.Call) -> bool:
        """``get_ipython().run_line_magic('time', 'x = 1')`` and friends, as IPython wrote them."""
        func = node.func
        if not (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython"
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
        ):
            return False
        args = [str(a.value) for a in node.args if isinstance(a, ast.Constant)]
        if func.attr in ("system", "getoutput") and args:
            defuse_magics.shell(self.scope, args[0])
        elif func.attr == "run_line_magic" and len(args) == 2:
            defuse_magics.line_magic(self, *args)
        elif func.attr == "run_cell_magic" and len(args) == 3:
            defuse_magics.cell_magic(self, *args)
        else:
            return False
        return True

    def python(self, code: str, *, isolated: bool) -> None:
        """Python a magic runs: in this namespace, or (``isolated``) in one of its own."""
        try:
            tree = _parse(code)
        except SyntaxError:
            return
        scope = _LocalScope(self.scope) if isolated else self.scope
        _Visitor(scope).visit_body(tree.body)


# ------------------------------------------------------------------ helpers


def function_effects(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> Effects:
    """What calling the function reads, defines (``global``) and mutates of the globals."""
    local, declared = _locals_of(node)
    args = node.args
    params = [a.arg for a in [*args.posonlyargs, *args.args]]
    scope = _FunctionScope(local, declared, params)
    for arg in args.kwonlyargs:
        scope.params.setdefault(arg.arg, -1)
    visitor = _Visitor(scope)
    if isinstance(node, ast.Lambda):
        visitor.visit(node.body)
    else:
        visitor.visit_body(node.body)
    return scope.effects()


def _locals_of(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
) -> tuple[set[str], set[str]]:
    """Python's rule: a name bound anywhere in the body is local, unless declared global."""
    args = node.args
    local = {
        a.arg
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        if a is not None
    }
    declared: set[str] = set()
    stack: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
    while stack:
        item = stack.pop()
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            local.add(item.name)
            continue  # its body is another scope
        if isinstance(item, ast.Lambda):
            continue
        if isinstance(item, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            local.update(n.target.id for n in ast.walk(item) if isinstance(n, ast.NamedExpr))
            continue
        if isinstance(item, ast.Name) and not isinstance(item.ctx, ast.Load):
            local.add(item.id)
        elif isinstance(item, ast.NamedExpr):
            local.add(item.target.id)
        elif isinstance(item, (ast.Import, ast.ImportFrom)):
            local.update((a.asname or a.name.split(".")[0]) for a in item.names if a.name != "*")
        elif isinstance(item, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and item.name:
            local.add(item.name)
        elif isinstance(item, ast.MatchMapping) and item.rest:
            local.add(item.rest)
        elif isinstance(item, (ast.Global, ast.Nonlocal)):
            declared.update(item.names)
        stack.extend(ast.iter_child_nodes(item))
    return local - declared, declared


def _alias_sources(node: ast.expr | None) -> set[str]:
    """The names whose objects ``node``'s value may hold or be: ``[a, b]`` → a, b.

    Containers of names, an element or slice of a name (``frames[0]``, ``a[::2]``, a NumPy
    view), ``enumerate``/``zip``/``list``… of them, ``d.values()``, ``x if c else y``.
    """
    if node is None:
        return set()
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return set().union(
            *(_alias_sources(e.value if isinstance(e, ast.Starred) else e) for e in node.elts)
        )
    if isinstance(node, ast.Dict):
        return set().union(*(_alias_sources(v) for v in node.values))
    if isinstance(node, ast.Subscript) and _is_view_index(node.slice):
        return _alias_sources(node.value)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in _PASS_THROUGH:
            return set().union(*(_alias_sources(a) for a in node.args))
        if isinstance(func, ast.Attribute) and func.attr in _VIEW_METHODS and not node.args:
            return _alias_sources(func.value)
        return set()
    if isinstance(node, ast.IfExp):
        return _alias_sources(node.body) | _alias_sources(node.orelse)
    if isinstance(node, ast.BoolOp):
        return set().union(*(_alias_sources(v) for v in node.values))
    if isinstance(node, ast.NamedExpr):
        return _alias_sources(node.value)
    return set()


def _is_view_index(index: ast.expr) -> bool:
    if isinstance(index, (ast.Constant, ast.Slice)):
        return True
    if isinstance(index, ast.Tuple):
        return all(isinstance(e, (ast.Constant, ast.Slice)) for e in index.elts)
    return isinstance(index, ast.UnaryOp) and isinstance(index.operand, ast.Constant)


def _root_name(node: ast.expr) -> str | None:
    """``a`` for ``a``, ``a.b``, ``a[0].c``; None when the chain starts elsewhere (a call)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _torch_inplace(method: str) -> bool:
    return len(method) > 1 and method.endswith("_") and not method.endswith("__")


def _unpicklable(value: ast.expr) -> str | None:
    if isinstance(value, ast.GeneratorExp):
        return "a generator"
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return _UNPICKLABLE_CALLS.get(name)
    return None


def merge_sources(sources: Iterable[str]) -> DefUse:
    """The facts of cells run one after the other as one task (``flow:merge``)."""
    sources = list(sources)
    if len(sources) == 1:
        return analyze(sources[0])
    pieces = []
    for source in sources:
        try:
            _parse(source)
            pieces.append(source)
        except SyntaxError:
            pieces.append(transform(source))  # a cell magic is a magic of its own cell only
    return analyze("\n\n".join(pieces))


__all__ = [
    "MUTATING_FUNCTIONS",
    "MUTATING_METHODS",
    "DefUse",
    "Effects",
    "analyze",
    "function_effects",
    "is_state",
    "merge_sources",
    "transform",
]
