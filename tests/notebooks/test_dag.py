"""Cells → tasks and edges: naming, tags, selections, warnings, and the registration content."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.notebooks import (
    FlowSpec,
    NotebookError,
    inspect_notebook,
    inspect_path,
    inspect_script,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def nb(*cells: str | tuple[str, list[str]] | dict[str, Any]) -> dict[str, Any]:
    """Cells as ``"code"``, ``("code", [tags])``, or ``{"md": "# text"}``; ids are c0, c1…"""
    made = []
    for index, cell in enumerate(cells):
        if isinstance(cell, dict):
            made.append(
                {"cell_type": "markdown", "id": f"c{index}", "metadata": {}, "source": cell["md"]}
            )
            continue
        source, tags = (cell, []) if isinstance(cell, str) else cell
        made.append(
            {
                "cell_type": "code",
                "id": f"c{index}",
                "metadata": {"tags": tags},
                "outputs": [],
                "execution_count": None,
                "source": source,
            }
        )
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": made}


def edges(spec: FlowSpec) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(e.source, e.target, tuple(e.names)) for e in spec.edges}


def codes(spec: FlowSpec) -> list[str]:
    return [w.code for w in spec.warnings]


# ------------------------------------------------------------------ tasks and names


def test_task_names_from_tag_title_heading_or_index() -> None:
    spec = inspect_notebook(
        nb(
            "a = 1",
            {"md": "Intro text\n\n## Load **the** [data](http://x)\n\n```\n# not a heading\n```"},
            "b = a",
            ("c = b", ["flow:name=Train model"]),
            {"md": "Setext heading\n=============="},
            "d = c",
            "e = d",
        )
    )
    assert [(t.key, t.name) for t in spec.tasks] == [
        ("cell-0", "cell 0"),
        ("load-the-data", "Load the data"),
        ("train-model", "Train model"),
        ("setext-heading", "Setext heading"),
        ("setext-heading-2", "Setext heading"),
    ]


def test_empty_and_comment_only_cells_are_not_tasks() -> None:
    spec = inspect_notebook(nb("", "# a comment\n\n", "x = 1", {"md": "# Title"}))
    assert [t.cell_indices for t in spec.tasks] == [[2]]


def test_cells_that_drive_jupyter_flows_are_never_tasks_and_the_spec_says_so() -> None:
    spec = inspect_notebook(
        nb(
            "%load_ext jupyter_flows",
            {"md": "## Report"},
            "x = 1",
            "%flow register --engine tasks\n# and run it\n%flow run report --wait",
            "%%flow task adhoc\ny = x + 1",
            "%reload_ext jupyter_flows",
            "%flow runs report",
        )
    )
    assert [t.key for t in spec.tasks] == ["report"]
    left_out = [w for w in spec.warnings if w.code == "flow_magic"]
    assert [w.cells for w in left_out] == [[0], [3], [4], [5], [6]]
    assert left_out[1].message == (
        "cell 3 (%flow register --engine tasks) only drives jupyter-flows: it is left out "
        "of the flow"
    )
    with pytest.raises(NotebookError, match="only drives jupyter-flows"):
        inspect_notebook(nb("x = 1", "%flow register"), cells=[1])


def test_a_flow_magic_beside_code_stays_and_is_warned_about() -> None:
    spec = inspect_notebook(nb("import json\n%load_ext jupyter_flows", "x = 1\n%flow runs r"))
    assert len(spec.tasks) == 2
    (warning,) = spec.warnings
    assert warning.code == "flow_magic" and warning.cells == [1]
    assert "beside other code" in warning.message


def test_other_magics_stay_tasks() -> None:
    spec = inspect_notebook(nb("%matplotlib inline", "%pip install x", "!ls", "%flowers = 1"))
    assert len(spec.tasks) == 4 and "flow_magic" not in codes(spec)


def test_no_code_is_a_warning_not_an_error() -> None:
    spec = inspect_notebook(nb({"md": "# Only prose"}))
    assert spec.tasks == [] and codes(spec) == ["no_code"]


def test_edges_point_forward_and_carry_names() -> None:
    spec = inspect_path(EXAMPLES / "sales-report.ipynb")
    position = {t.key: i for i, t in enumerate(spec.tasks)}
    assert spec.edges and all(position[e.source] < position[e.target] for e in spec.edges)
    assert all(e.names or e.mutated or e.after for e in spec.edges)
    # the three analyses are parallel branches: none depends on another
    branches = {"totals-by-region", "best-selling-products", "daily-revenue"}
    assert not {(e.source, e.target) for e in spec.edges if {e.source, e.target} <= branches}


def test_latest_definition_wins() -> None:
    spec = inspect_notebook(nb("x = 1", "x = 2", "y = x"))
    assert edges(spec) == {("cell-1", "cell-2", ("x",))}
    assert codes(spec) == []  # nothing read the first x: the DAG is the same without it


@pytest.mark.parametrize(
    ("cells", "warned"),
    [
        # a name reused for a new value while an earlier reader used the old one
        (("x = 1", "a = x", "x = 2", "b = x"), True),
        (("model = make_a()", "model.fit(X)", "model = make_b()", "p = model.predict(X)"), True),
        # a step made from the previous value is no reuse
        (("df = load()", "n = len(df)", "df = df.dropna()", "m = len(df)"), False),
        (("total = 0", "t = total", "total += 1", "u = total"), False),
        # values no other cell reads (fig, ax in every plotting cell, a loop variable)
        (("fig, ax = plt.subplots()\nax.plot(a)", "fig, ax = plt.subplots()\nax.plot(b)"), False),
        (("for i in range(3):\n    print(i)", "for i in range(4):\n    print(i)"), False),
        # only the last value is read
        (("x = 1", "x = 2", "y = x"), False),
    ],
)
def test_multiple_definitions_only_where_the_rebinding_changes_the_dag(
    cells: tuple[str, ...], warned: bool
) -> None:
    spec = inspect_notebook(nb("import matplotlib.pyplot as plt", "a = b = X = 1", *cells))
    assert ("multiple_definitions" in codes(spec)) is warned


def test_mutation_makes_a_new_version_and_waits_for_readers() -> None:
    spec = inspect_notebook(
        nb("xs = []", "n = len(xs)", "xs.append(1)", "m = len(xs)", "k = xs[0]")
    )
    assert edges(spec) == {
        ("cell-0", "cell-1", ("xs",)),
        ("cell-0", "cell-2", ("xs",)),
        ("cell-1", "cell-2", ()),  # cell 1 must read xs before cell 2 changes it
        ("cell-2", "cell-3", ("xs",)),
        ("cell-2", "cell-4", ("xs",)),
    }
    order = next(e for e in spec.edges if e.source == "cell-1")
    assert order.mutated == ["xs"] and order.names == []
    # the two readers after the change stay parallel
    assert not any(e.source == "cell-3" for e in spec.edges)


def test_read_only_calls_do_not_chain_cells() -> None:
    spec = inspect_notebook(nb("df = load()", "df.head()", "df.describe()", "len(df)", "print(df)"))
    assert {e.source for e in spec.edges} == {"cell-0"}


def test_functions_read_globals_where_they_are_called() -> None:
    spec = inspect_notebook(
        nb(
            "def f():\n    return threshold * 2",
            "threshold = 3",
            "y = f()",
            "def g():\n    return f() + 1",
            "z = g()",
        )
    )
    assert ("cell-1", "cell-2", ("threshold",)) in edges(spec)
    assert ("cell-0", "cell-2", ("f",)) in edges(spec)
    assert ("cell-1", "cell-4", ("threshold",)) in edges(spec)  # through g, then f
    assert spec.task("cell-0").reads == []  # defining f reads nothing
    assert codes(spec) == []


def test_global_statement_defines_for_the_caller() -> None:
    spec = inspect_notebook(nb("def reset():\n    global n\n    n = 0", "reset()", "m = n + 1"))
    assert ("cell-1", "cell-2", ("n",)) in edges(spec)
    assert spec.task("cell-1").defines == ["n"]


def test_builtins_and_kernel_names_need_no_cell() -> None:
    spec = inspect_notebook(nb("print(len([1]), get_ipython, display, In, _, _3, __name__)"))
    assert codes(spec) == [] and spec.task("cell-0").reads == []


def test_a_shadowed_builtin_is_a_dependency() -> None:
    spec = inspect_notebook(nb("list = [1]", "print(list)"))
    assert edges(spec) == {("cell-0", "cell-1", ("list",))}


# ------------------------------------------------------------------ tags


def test_skip_merge_after_and_parameters() -> None:
    spec = inspect_path(Path(__file__).parents[1] / "data" / "notebooks" / "tags.ipynb")
    tasks = {t.key: t for t in spec.tasks}
    assert tasks["parameters"].kind == "parameters"
    assert tasks["load-data"].name == "Load data"
    merged = next(t for t in spec.tasks if len(t.cell_ids) > 1)
    assert merged.cell_ids == ["merge-1", "merge-2"]
    assert merged.source == "total = 0\n\nfor d in data:\n    total += d"
    after = next(e for e in spec.edges if e.after)
    assert (after.source, after.names) == ("setup", [])
    assert not any("skipped" in t.cell_ids or "injected" in t.cell_ids for t in spec.tasks)
    assert sorted(codes(spec)) == ["defined_in_skipped_cell", "parameters", "unknown_tag"]


def test_flow_after_by_key_name_or_cell_id() -> None:
    for ref in ("prep", "Prep", "c0"):
        spec = inspect_notebook(
            nb(("x = 1", ["flow:name=Prep"]), "y = 2", ("z = 3", [f"flow:after={ref}"]))
        )
        assert [(e.source, e.target, e.after) for e in spec.edges] == [("prep", "cell-2", True)]


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ((("x = 1", ["flow:after=nothing"]),), "cell 0: flow:after=nothing: no task 'nothing'"),
        (
            (("x = 1", ["flow:after=later"]), ("y = 2", ["flow:name=later"])),
            "cell 0: flow:after=later: 'later' is not earlier in the file",
        ),
        (
            ({"md": "# Load it"}, "x = 1", "y = 1", ("z = 1", ["flow:after=Load it"])),
            "several tasks are named 'Load it'; use a key: load-it, load-it-2",
        ),
        ((("x = 1", ["flow:name="]),), "cell 0: flow:name= needs a name"),
        ((("x = 1", ["flow:after="]),), "cell 0: flow:after= needs a task"),
        (
            (("n = 1", ["parameters", "flow:merge"]), "y = n"),
            "cell 0: flow:merge cannot join the parameters cell with another cell",
        ),
    ],
)
def test_bad_tags_are_errors(cells: tuple[Any, ...], message: str) -> None:
    with pytest.raises(NotebookError) as caught:
        inspect_notebook(nb(*cells), path="tagged.ipynb")
    assert str(caught.value).startswith("tagged.ipynb")
    assert message in str(caught.value)


def test_merge_on_the_last_cell_and_second_parameters_cell_warn() -> None:
    spec = inspect_notebook(
        nb(("n = 1", ["parameters"]), ("m = 2", ["parameters"]), ("x = n", ["flow:merge"]))
    )
    assert codes(spec) == ["parameters", "merge"]
    assert [t.kind for t in spec.tasks] == ["parameters", "code", "code"]


def test_duplicate_names_get_unique_keys() -> None:
    spec = inspect_notebook(
        nb(
            ("a = 1", ["flow:name=step"]),
            ("b = 1", ["flow:name=step"]),
            ("c = 1", ["flow:name=step-2"]),
        )
    )
    assert [t.key for t in spec.tasks] == ["step", "step-2", "step-2-2"]


# ------------------------------------------------------------------ selections


def test_selection_adds_what_it_needs_and_says_so() -> None:
    spec = inspect_path(EXAMPLES / "sales-report.ipynb", cells=[9])  # best-selling products
    assert [t.key for t in spec.tasks] == [
        "parameters",
        "imports",
        "load-the-orders",
        "load-the-orders-2",
        "best-selling-products",
    ]
    assert spec.selection is not None
    assert spec.selection.cells == [9] and spec.selection.tasks == ["best-selling-products"]
    added = {a.task: (a.needed_by, a.names) for a in spec.selection.added}
    assert added["load-the-orders-2"] == (["best-selling-products"], ["orders"])
    assert added["parameters"][1] == ["days", "min_amount", "regions", "seed", "top_n"]
    assert [p.name for p in spec.parameters] == ["days", "seed", "regions", "min_amount", "top_n"]


def test_selection_without_the_parameters_cell_has_no_parameters() -> None:
    spec = inspect_notebook(
        nb(("n = 1", ["parameters"]), "import math", "r = math.pi"), cells=["c2"]
    )
    assert [t.key for t in spec.tasks] == ["cell-1", "cell-2"]
    assert spec.parameters == [] and spec.parameter_schema == {}


def test_selection_follows_after_and_mutation_edges() -> None:
    spec = inspect_notebook(
        nb("xs = []", "n = len(xs)", "xs.append(1)", ("print('x')", ["flow:after=cell-1"])),
        cells=[3],
    )
    assert [t.key for t in spec.tasks] == ["cell-0", "cell-1", "cell-3"]
    spec = inspect_notebook(nb("xs = []", "n = len(xs)", "xs.append(1)"), cells=[2])
    assert [a.task for a in spec.selection.added] == ["cell-0", "cell-1"]  # type: ignore[union-attr]


def test_selection_keeps_only_its_warnings() -> None:
    cells = ("print(nowhere)", "x = 1", "y = x")
    assert codes(inspect_notebook(nb(*cells))) == ["undefined_name"]
    assert codes(inspect_notebook(nb(*cells), cells=[2])) == []


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (9, "no cell 9: the file has 4 cells (0 to 3)"),
        ("zz", "no cell with id 'zz'"),
        (0, "cell 0 is a markdown cell, not code"),
        (2, "cell 2: the cell is tagged flow:skip"),
        (3, "cell 3: the cell has no code to run"),
    ],
)
def test_bad_selections(ref: int | str, message: str) -> None:
    notebook = nb({"md": "# T"}, "x = 1", ("y = 2", ["flow:skip"]), "# nothing")
    with pytest.raises(NotebookError, match=re.escape(message)):
        inspect_notebook(notebook, cells=[ref])
    with pytest.raises(NotebookError, match="the selection is empty"):
        inspect_notebook(notebook, cells=[])


# ------------------------------------------------------------------ warnings and engines


def test_warnings_name_cells_and_names() -> None:
    spec = inspect_path(Path(__file__).parents[1] / "data" / "notebooks" / "warnings.ipynb")
    by_code = {w.code: w for w in spec.warnings}
    assert set(by_code) == {
        "defined_later",
        "undefined_name",
        "opaque_definitions",
        "syntax_error",
        "multiple_definitions",
    }
    assert by_code["undefined_name"].names == ["nowhere"]
    assert by_code["defined_later"].tasks == ["uses-later", "defines-later"]
    assert by_code["multiple_definitions"].cells == [4, 6]
    assert ("star", "from-star", ("sqrt",)) in edges(spec)  # unknown names come from `import *`


def test_unpicklable_values_warn_only_for_the_tasks_engine() -> None:
    path = Path(__file__).parents[1] / "data" / "notebooks" / "unpicklable.ipynb"
    assert "unpicklable" not in codes(inspect_path(path))
    spec = inspect_path(path, engine="tasks")
    assert sorted(n for w in spec.warnings if w.code == "unpicklable" for n in w.names) == [
        "lock",
        "log",
        "numbers",
    ]
    assert spec.task_runner == {"engine": "tasks", "runner": "threads"}
    # Which engines exist is the engine registry's (test_engine_plugins); "flow" is none.
    with pytest.raises(NotebookError, match="'flow' is not a notebook engine"):
        inspect_path(path, engine="flow")


def test_scripts_convert_like_notebooks() -> None:
    spec = inspect_path(EXAMPLES / "word_stats.py")
    assert spec.source.kind == "percent"
    assert [t.key for t in spec.tasks][:3] == ["parameters", "imports", "split-into-words"]
    plain = inspect_script(
        "import math\n\nr = 2\n\n# Area\narea = math.pi * r ** 2\n", path="plain.py"
    )
    assert plain.source.kind == "script"
    assert edges(plain) == {("cell-0", "area", ("math",)), ("cell-1", "area", ("r",))}


# ------------------------------------------------------------------ modules of @flow functions


def test_a_module_of_flows_is_delegated() -> None:
    spec = inspect_path(EXAMPLES / "etl_flow.py")
    assert (spec.engine, spec.source.kind, spec.entrypoint) == (
        "flow",
        "module",
        f"{(EXAMPLES / 'etl_flow.py').as_posix()}:etl",
    )
    assert [t.key for t in spec.tasks] == [
        "etl_flow.extract",
        "etl_flow.load",
        "etl_flow.transform",
    ]
    assert [(p.name, p.type, p.default) for p in spec.parameters] == [("n", "int", 10)]
    from jupyter_flows.spec.python_flows import registration

    body = registration(EXAMPLES / "etl_flow.py")
    assert spec.to_content() == body["content"]
    with pytest.raises(NotebookError, match="no cells to select"):
        inspect_path(EXAMPLES / "etl_flow.py", cells=[0])
    with pytest.raises(NotebookError, match="no flow named 'nope'"):
        inspect_path(EXAMPLES / "etl_flow.py", flow="nope")


# ------------------------------------------------------------------ registration content


def test_registration_content_is_accepted_by_the_api_and_the_store() -> None:
    from jupyter_flows.server.wire import FlowContent
    from jupyter_flows.store.hashing import flow_version_id

    spec = inspect_path(EXAMPLES / "sales-report.ipynb")
    content = spec.to_content()
    assert set(content) == {
        "kind",
        "tasks",
        "edges",
        "parameter_schema",
        "task_runner",
        "run_config",
        "resource_spec_hash",
    }
    assert content["task_runner"] == {"engine": "kernel"} and content["kind"] == "notebook"
    assert all("source" not in t and "cell_indices" not in t for t in content["tasks"])
    FlowContent.model_validate(content)
    store_content = {
        **content,
        "parameters": content["parameter_schema"],
        "edges": [[e["source"], e["target"]] for e in content["edges"]],
    }
    del store_content["parameter_schema"]
    flow_version_id("default", "sales-report", store_content)


def test_a_markdown_edit_keeps_the_content_and_a_code_edit_changes_it() -> None:
    base = nb({"md": "# A"}, "x = 1", "y = x")
    same = nb({"md": "# A"}, "x = 1", "y = x")
    same["cells"].insert(0, {"cell_type": "markdown", "id": "new", "metadata": {}, "source": "hi"})
    changed = nb({"md": "# A"}, "x = 1", "y = x + 1")
    content = inspect_notebook(base).to_content()
    assert inspect_notebook(same).to_content() == content
    assert inspect_notebook(changed).to_content() != content
