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

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from jupyter_flows.notebooks.defuse_scopes import (
    Argument,
    DefUse,
    Effects,
    ModuleScope,
    changed_arguments,
)
from jupyter_flows.notebooks.defuse_state import is_state
from jupyter_flows.notebooks.defuse_visitor import (
    MUTATING_FUNCTIONS,
    MUTATING_METHODS,
    Visitor,
    function_effects,
    parse_cell,
)

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
        tree = parse_cell(code)
    except SyntaxError:
        try:
            tree = parse_cell(transform(code))
        except SyntaxError as exc:
            return DefUse(error=f"line {exc.lineno}: {exc.msg}")
        except Exception as exc:  # IPython's transformers on pathological input
            return DefUse(error=f"IPython could not transform it: {exc}")
    scope = ModuleScope()
    Visitor(scope).visit_body(tree.body)
    return scope.result()


@lru_cache(maxsize=1)
def _transformer() -> Any:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()  # type: ignore[no-untyped-call]


def merge_sources(sources: Iterable[str]) -> DefUse:
    """The facts of cells run one after the other as one task (``flow:merge``)."""
    sources = list(sources)
    if len(sources) == 1:
        return analyze(sources[0])
    pieces = []
    for source in sources:
        try:
            parse_cell(source)
            pieces.append(source)
        except SyntaxError:
            pieces.append(transform(source))  # a cell magic is a magic of its own cell only
    return analyze("\n\n".join(pieces))


__all__ = [
    "MUTATING_FUNCTIONS",
    "MUTATING_METHODS",
    "Argument",
    "DefUse",
    "Effects",
    "analyze",
    "changed_arguments",
    "function_effects",
    "is_state",
    "merge_sources",
    "transform",
]
