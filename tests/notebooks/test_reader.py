"""Reading notebooks and scripts into cells; malformed files get errors that say where and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.notebooks.reader import (
    NotebookError,
    read_notebook_dict,
    read_path,
    read_script_text,
)


def notebook(*cells: dict[str, Any], minor: int = 5, **extra: Any) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": minor, "metadata": {}, "cells": list(cells), **extra}


def code(source: Any, cell_id: str | None = "c1", **extra: Any) -> dict[str, Any]:
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
    cell["source"] = source
    if cell_id is not None:
        cell["id"] = cell_id
    return {**cell, **extra}


# ------------------------------------------------------------------ malformed notebooks

MALFORMED: list[tuple[str, str, str]] = [
    # (id, file text, what the message must say)
    ("bad-json", '{"cells": [', "not valid JSON: Expecting value (line 1, column 12)"),
    ("not-an-object", "[1, 2]", "a notebook is a JSON object, not list"),
    ("no-nbformat", json.dumps({"cells": []}), "not a notebook: no 'nbformat' field"),
    ("nbformat-5", json.dumps({**notebook(), "nbformat": 5}), "unsupported nbformat 5"),
    ("nbformat-string", json.dumps({**notebook(), "nbformat": "4"}), "unsupported nbformat '4'"),
    (
        "cells-not-a-list",
        json.dumps({**notebook(), "cells": {}}),
        "'cells' is missing or not a list",
    ),
    (
        "missing-source",
        json.dumps(notebook({"cell_type": "code", "id": "a", "metadata": {}})),
        "cell 0: the cell has no 'source'",
    ),
    (
        "source-of-numbers",
        json.dumps(notebook(code([1, 2]))),
        "cell 0: 'source' must be a string or a list of strings",
    ),
    (
        "unknown-cell-type",
        json.dumps(notebook({"cell_type": "cod", "source": "", "metadata": {}})),
        "cell 0: unknown cell_type 'cod' (expected code, markdown or raw)",
    ),
    ("cell-not-object", json.dumps(notebook("x = 1")), "cell 0: a cell must be a JSON object"),
    (
        "tags-not-list",
        json.dumps(notebook(code("x", metadata={"tags": "parameters"}))),
        "cell 0: metadata 'tags' must be a list of strings",
    ),
    ("schema-violation", json.dumps(notebook(code("x", outputs="none"))), "cell 0: outputs:"),
    (
        "duplicate-ids",
        json.dumps(notebook(code("x", "same"), code("y", "same"))),
        "cell 1: cell id 'same' is also the id of cell 0",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(*r[1:], id=r[0]) for r in MALFORMED])
def test_malformed_notebooks_get_a_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text(text)
    with pytest.raises(NotebookError) as caught:
        read_path(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message  # names the file
    assert expected in message, message


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="no such file"):
        read_path(tmp_path / "missing.ipynb")
    with pytest.raises(NotebookError, match=r"expected a notebook \(.ipynb\) or a Python script"):
        read_path(tmp_path / "notes.txt")
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(NotebookError, match="not UTF-8"):
        read_path(binary)
    broken = tmp_path / "broken.py"
    broken.write_text("x = (\n")
    with pytest.raises(NotebookError, match="line 1: syntax error"):
        read_path(broken)


def test_error_carries_path_and_cell() -> None:
    with pytest.raises(NotebookError) as caught:
        read_notebook_dict(notebook(code("a"), {"cell_type": "code"}), "nb.ipynb")
    assert (caught.value.path, caught.value.cell) == ("nb.ipynb", 1)
    assert caught.value.problem == "the cell has no 'source'"


# ------------------------------------------------------------------ good notebooks


def test_cells_keep_ids_indices_tags_and_joined_source() -> None:
    source = read_notebook_dict(
        notebook(
            {"cell_type": "markdown", "id": "m", "metadata": {}, "source": ["# Title\n", "text"]},
            code(["x = 1\n", "y = 2"], "c", metadata={"tags": ["parameters", "flow:skip"]}),
        )
    )
    assert source.kind == "notebook"
    markdown, cell = source.cells
    assert (markdown.index, markdown.id, markdown.cell_type) == (0, "m", "markdown")
    assert (cell.index, cell.id, cell.source, cell.tags) == (
        1,
        "c",
        "x = 1\ny = 2",
        ("parameters", "flow:skip"),
    )


def test_cells_without_ids_get_stable_ones() -> None:
    old = notebook(code("x = 1", None), code("y = 2", None), minor=4)
    first = read_notebook_dict(old)
    assert [c.id for c in first.cells] == ["cell-0", "cell-1"]
    assert read_notebook_dict(old) == first
    missing_in_45 = notebook(code("x = 1", None))  # nbformat would invent a random id
    assert read_notebook_dict(missing_in_45).cells[0].id == "cell-0"


def test_nbformat_3_is_converted() -> None:
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "input": "x = 1",
                        "language": "python",
                        "outputs": [],
                        "metadata": {},
                    }
                ]
            }
        ],
    }
    (cell,) = read_notebook_dict(v3).cells
    assert (cell.id, cell.source, cell.cell_type) == ("cell-0", "x = 1", "code")


def test_an_nbformat_node_is_accepted() -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    node = new_notebook(cells=[new_code_cell("x = 1", id="abc")])
    assert read_notebook_dict(node).cells[0].id == "abc"
    assert read_notebook_dict(nbformat.reads(nbformat.writes(node), 4)).cells[0].source == "x = 1"


# ------------------------------------------------------------------ scripts

PERCENT = """\
# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Title
#
# Some text.

# %% tags=["parameters"]
n = 3  # rows

# %% Load the data
# %time rows = list(range(n))
# !echo {n}
total = sum(rows)

# %% [markdown] tags=["notes"]
# ## Next

# %% Final step tags=["flow:name=last", "flow:skip"] other={"a": 1}
print(total)
"""


def test_percent_script() -> None:
    source = read_script_text(PERCENT, "pipeline.py")
    assert source.kind == "percent"
    kinds = [(c.index, c.cell_type, c.title, c.tags) for c in source.cells]
    assert kinds == [
        (0, "markdown", None, ()),
        (1, "code", None, ("parameters",)),
        (2, "code", "Load the data", ()),
        (3, "markdown", None, ("notes",)),
        (4, "code", "Final step", ("flow:name=last", "flow:skip")),
    ]
    assert source.cells[0].source == "# Title\n\nSome text."
    # jupytext comments magics out; they are magics again in the cell
    assert source.cells[2].source == "%time rows = list(range(n))\n!echo {n}\ntotal = sum(rows)"
    assert [c.id for c in source.cells] == [f"cell-{i}" for i in range(5)]


def test_code_before_the_first_marker_is_a_cell() -> None:
    source = read_script_text("import os\n\n# %%\nx = 1\n")
    assert [(c.cell_type, c.source) for c in source.cells] == [
        ("code", "import os"),
        ("code", "x = 1"),
    ]


def test_nbconvert_scripts_read_like_percent_ones() -> None:
    text = (
        "#!/usr/bin/env python\n# coding: utf-8\n\n# In[1]:\n\n\nx = 1\n\n\n# In[ ]:\n\n\ny = x\n"
    )
    source = read_script_text(text)
    assert source.kind == "percent"
    assert [c.source for c in source.cells if "=" in c.source] == ["x = 1", "y = x"]


def test_bad_tags_in_a_percent_marker() -> None:
    with pytest.raises(NotebookError, match=r"line 1: tags must be a list of strings"):
        read_script_text('# %% tags="parameters"\nx = 1\n', "s.py")


PLAIN = '''\
"""Make a report.

Longer description.
"""

import json
import os

# Load the data
rows = [1, 2, 3]
total = sum(rows)


@decorator
def helper(x):
    y = x

    return y

print(json.dumps(total))
'''


def test_plain_script_splits_at_blank_lines() -> None:
    source = read_script_text(PLAIN, "report.py")
    assert source.kind == "script"
    cells = [(c.cell_type, c.title, c.source) for c in source.cells]
    assert cells == [
        ("markdown", None, "Make a report.\n\nLonger description."),
        ("code", None, "import json\nimport os"),
        ("code", "Load the data", "# Load the data\nrows = [1, 2, 3]\ntotal = sum(rows)"),
        ("code", None, "@decorator\ndef helper(x):\n    y = x\n\n    return y"),
        ("code", None, "print(json.dumps(total))"),
    ]


def test_raw_cells_are_uncommented_like_markdown() -> None:
    (raw, code_cell) = read_script_text("# %% [raw]\n# raw text\n# %%\nx = 1\n").cells
    assert (raw.cell_type, raw.source, code_cell.source) == ("raw", "raw text", "x = 1")
