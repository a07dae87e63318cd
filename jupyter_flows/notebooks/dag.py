"""Cells → tasks and the edges between them, with cell tags applied.

Each code cell is a task (empty and comment-only cells are not), named by its
``flow:name=…`` tag, else its title (``# %% Title`` in a script), else the nearest markdown
heading above it, else ``cell N``. A task depends on the latest earlier task that defines
each name it reads (:mod:`defuse` says what a cell defines, reads and mutates); a task that
changes a name in place also waits for the earlier tasks that read the version it changes.
Every edge points forward in the file, so running the tasks in file order is always valid.

Tags: ``flow:name=NAME``, ``flow:after=TASK[,TASK…]`` (an extra edge from an earlier task,
given by key, name or cell id), ``flow:skip`` (not a task; its definitions are not seen),
``flow:merge`` (this cell and the next one that runs make one task), and papermill's
``parameters`` (the parameters cell; ``injected-parameters`` cells of papermill's output
notebooks are left out).

Cells that only drive jupyter-flows itself (``%load_ext jupyter_flows``, ``%flow …``,
``%%flow …``) are never tasks: they register and follow the flow, they are not part of it.
Each one left out is said in a ``flow_magic`` warning.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jupyter_flows.notebooks.dataflow import Edge, FactsTask, Inference
from jupyter_flows.notebooks.defuse import DefUse, analyze, merge_sources
from jupyter_flows.notebooks.parameters import parameter_schema, read_parameters
from jupyter_flows.notebooks.reader import Cell, NotebookError, Source
from jupyter_flows.spec.flow_spec import (
    AddedTask,
    EdgeSpec,
    Engine,
    FlowSpec,
    ParameterSpec,
    Selection,
    SourceInfo,
    TaskSpec,
    WarningSpec,
    code_hash,
)

TAG_PREFIX = "flow:"
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
KNOWN_TAGS = ("flow:name=", "flow:after=", "flow:skip", "flow:merge")

#: A line that drives jupyter-flows: the %flow magic, or loading the extension.
_FLOW_MAGIC = re.compile(r"^(?:%%?flow(?:\s|$)|%(?:re|un)?load_ext\s+jupyter_flows\s*$)")
CellRef = int | str


@dataclass
class _Tags:
    name: str | None = None
    after: list[str] = field(default_factory=list)
    skip: bool = False
    merge: bool = False
    parameters: bool = False
    injected: bool = False
    unknown: list[str] = field(default_factory=list)


@dataclass
class _Task:
    cells: list[Cell]
    tags: list[_Tags]
    kind: str
    name: str
    key: str = ""
    facts: DefUse = field(default_factory=DefUse)
    reads: set[str] = field(default_factory=set)
    defines: set[str] = field(default_factory=set)
    mutates: set[str] = field(default_factory=set)
    position: int = 0

    @property
    def first(self) -> Cell:
        return self.cells[0]

    @property
    def cell_indices(self) -> list[int]:
        return [c.index for c in self.cells]

    @property
    def label(self) -> str:
        numbers = ", ".join(str(c.index) for c in self.cells)
        return f"cell{'s' if len(self.cells) > 1 else ''} {numbers} ({self.key!r})"


# ------------------------------------------------------------------ entry point


def build_spec(
    source: Source,
    cells: Sequence[CellRef] | None = None,
    *,
    engine: Engine = "kernel",
    name: str | None = None,
    task_runner: str = "threads",
) -> FlowSpec:
    """The FlowSpec of ``source``, or of the selected ``cells`` and all they need."""
    if not engine or engine == "flow":  # which names exist is the engine registry's
        raise NotebookError(source.path, f"{engine!r} is not a notebook engine")
    warnings: list[WarningSpec] = []
    tasks, skipped = _tasks(source, warnings)
    edges = _infer(tasks, skipped, engine, warnings)
    for task in tasks:
        for tags in task.tags:
            for ref in tags.after:
                upstream = _resolve_task(source, tasks, ref, task)
                edges.setdefault((upstream.key, task.key), Edge()).after = True

    selection = None
    if cells is not None:
        tasks, edges, selection = _select(source, tasks, edges, skipped, cells)
        keep = {t.key for t in tasks}
        warnings = [w for w in warnings if _concerns(w, keep)]
    if not tasks and not any(w.code == "no_code" for w in warnings):
        warnings.append(
            WarningSpec(code="no_code", message="there is no code to run: the flow has no tasks")
        )

    parameters: list[ParameterSpec] = []
    schema: dict[str, Any] = {}
    params_task = next((t for t in tasks if t.kind == "parameters"), None)
    if params_task is not None:
        cell = read_parameters(params_task.first.source)
        schema = parameter_schema(cell.parameters)
        parameters = [
            ParameterSpec(
                name=p.name,
                type=p.type,
                required=p.required,
                default=p.default,
                default_expression=p.default_expression,
                description=p.description,
            )
            for p in cell.parameters
        ]
        warnings.extend(
            WarningSpec(
                code="parameters",
                message=message,
                tasks=[params_task.key],
                cells=[params_task.first.index],
            )
            for message in cell.warnings
        )

    order = {t.key: t.position for t in tasks}
    return FlowSpec(
        name=name or _stem(source.path),
        source=SourceInfo(path=source.path, kind=source.kind, cells=len(source.cells)),
        engine=engine,
        tasks=[_task_spec(t) for t in tasks],
        edges=[
            EdgeSpec(
                source=s,
                target=t,
                kind=e.kind,
                names=sorted(e.names),
                state=sorted(e.state),
                after=e.after,
                mutated=sorted(e.mutated),
            )
            for (s, t), e in sorted(edges.items(), key=lambda i: (order[i[0][1]], order[i[0][0]]))
        ],
        parameters=parameters,
        parameter_schema=schema,
        selection=selection,
        warnings=warnings,
        task_runner=(
            {"engine": "tasks", "runner": task_runner} if engine == "tasks" else {"engine": engine}
        ),
    )


# ------------------------------------------------------------------ cells → tasks


def _tags(cell: Cell, path: str, warnings: list[WarningSpec]) -> _Tags:
    tags = _Tags()
    for tag in cell.tags:
        if tag == PARAMETERS_TAG:
            tags.parameters = True
        elif tag == INJECTED_TAG:
            tags.injected = True
        elif tag.startswith("flow:name="):
            value = tag.partition("=")[2].strip()
            if not value:
                raise NotebookError(path, "flow:name= needs a name", cell=cell.index)
            tags.name = value
        elif tag.startswith("flow:after="):
            refs = [r.strip() for r in tag.partition("=")[2].split(",") if r.strip()]
            if not refs:
                raise NotebookError(path, "flow:after= needs a task", cell=cell.index)
            tags.after.extend(refs)
        elif tag == "flow:skip":
            tags.skip = True
        elif tag == "flow:merge":
            tags.merge = True
        elif tag.startswith(TAG_PREFIX):
            tags.unknown.append(tag)
            warnings.append(
                WarningSpec(
                    code="unknown_tag",
                    message=f"cell {cell.index}: unknown tag {tag!r} (known: "
                    f"{', '.join(t.rstrip('=') for t in KNOWN_TAGS)}, parameters)",
                    cells=[cell.index],
                )
            )
    return tags


def _tasks(source: Source, warnings: list[WarningSpec]) -> tuple[list[_Task], list[Cell]]:
    """Group the code cells into tasks; also return the cells left out by flow:skip."""
    headings = _headings(source)
    runnable: list[tuple[Cell, _Tags]] = []
    skipped: list[Cell] = []
    has_parameters = False
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        tags = _tags(cell, source.path, warnings)
        if tags.injected:
            warnings.append(
                WarningSpec(
                    code="parameters",
                    message=f"cell {cell.index} holds parameters papermill injected into an "
                    "earlier run; it is left out",
                    cells=[cell.index],
                )
            )
            continue
        if tags.skip:
            skipped.append(cell)
            continue
        if _is_empty(cell.source):
            continue
        magic = flow_magic_lines(cell.source)
        if magic and (magic[0].startswith("%%") or len(magic) == len(_code_lines(cell.source))):
            warnings.append(
                WarningSpec(
                    code="flow_magic",
                    message=f"cell {cell.index} ({_quote(magic[0])}) only drives jupyter-flows: "
                    "it is left out of the flow",
                    cells=[cell.index],
                )
            )
            continue
        flow_lines = [line for line in magic if line.startswith("%flow")]
        if flow_lines:  # %load_ext beside code is harmless: the run loads the extension
            warnings.append(
                WarningSpec(
                    code="flow_magic",
                    message=f"cell {cell.index} runs {_quote(flow_lines[0])} beside other code, "
                    "so every run of the flow runs it too: put it in a cell of its own, "
                    "which is left out of the flow",
                    cells=[cell.index],
                )
            )
        if tags.parameters:
            if has_parameters:
                warnings.append(
                    WarningSpec(
                        code="parameters",
                        message=f"cell {cell.index} is tagged parameters too; only the first "
                        "parameters cell holds the parameters, this one is an ordinary task",
                        cells=[cell.index],
                    )
                )
                tags.parameters = False
            has_parameters = True
        runnable.append((cell, tags))

    tasks: list[_Task] = []
    pending: list[tuple[Cell, _Tags]] = []
    for number, (cell, tags) in enumerate(runnable):
        pending.append((cell, tags))
        if tags.merge and number + 1 < len(runnable):
            continue
        if tags.merge:
            warnings.append(
                WarningSpec(
                    code="merge",
                    message=f"cell {cell.index} is tagged flow:merge but no cell runs after it",
                    cells=[cell.index],
                )
            )
        group_cells = [c for c, _ in pending]
        group_tags = [t for _, t in pending]
        if len(pending) > 1 and any(t.parameters for t in group_tags):
            raise NotebookError(
                source.path,
                "flow:merge cannot join the parameters cell with another cell",
                cell=group_cells[0].index,
            )
        kind = "parameters" if group_tags[0].parameters else "code"
        tasks.append(
            _Task(
                cells=group_cells,
                tags=group_tags,
                kind=kind,
                name=_name(group_cells, group_tags, headings, kind),
                position=len(tasks),
            )
        )
        pending = []

    used: set[str] = set()
    for task in tasks:
        task.key = _unique(_slug(task.name) or f"cell-{task.first.index}", used)
        task.facts = merge_sources(c.source for c in task.cells)
        if task.kind == "parameters":
            # A run's values are injected after the cell, so even ``token: str`` (no value)
            # is defined by the time the next task runs.
            names = {p.name for p in read_parameters(task.first.source).parameters}
            defines = tuple(sorted(set(task.facts.defines) | names))
            task.facts = replace(task.facts, defines=defines)
    return tasks, skipped


def _name(cells: list[Cell], tags: list[_Tags], headings: dict[int, str], kind: str) -> str:
    for tag in tags:
        if tag.name:
            return tag.name
    if kind == "parameters":
        return "parameters"
    if cells[0].title:
        return cells[0].title
    return headings.get(cells[0].index) or f"cell {cells[0].index}"


def _is_empty(source: str) -> bool:
    return not _code_lines(source)


def _code_lines(source: str) -> list[str]:
    stripped = (line.strip() for line in source.splitlines())
    return [line for line in stripped if line and not line.startswith("#")]


def flow_magic_lines(source: str) -> list[str]:
    """The lines of a cell that drive jupyter-flows (``%flow …``, ``%load_ext
    jupyter_flows``); a ``%%flow`` cell magic is its first line."""
    lines = _code_lines(source)
    if lines and lines[0].startswith("%%"):
        return lines[:1] if _FLOW_MAGIC.match(lines[0]) else []
    return [line for line in lines if _FLOW_MAGIC.match(line)]


def _quote(line: str) -> str:
    return line if len(line) <= 40 else line[:39] + "…"


_ATX = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _headings(source: Source) -> dict[int, str]:
    """For each cell index, the last markdown heading above it."""
    current: str | None = None
    found: dict[int, str] = {}
    for cell in source.cells:
        if cell.cell_type == "markdown":
            heading = _last_heading(cell.source)
            if heading:
                current = heading
        elif current:
            found[cell.index] = current
    return found


def _last_heading(markdown: str) -> str | None:
    heading = None
    fenced = False
    lines = markdown.splitlines()
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        atx = _ATX.match(line)
        if atx:
            heading = atx.group(1)
        elif (
            number + 1 < len(lines)
            and line.strip()
            and _SETEXT.match(lines[number + 1])
            and not _SETEXT.match(line)
        ):
            heading = line.strip()
    if heading is None:
        return None
    text = _LINK.sub(r"\1", heading)
    text = re.sub(r"[*_`]+", "", text).strip().rstrip(":").strip()
    return text or None


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")


def _unique(key: str, used: set[str]) -> str:
    candidate, number = key, 1
    while candidate in used:
        number += 1
        candidate = f"{key}-{number}"
    used.add(candidate)
    return candidate


def _stem(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem or "notebook"


# ------------------------------------------------------------------ flow:after


def _resolve_task(source: Source, tasks: list[_Task], ref: str, task: _Task) -> _Task:
    matches = [t for t in tasks if t.key == ref] or [
        t for t in tasks if t.name == ref or any(c.id == ref for c in t.cells)
    ]
    if not matches:
        known = ", ".join(t.key for t in tasks)
        raise NotebookError(
            source.path,
            f"flow:after={ref}: no task {ref!r} (the tasks are: {known})",
            cell=task.first.index,
        )
    if len(matches) > 1:
        keys = ", ".join(t.key for t in matches)
        raise NotebookError(
            source.path,
            f"flow:after={ref}: several tasks are named {ref!r}; use a key: {keys}",
            cell=task.first.index,
        )
    upstream = matches[0]
    if upstream.position >= task.position:
        raise NotebookError(
            source.path,
            f"flow:after={ref}: {upstream.key!r} is not earlier in the file; a task can only "
            "wait for an earlier one",
            cell=task.first.index,
        )
    return upstream


# ------------------------------------------------------------------ def/use → edges


def _infer(
    tasks: list[_Task], skipped: list[Cell], engine: Engine, warnings: list[WarningSpec]
) -> dict[tuple[str, str], Edge]:
    everywhere: dict[str, list[_Task]] = {}
    for task in tasks:
        for name in task.facts.defines:
            everywhere.setdefault(name, []).append(task)
    in_skipped: dict[str, list[int]] = {}
    for cell in skipped:
        for name in analyze(cell.source).defines:
            in_skipped.setdefault(name, []).append(cell.index)

    def undefined(task: FactsTask, name: str) -> WarningSpec:
        return _undefined(task, name, everywhere, in_skipped)

    # Only cells in one kernel share values that cannot be pickled.
    inference = Inference(list(tasks), engine != "kernel", undefined)
    edges = inference.run()
    warnings.extend(inference.warnings)
    return edges


def _undefined(
    task: FactsTask,
    name: str,
    everywhere: dict[str, list[_Task]],
    in_skipped: dict[str, list[int]],
) -> WarningSpec:
    later = [t for t in everywhere.get(name, []) if t.position > task.position]
    if later:
        return WarningSpec(
            code="defined_later",
            message=f"{task.label} reads {name!r}, which is defined only later, by "
            f"{later[0].label}: the notebook depends on an out-of-order run",
            tasks=[task.key, later[0].key],
            cells=task.cell_indices,
            names=[name],
        )
    if name in in_skipped:
        cells = ", ".join(str(i) for i in in_skipped[name])
        return WarningSpec(
            code="defined_in_skipped_cell",
            message=f"{task.label} reads {name!r}, which only cell {cells} defines, and it is "
            "tagged flow:skip",
            tasks=[task.key],
            cells=task.cell_indices + in_skipped[name],
            names=[name],
        )
    return WarningSpec(
        code="undefined_name",
        message=f"{task.label} reads {name!r}, which no earlier cell defines",
        tasks=[task.key],
        cells=task.cell_indices,
        names=[name],
    )


# ------------------------------------------------------------------ selections


def _select(
    source: Source,
    tasks: list[_Task],
    edges: dict[tuple[str, str], Edge],
    skipped: list[Cell],
    refs: Sequence[CellRef],
) -> tuple[list[_Task], dict[tuple[str, str], Edge], Selection]:
    if not refs:
        raise NotebookError(source.path, "the selection is empty: name at least one cell")
    by_cell = {c.index: t for t in tasks for c in t.cells}
    skipped_indices = {c.index for c in skipped}
    wanted_cells: list[int] = []
    wanted: list[str] = []
    for ref in refs:
        cell = _find_cell(source, ref)
        if cell.cell_type != "code":
            raise NotebookError(
                source.path, f"cell {cell.index} is a {cell.cell_type} cell, not code"
            )
        if cell.index in skipped_indices:
            raise NotebookError(source.path, "the cell is tagged flow:skip", cell=cell.index)
        task = by_cell.get(cell.index)
        if task is None and flow_magic_lines(cell.source):
            raise NotebookError(
                source.path, "the cell only drives jupyter-flows (%flow …)", cell=cell.index
            )
        if task is None:
            raise NotebookError(source.path, "the cell has no code to run", cell=cell.index)
        if cell.index not in wanted_cells:
            wanted_cells.append(cell.index)
        if task.key not in wanted:
            wanted.append(task.key)
    incoming: dict[str, list[str]] = {}
    for upstream, downstream in edges:
        incoming.setdefault(downstream, []).append(upstream)
    keep, stack = set(wanted), list(wanted)
    while stack:
        for upstream in incoming.get(stack.pop(), []):
            if upstream not in keep:
                keep.add(upstream)
                stack.append(upstream)
    kept = [t for t in tasks if t.key in keep]
    kept_edges = {pair: e for pair, e in edges.items() if pair[0] in keep and pair[1] in keep}
    added = []
    for task in kept:
        if task.key in wanted:
            continue
        out = [(t, e) for (s, t), e in kept_edges.items() if s == task.key]
        added.append(
            AddedTask(
                task=task.key,
                cell_ids=[c.id for c in task.cells],
                cell_indices=[c.index for c in task.cells],
                needed_by=[t for t, _ in out],
                names=sorted(set().union(*(e.names | e.state | e.mutated for _, e in out))),
            )
        )
    selection = Selection(cells=sorted(wanted_cells), tasks=wanted, added=added)
    return kept, kept_edges, selection


def _find_cell(source: Source, ref: CellRef) -> Cell:
    if isinstance(ref, bool):
        raise NotebookError(source.path, f"not a cell: {ref!r}")
    if isinstance(ref, str) and ref.strip().isdigit():
        ref = int(ref)
    if isinstance(ref, int):
        if not 0 <= ref < len(source.cells):
            raise NotebookError(
                source.path,
                f"no cell {ref}: the file has {len(source.cells)} cells (0 to "
                f"{len(source.cells) - 1})",
            )
        return source.cells[ref]
    for cell in source.cells:
        if cell.id == ref:
            return cell
    raise NotebookError(source.path, f"no cell with id {ref!r}")


def _concerns(warning: WarningSpec, keep: set[str]) -> bool:
    if not warning.tasks:
        return True
    inside = [t for t in warning.tasks if t in keep]
    if warning.code == "multiple_definitions":
        return len(inside) > 1
    return bool(inside)


# ------------------------------------------------------------------ output


def _task_spec(task: _Task) -> TaskSpec:
    text = "\n\n".join(c.source.strip("\n") for c in task.cells)
    return TaskSpec(
        key=task.key,
        name=task.name,
        kind="parameters" if task.kind == "parameters" else "code",
        cell_ids=[c.id for c in task.cells],
        cell_indices=[c.index for c in task.cells],
        source=text,
        code_hash=code_hash(text),
        reads=sorted(task.reads),
        defines=sorted(task.defines),
        mutates=sorted(task.mutates),
    )
