"""``jupyter flows inspect FILE``: what registering a notebook or script would make.

Nothing is registered and no server is needed: the command reads the file, converts it and
prints the tasks (with their cells), the edges (with the names that carry them), the
parameters and the warnings; ``--json`` prints the FlowSpec document (docs/notebooks.md).
"""

from __future__ import annotations

import click

from jupyter_flows.cli.common import console, counted, notebook_engine, parse_cells


@click.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--cells",
    metavar="CELLS",
    help="Only these cells and what they need: indices from 0, ranges and ids, e.g. 2,5-7.",
)
@click.option(
    "--engine",
    callback=notebook_engine,
    default="kernel",
    show_default=True,
    help="kernel: cells in order in one kernel; tasks: each task on the task runner.",
)
@click.option("--flow", "flow_attr", metavar="FUNC", help="Which @flow of a module of flows.")
@click.option("--json", "as_json", is_flag=True, help="Print the FlowSpec as JSON.")
def inspect(
    file: str, cells: str | None, engine: str, flow_attr: str | None, as_json: bool
) -> None:
    """Show what registering FILE (.ipynb or .py) would make, without registering it."""
    from jupyter_flows.notebooks import NotebookError, inspect_path

    refs = parse_cells(cells) if cells is not None else None
    try:
        spec = inspect_path(file, refs, engine=engine, flow=flow_attr)  # type: ignore[arg-type]
    except NotebookError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(spec.to_json(), nl=False)
        return
    _print(spec)


def _print(spec: object) -> None:
    from rich.table import Table
    from rich.text import Text

    from jupyter_flows.spec.flow_spec import FlowSpec

    assert isinstance(spec, FlowSpec)
    out = console()

    def grid(*columns: str) -> Table:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in columns:
            table.add_column(column)
        return table

    def row(table: Table, *cells: str) -> None:
        table.add_row(*(Text(cell) for cell in cells))  # never markup: list[str] stays

    params = f", {counted(len(spec.parameters), 'parameter')}" if spec.parameters else ""
    out.print(
        Text(spec.source.path, style="bold"),
        Text(
            f" ({spec.source.kind}, engine {spec.engine}): "
            f"{counted(len(spec.tasks), 'task')}, {counted(len(spec.edges), 'edge')}{params}"
        ),
        sep="",
    )
    if spec.selection is not None:
        added = ", ".join(a.task for a in spec.selection.added) or "none"
        cells = ", ".join(str(i) for i in spec.selection.cells)
        out.print(Text(f"Selected cells {cells}; tasks added because they are needed: {added}"))

    if spec.tasks:
        tasks = grid("TASK", "NAME", "CELLS", "READS", "DEFINES")
        for task in spec.tasks:
            cells = ", ".join(
                f"{i} ({cell_id})"
                for i, cell_id in zip(task.cell_indices, task.cell_ids, strict=True)
            )
            defines = task.defines + [f"{m} (in place)" for m in task.mutates]
            row(
                tasks,
                task.key + (" [parameters]" if task.kind == "parameters" else ""),
                task.name,
                cells or "-",
                ", ".join(task.reads) or "-",
                ", ".join(defines) or "-",
            )
        out.print()
        out.print(tasks)
    if spec.edges:
        edges = grid("FROM", "TO", "CARRIES")
        for edge in spec.edges:
            why = list(edge.names)
            if edge.mutated:
                why.append(f"(before it changes {', '.join(edge.mutated)})")
            if edge.after:
                why.append("(flow:after)")
            row(edges, edge.source, edge.target, " ".join(why))
        out.print()
        out.print(edges)
    if spec.parameters:
        parameters = grid("PARAMETER", "TYPE", "DEFAULT", "DESCRIPTION")
        for p in spec.parameters:
            if p.required:
                default = "(required)"
            elif p.default_expression is not None:
                default = f"= {p.default_expression}"
            else:
                default = repr(p.default)
            row(parameters, p.name, p.type, default, p.description or "")
        out.print()
        out.print(parameters)
    if spec.entrypoint:
        out.print(Text(f"\nEntrypoint: {spec.entrypoint}"))
    if spec.warnings:
        out.print()
        out.print(f"[yellow]{len(spec.warnings)} warning(s):[/yellow]", markup=True)
        for warning in spec.warnings:
            out.print(f"  ! {warning.message}", markup=False)
