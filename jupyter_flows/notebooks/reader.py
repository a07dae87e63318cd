"""Notebooks and scripts → a list of cells: ids, indices, types, tags and source.

Three inputs give the same :class:`Cell` list:

- a notebook (``.ipynb``), read and validated with nbformat. Cell ids are the notebook's own
  (nbformat 4.5); a cell without one (older notebooks) gets ``cell-<index>``, never a random
  id, so reading the same file twice gives the same ids.
- a jupytext *percent* script: ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown
  cell, ``# %% Title`` names it and ``# %% tags=["parameters"]`` tags it; magics commented out
  the jupytext way (``# %time …``, ``# !ls``) are uncommented. Scripts exported by
  ``jupyter nbconvert --to script`` (``# In[3]:`` markers) read the same way.
- a plain ``.py`` script: its top-level statements, split into cells at blank lines; a
  comment block that opens a cell names it, and a module docstring is a markdown cell.

Anything malformed raises :class:`NotebookError`, whose message names the file, the cell
and the problem.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CellType = Literal["code", "markdown", "raw"]
SourceKind = Literal["notebook", "percent", "script"]

SUPPORTED_SUFFIXES = (".ipynb", ".py")


class NotebookError(ValueError):
    """A notebook, script or selection that cannot be converted; the message says why."""

    def __init__(self, path: str, problem: str, *, cell: int | None = None) -> None:
        where = f"{path}, cell {cell}" if cell is not None else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.cell = cell
        self.problem = problem


@dataclass(frozen=True)
class Cell:
    """One cell. ``index`` counts every cell of the file from 0, markdown included."""

    index: int
    id: str
    cell_type: CellType
    source: str
    tags: tuple[str, ...] = ()
    title: str | None = None  # a percent script's ``# %% Title``, or a leading comment


@dataclass(frozen=True)
class Source:
    """A file's cells and what kind of file it was."""

    path: str
    kind: SourceKind
    cells: tuple[Cell, ...] = field(default_factory=tuple)


# ------------------------------------------------------------------ entry points


def read_path(path: str | Path) -> Source:
    """Read a notebook or a script at ``path`` (by its suffix)."""
    shown = str(path)
    file = Path(path)
    if file.suffix not in SUPPORTED_SUFFIXES:
        raise NotebookError(shown, "expected a notebook (.ipynb) or a Python script (.py)")
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError(shown, "no such file") from None
    except IsADirectoryError:
        raise NotebookError(shown, "is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise NotebookError(shown, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if file.suffix == ".ipynb":
        return read_notebook_text(text, shown)
    return read_script_text(text, shown)


def read_notebook_text(text: str, path: str = "<notebook>") -> Source:
    """Parse and validate notebook JSON text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            path, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    return read_notebook_dict(data, path)


def read_notebook_dict(data: Any, path: str = "<notebook>") -> Source:
    """Validate a notebook already parsed from JSON (a dict or an nbformat NotebookNode)."""
    if not isinstance(data, dict):
        raise NotebookError(path, f"a notebook is a JSON object, not {type(data).__name__}")
    version = data.get("nbformat")
    if version is None:
        raise NotebookError(path, "not a notebook: no 'nbformat' field")
    if not isinstance(version, int) or isinstance(version, bool) or version not in (3, 4):
        raise NotebookError(
            path, f"unsupported nbformat {version!r}: jupyter-flows reads nbformat 4 (and 3)"
        )
    if version == 4:
        _check_cells(data, path)  # clearer messages than the schema's for the common mistakes
    notebook = _nbformat_validated(data, path)
    raw_cells = data.get("cells") if version == 4 else None
    cells = []
    for index, node in enumerate(notebook.cells):
        raw_id = raw_cells[index].get("id") if raw_cells is not None else None
        cell_id = raw_id if isinstance(raw_id, str) and raw_id else f"cell-{index}"
        tags = node.get("metadata", {}).get("tags") or []
        cells.append(
            Cell(
                index=index,
                id=cell_id,
                cell_type=node.cell_type,
                source="".join(node.source) if isinstance(node.source, list) else node.source,
                tags=tuple(str(tag) for tag in tags),
            )
        )
    _check_unique_ids(cells, path)
    return Source(path=path, kind="notebook", cells=tuple(cells))


def read_script_text(text: str, path: str = "<script>") -> Source:
    """A percent (``# %%``) or nbconvert (``# In[ ]:``) script, else a plain script."""
    lines = text.splitlines()
    if any(_PERCENT.match(line) or _NBCONVERT.match(line) for line in lines):
        return Source(path=path, kind="percent", cells=tuple(_percent_cells(lines, path)))
    return Source(path=path, kind="script", cells=tuple(_plain_cells(text, path)))


# ------------------------------------------------------------------ notebooks


_CELL_TYPES = ("code", "markdown", "raw")


def _check_cells(data: dict[str, Any], path: str) -> None:
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise NotebookError(path, "'cells' is missing or not a list")
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise NotebookError(path, "a cell must be a JSON object", cell=index)
        kind = cell.get("cell_type")
        if kind not in _CELL_TYPES:
            raise NotebookError(
                path, f"unknown cell_type {kind!r} (expected code, markdown or raw)", cell=index
            )
        if "source" not in cell:
            raise NotebookError(path, "the cell has no 'source'", cell=index)
        source = cell["source"]
        if not (
            isinstance(source, str)
            or (isinstance(source, list) and all(isinstance(s, str) for s in source))
        ):
            raise NotebookError(path, "'source' must be a string or a list of strings", cell=index)
        tags = (cell.get("metadata") or {}).get("tags", [])
        if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            raise NotebookError(path, "metadata 'tags' must be a list of strings", cell=index)


def _nbformat_validated(data: dict[str, Any], path: str) -> Any:
    import nbformat
    from nbformat.validator import ValidationError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing ids: we give our own, stable ones below
        try:
            notebook = nbformat.from_dict(json.loads(json.dumps(data)))
            if data["nbformat"] != 4:
                notebook = nbformat.convert(notebook, 4)
            nbformat.validate(notebook)
        except ValidationError as exc:
            raise NotebookError(path, _describe(exc), cell=_cell_of(exc)) from None
        except Exception as exc:  # nbformat's upgrade code raises a little of everything
            raise NotebookError(path, f"not a valid notebook: {exc}") from None
    return notebook


def _cell_of(exc: Any) -> int | None:
    where = list(getattr(exc, "absolute_path", []) or [])
    if len(where) >= 2 and where[0] == "cells" and isinstance(where[1], int):
        return int(where[1])
    return None


def _describe(exc: Any) -> str:
    where = [str(p) for p in (getattr(exc, "absolute_path", []) or [])]
    if where[:1] == ["cells"]:
        where = where[2:]
    message = getattr(exc, "message", None) or str(exc).splitlines()[0]
    return f"{'/'.join(where)}: {message}" if where else f"invalid notebook: {message}"


def _check_unique_ids(cells: list[Cell], path: str) -> None:
    seen: dict[str, int] = {}
    for cell in cells:
        if cell.id in seen:
            raise NotebookError(
                path, f"cell id {cell.id!r} is also the id of cell {seen[cell.id]}", cell=cell.index
            )
        seen[cell.id] = cell.index


# ------------------------------------------------------------------ percent scripts

_PERCENT = re.compile(r"^#\s?%%(?:\s+(?P<rest>.*?))?\s*$")
_NBCONVERT = re.compile(r"^# In\[[ \d]*\]:\s*$")
_KIND = re.compile(r"\[(markdown|md|raw)\]")
_META_KEY = re.compile(r"(?:^|\s)([A-Za-z_][\w.-]*)=")
# jupytext comments magics out in scripts: ``# %time x``, ``# %%bash``, ``# !ls``.
_COMMENTED_MAGIC = re.compile(r"^(\s*)#\s?((?:%{1,2}|!)[A-Za-z_])")
_HEADER_LINE = re.compile(r"^#\s?---\s*$")


def _percent_cells(lines: list[str], path: str) -> list[Cell]:
    start = _skip_header(lines)
    blocks: list[tuple[int, str | None, list[str]]] = []  # (marker line, marker rest, lines)
    current: list[str] = []
    marker: tuple[int, str | None] | None = None
    for number, line in enumerate(lines[start:], start=start + 1):
        found = _PERCENT.match(line)
        if found or _NBCONVERT.match(line):
            if marker is not None or any(s.strip() for s in current):
                blocks.append((*(marker or (0, None)), current))
            marker = (number, (found.group("rest") or "") if found else "")
            current = []
        else:
            current.append(line)
    if marker is not None or any(s.strip() for s in current):
        blocks.append((*(marker or (0, None)), current))

    cells = []
    for index, (number, rest, body) in enumerate(blocks):
        kind, title, tags = _parse_marker(rest or "", path, number, index)
        text = "\n".join(body).strip("\n")
        if kind in ("markdown", "raw"):
            text = "\n".join(_uncomment(line) for line in text.splitlines())
        elif kind == "code":
            text = "\n".join(_COMMENTED_MAGIC.sub(r"\1\2", line) for line in text.splitlines())
        cells.append(Cell(index, f"cell-{index}", kind, text, tags, title))
    return cells


def _skip_header(lines: list[str]) -> int:
    """A jupytext YAML header (``# ---`` … ``# ---``) at the top is not a cell."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not _HEADER_LINE.match(lines[first]):
        return 0
    for i in range(first + 1, len(lines)):
        if _HEADER_LINE.match(lines[i]):
            return i + 1
    return 0


def _parse_marker(
    rest: str, path: str, line: int, index: int
) -> tuple[CellType, str | None, tuple[str, ...]]:
    kind: CellType = "code"
    found = _KIND.search(rest)
    if found:
        kind = "raw" if found.group(1) == "raw" else "markdown"
        rest = rest[: found.start()] + rest[found.end() :]
    metadata: dict[str, Any] = {}
    for key in _META_KEY.finditer(rest):
        parsed = _parse_metadata(rest[key.start() :].strip())
        if parsed is not None:
            metadata, rest = parsed, rest[: key.start()]
            break
    tags = metadata.get("tags", [])
    if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise NotebookError(path, f"line {line}: tags must be a list of strings", cell=index)
    title = rest.strip() or None
    return kind, title, tuple(tags)


def _parse_metadata(text: str) -> dict[str, Any] | None:
    """``key=<JSON> key2=<JSON>…`` (jupytext's cell metadata), or None if it is not that."""
    decoder = json.JSONDecoder()
    result: dict[str, Any] = {}
    pos = 0
    while pos < len(text):
        found = re.compile(r"\s*([A-Za-z_][\w.-]*)=").match(text, pos)
        if not found:
            return None
        try:
            value, pos = decoder.raw_decode(text, found.end())
        except ValueError:
            return None
        result[found.group(1)] = value
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return result or None


def _uncomment(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    return line[1:] if line.startswith("#") else line


# ------------------------------------------------------------------ plain scripts


def _plain_cells(text: str, path: str) -> list[Cell]:
    """Top-level statements, a new cell wherever a blank line separates two of them."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise NotebookError(path, f"line {exc.lineno}: syntax error: {exc.msg}") from None
    lines = text.splitlines()
    body = list(tree.body)
    cells: list[Cell] = []
    if body and _is_docstring(body[0]):
        doc = ast.get_docstring(tree) or ""
        cells.append(Cell(0, "cell-0", "markdown", doc))
        body = body[1:]
    groups: list[tuple[int, int]] = []  # (first line, last line), 1-based, with comments
    for stmt in body:
        first = _first_line(stmt, lines, groups[-1][1] if groups else 0)
        last = stmt.end_lineno or stmt.lineno
        if groups and not _blank_between(lines, groups[-1][1], first):
            groups[-1] = (groups[-1][0], last)
        else:
            groups.append((first, last))
    for first, last in groups:
        chunk = lines[first - 1 : last]
        index = len(cells)
        cells.append(Cell(index, f"cell-{index}", "code", "\n".join(chunk), (), _title(chunk)))
    return cells


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _first_line(stmt: ast.stmt, lines: list[str], floor: int) -> int:
    """The statement's first line, moved up over decorators and a comment block above it."""
    first = stmt.lineno
    decorators = getattr(stmt, "decorator_list", None) or []
    if decorators:
        first = min(first, *(d.lineno for d in decorators))
    while first - 1 > floor and lines[first - 2].lstrip().startswith("#"):
        first -= 1
    return first


def _blank_between(lines: list[str], end: int, start: int) -> bool:
    return any(not lines[i].strip() for i in range(end, start - 1))


def _title(chunk: list[str]) -> str | None:
    """The opening comment of a cell: ``# Load the data`` names the cell."""
    first = chunk[0].strip() if chunk else ""
    if not first.startswith("#") or first.startswith("#!"):
        return None
    title = first.lstrip("#").strip()
    return title or None
