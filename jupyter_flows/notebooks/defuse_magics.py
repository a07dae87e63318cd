"""What IPython's magics and shell lines read and define, for :mod:`defuse`.

IPython's ``TransformerManager`` turns ``%magic line`` into
``get_ipython().run_line_magic('magic', 'line')`` (and ``%%magic`` cells, ``!cmd``,
``x = !cmd`` likewise); :mod:`defuse` hands those calls here. A magic whose argument or
body is Python run in the user's namespace (``%time``, ``%prun``, ``%lprun -f f f(1)``,
``%memit f(1)``, ``%%capture``) is analysed as Python; ``%timeit`` runs in a namespace of
its own (reads only). A magic that is not IPython's own reads the ``magic:NAME`` state that
``%load_ext`` of its extension defines. ``%store``, ``%env``, ``%pip install``, ``%run``,
``%%writefile`` and shell commands read and write the state names of
:mod:`defuse_state` (files, stored values, environment variables, packages).
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from jupyter_flows.notebooks.defuse_state import (
    ANY_MAGIC,
    DIR,
    ENV,
    FILE,
    MAGIC,
    MODULE,
    STORE,
    folder,
    module_files,
    normal_path,
    shell_effects,
    sql_tables,
)

if TYPE_CHECKING:
    from jupyter_flows.notebooks.defuse_scopes import Effects

# Magics whose argument or body is Python run in the user's namespace, with the options
# that take a value (``-s key``).
PYTHON_LINE_MAGICS: dict[str, tuple[str, ...]] = {
    "time": (),
    "prun": ("s", "l", "T", "D"),
    "lprun": ("f", "m", "D", "T", "u"),
    "mprun": ("f", "m", "T"),
    "memit": ("r", "t", "i"),
}
PYTHON_CELL_MAGICS: dict[str, tuple[str, ...]] = {
    "time": (),
    "prun": ("s", "l", "T", "D"),
    "capture": (),
    "memit": ("r", "t", "i"),
}
# Options whose value is a function or module the profiler reads (``%lprun -f f``).
_READ_OPTIONS = {"lprun": ("f", "m"), "mprun": ("f", "m")}
# Run in a namespace of their own (timeit): reads only.
ISOLATED_MAGICS: dict[str, tuple[str, ...]] = {"timeit": ("n", "r", "p")}
HELP_MAGICS = frozenset({"pinfo", "pinfo2", "pdef", "pdoc", "psource", "pfile"})
# Cell magics that run another program and can keep its output: ``%%bash --out x``.
SCRIPT_MAGICS = frozenset(
    {"bash", "sh", "script", "perl", "ruby", "python", "python2", "python3", "pypy"}
)
_SHELL_MAGICS = frozenset({"bash", "sh", "sx", "system"})

# The magics each extension adds (``%load_ext line_profiler`` → ``%lprun``).
EXTENSION_MAGICS: dict[str, tuple[str, ...]] = {
    "line_profiler": ("lprun",),
    "memory_profiler": ("memit", "mprun"),
    "autoreload": ("autoreload", "aimport"),
    "sql": ("sql", "sqlcmd", "sqlplot"),
    "Cython": ("cython", "cython_inline", "cython_pyximport"),
    "cython": ("cython", "cython_inline", "cython_pyximport"),
    "rpy2.ipython": ("R", "Rpush", "Rpull", "Rget", "Rdevice"),
    "watermark": ("watermark",),
    "tensorboard": ("tensorboard",),
    "dotenv": ("dotenv",),
    "snakeviz": ("snakeviz",),
    "pyinstrument": ("pyinstrument",),
    "ipytest": ("ipytest",),
    "heat": ("heat",),
    "scalene": ("scrun", "scalene"),
    "jupyter_flows": ("flow",),
    "jupyter_ai": ("ai", "ai_magics"),
    "storemagic": ("store",),
    "lab_black": (),
    "nb_black": (),
    "jupyter_black": (),
    "itables": (),
}

# IPython's own magics besides those of ``IPython.core.magics``: the kernel's, the
# default aliases (``%ls``…) and the store magic it loads by default.
_KERNEL_MAGICS = (
    "store connect_info qtconsole clear less more man edit autosave ls cat cp mkdir mv rm "
    "rmdir ldir lf lk ll lx bash sh perl ruby python python2 python3 pypy svg html "
    "javascript js latex markdown file writefile"
)


@lru_cache(maxsize=1)
def builtin_magics() -> frozenset[str]:
    """Every magic a fresh IPython kernel has, so needs no ``%load_ext``."""
    import inspect

    names = set(_KERNEL_MAGICS.split())
    try:
        from IPython.core import magics

        for _, cls in inspect.getmembers(magics, inspect.isclass):
            table = getattr(cls, "magics", None)
            if isinstance(table, dict):
                for kind in ("line", "cell"):
                    names.update(table.get(kind, {}))
    except Exception:  # pragma: no cover - IPython ships with jupyter
        pass
    return frozenset(names)


class Scope(Protocol):
    def read(self, name: str) -> None: ...
    def soft(self, name: str) -> None: ...
    def bind(self, name: str) -> None: ...
    def mutate(self, name: str, by_method: bool = False) -> None: ...
    def opaque(self, why: str) -> None: ...
    def defer(self, name: str, effects: Effects) -> None: ...


class Visitor(Protocol):
    @property
    def scope(self) -> Scope: ...

    def python(self, code: str, *, isolated: bool) -> None: ...
    def script_effects(self, code: str) -> Effects: ...


def line_magic(visitor: Visitor, magic: str, line: str) -> None:
    """``%magic line``: what it reads and defines."""
    scope = visitor.scope
    if magic not in builtin_magics():
        scope.read(MAGIC + magic)
    if magic in PYTHON_LINE_MAGICS:
        options = PYTHON_LINE_MAGICS[magic]
        for name in _option_values(line, _READ_OPTIONS.get(magic, ())):
            scope.read(name)
        visitor.python(strip_options(line, options), isolated=False)
    elif magic in ISOLATED_MAGICS:
        visitor.python(strip_options(line, ISOLATED_MAGICS[magic]), isolated=True)
    elif magic in HELP_MAGICS:
        root = _root_of_source(line)
        if root:
            scope.read(root)
    elif magic == "store":
        _store(scope, line)
    elif magic == "run":
        _run(scope, line)
    elif magic in ("load_ext", "reload_ext"):
        for extension in _split(line):
            magics = EXTENSION_MAGICS.get(extension)
            for name in magics if magics is not None else ():
                scope.bind(MAGIC + name)
            if magics is None:
                scope.bind(ANY_MAGIC)
    elif magic in ("pip", "conda", "mamba", "micromamba", "uv"):
        expand(scope, line)
        _, _, _, installed = shell_effects(f"{magic} {line}")
        for package in installed:
            scope.bind(MODULE + package)
    elif magic in ("env", "set_env"):
        _env(scope, line, magic == "set_env")
    elif magic in _SHELL_MAGICS:
        shell(scope, line)
    elif magic == "sql":
        expand(scope, line)
        _sql(scope, line)
    else:
        expand(scope, line)


def cell_magic(visitor: Visitor, magic: str, line: str, body: str) -> None:
    """``%%magic line`` over ``body``: what it reads and defines."""
    scope = visitor.scope
    if magic not in builtin_magics():
        scope.read(MAGIC + magic)
    if magic in PYTHON_CELL_MAGICS:
        words = strip_options(line, PYTHON_CELL_MAGICS[magic]).split()
        visitor.python(body, isolated=False)
        if magic == "capture" and words:
            scope.bind(words[0])  # %%capture out: the captured output
    elif magic in ISOLATED_MAGICS:
        setup = strip_options(line, ISOLATED_MAGICS[magic])
        visitor.python(f"{setup}\n{body}", isolated=True)
    elif magic in ("writefile", "file"):
        expand(scope, line)
        words = _split(line)
        append = "-a" in words or "--append" in words
        paths = [w for w in words if not w.startswith("-")]
        path = normal_path(paths[0]) if paths else None
        if path is not None:
            write_file(scope, path, append=append)
            if path.endswith(".py"):  # what running or importing the file does to files
                scope.defer(FILE + path, visitor.script_effects(body))
    elif magic == "sql":
        expand(scope, line)
        words = line.split()
        if len(words) >= 2 and words[1] == "<<" and words[0].isidentifier():
            scope.bind(words[0])  # %%sql result << SELECT …
        _sql(scope, body)
    else:
        expand(scope, line)
        words = _split(line)
        if magic in ("bash", "sh") or (magic == "script" and words[:1] in (["bash"], ["sh"])):
            for command in body.splitlines():
                shell(scope, command, expand_names=False)
        if magic in SCRIPT_MAGICS:
            for name in _script_outputs(words):
                scope.bind(name)


def shell(scope: Scope, command: str, *, expand_names: bool = True) -> None:
    """A shell command: the names IPython expands in it and the files it touches."""
    if expand_names:
        expand(scope, command)
    written, appended, read, installed = shell_effects(command)
    for path in read:
        scope.read(FILE + path)
    for path in appended:
        write_file(scope, path, append=True)
    for path in written:
        write_file(scope, path, append=False)
    for package in installed:
        scope.bind(MODULE + package)


def write_file(scope: Scope, path: str, *, append: bool) -> None:
    """A file written (or appended to): its new version, read of the folder it is in."""
    if append:
        scope.mutate(FILE + path)
    else:
        scope.bind(FILE + path)
    parent = folder(path)
    if parent is not None:
        scope.read(DIR + parent)


def expand(scope: Scope, text: str) -> None:
    """IPython expands ``{expr}`` and ``$name`` in shell and magic lines.

    ``$name`` is left to the shell when no Python name has it, so it reads softly (and
    reads the environment variable of that name).
    """
    dollars, braces = expanded_names(text)
    for name in sorted(braces):
        scope.read(name)
    for name in sorted(dollars - braces):
        scope.soft(name)
        scope.read(ENV + name)


_DOLLAR = re.compile(r"(?<!\$)\$([A-Za-z_]\w*)")


def expanded_names(text: str) -> tuple[set[str], set[str]]:
    """(``$name`` names, names inside ``{expr}``) of a line IPython expands."""
    import ast

    dollars = set(_DOLLAR.findall(text.replace("$$", "")))
    braces: set[str] = set()
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f]
    except ValueError:
        fields = []
    for field_text in fields:
        try:
            expr = ast.parse(field_text, mode="eval")
        except SyntaxError:
            continue
        braces.update(
            n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        )
    return dollars, braces


def _store(scope: Scope, line: str) -> None:
    words = _split(line)
    if words[:1] == ["-r"]:
        if len(words) == 1:
            scope.opaque("%store -r")
        for name in words[1:]:
            if name.isidentifier():
                scope.read(STORE + name)
                scope.bind(name)
    elif words[:1] == ["-d"]:
        for name in words[1:]:
            if name.isidentifier():  # a removal is a new version, as ``del x``
                scope.read(STORE + name)
                scope.bind(STORE + name)
    elif words and not words[0].startswith("-"):
        redirect = next((i for i, w in enumerate(words) if w.startswith(">")), len(words))
        for name in words[:redirect]:
            if name.isidentifier():
                scope.read(name)
                if redirect == len(words):  # ``%store x >file`` writes the file only
                    scope.bind(STORE + name)
        target = "".join(words[redirect:]).lstrip(">")
        path = normal_path(target) if target else None
        if path is not None:
            write_file(scope, path, append=">>" in line)


def _run(scope: Scope, line: str) -> None:
    scope.opaque(f"%run {line}".strip())
    words = _split(line)
    module = False
    for word in words:
        if word == "-m":
            module = True
            continue
        if word.startswith("-"):
            continue
        if module:
            for file in module_files(word):
                scope.read(FILE + file)
        else:
            path = normal_path(word)
            if path is not None:
                scope.read(FILE + path)
        break


def _env(scope: Scope, line: str, always_set: bool) -> None:
    text = line.strip()
    if not text:
        return
    if "=" in text.split()[0]:
        name = text.partition("=")[0].strip()
    else:
        name, _, value = text.partition(" ")
        if not value.strip() and not always_set:
            scope.read(ENV + name)
            return
    if name.isidentifier():
        scope.bind(ENV + name)


def _sql(scope: Scope, text: str) -> None:
    for table in sorted(sql_tables(text)):
        scope.soft(table)


def _option_values(line: str, options: Iterable[str]) -> Iterator[str]:
    wanted = {f"-{o}" for o in options}
    words = _split(line)
    for option, value in zip(words, words[1:], strict=False):
        if option in wanted and value.isidentifier():
            yield value


def strip_options(line: str, takes_value: Iterable[str]) -> str:
    """``-n 10 -r 3 x = f()`` → ``x = f()`` for a magic whose options are ``-X [value]``."""
    with_value = set(takes_value)
    rest = line.lstrip()
    while rest.startswith("-"):
        option, _, rest = rest.partition(" ")
        if option.lstrip("-")[:1] in with_value and len(option.lstrip("-")) == 1:
            _, _, rest = rest.lstrip().partition(" ")
        rest = rest.lstrip()
    return rest


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def _script_outputs(words: list[str]) -> Iterator[str]:
    for option, value in zip(words, words[1:], strict=False):
        if option in ("--out", "--err", "--proc") and value.isidentifier():
            yield value


def _root_of_source(text: str) -> str | None:
    import ast

    try:
        expr = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    while isinstance(expr, (ast.Attribute, ast.Subscript, ast.Starred)):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None
