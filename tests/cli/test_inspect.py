"""``jupyter flows inspect``: the text view, the stable --json document, and errors."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from jupyter_flows.cli.common import counted, parse_cells
from jupyter_flows.cli.inspect import inspect

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "notebooks"


def run(*args: str) -> Result:
    return CliRunner().invoke(inspect, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def _from_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # paths as a user types them, as in the golden documents


def test_json_is_the_golden_document_byte_for_byte() -> None:
    for name, path in [
        ("example-sales-report", "examples/sales-report.ipynb"),
        ("tags", "tests/data/notebooks/tags.ipynb"),
        ("example-word_stats", "examples/word_stats.py"),
    ]:
        result = run(path, "--json")
        assert result.exit_code == 0, result.output
        assert result.output == (DATA / f"{name}.dag.json").read_text()


def test_json_with_options() -> None:
    result = run("examples/sales-report.ipynb", "--json", "--cells", "9")
    assert result.output == (DATA / "example-sales-report.selection.dag.json").read_text()
    result = run("tests/data/notebooks/unpicklable.ipynb", "--json", "--engine", "tasks")
    assert result.output == (DATA / "unpicklable.dag.json").read_text()
    result = run("examples/etl_flow.py", "--json", "--flow", "etl")
    assert json.loads(result.output)["entrypoint"] == "examples/etl_flow.py:etl"


def test_text_view_shows_tasks_edges_parameters_and_warnings() -> None:
    result = run("tests/data/notebooks/tags.ipynb")
    assert result.exit_code == 0
    out = result.output
    assert out.startswith("tests/data/notebooks/tags.ipynb (notebook, engine kernel): 7 tasks")
    assert "load-data" in out and "3 (named)" in out  # task key, cell index and id
    assert "(flow:after)" in out
    assert "size" in out and "int" in out  # the parameter and its type
    assert "3 warning(s):" in out and "tagged flow:skip" in out


def test_text_view_escapes_brackets_and_marks_changes_in_place() -> None:
    out = run("tests/data/notebooks/parameters.ipynb").output
    assert "list[int]" in out and "Literal['fast', 'exact']" in out and "(required)" in out
    out = run("tests/data/notebooks/defuse_rules.ipynb").output
    assert "numbers (in place)" in out and "(before it changes numbers)" in out


def test_text_view_of_a_selection() -> None:
    out = run("examples/sales-report.ipynb", "--cells", "9").output
    assert "Selected cells 9; tasks added because they are needed: parameters, imports" in out


def test_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{")
    result = CliRunner().invoke(inspect, [str(broken)])
    assert result.exit_code == 1
    assert (
        result.output.strip() == f"Error: {broken}: not valid JSON: Expecting property name "
        "enclosed in double quotes (line 1, column 2)"
    )
    result = CliRunner().invoke(inspect, ["examples/sales-report.ipynb", "--cells", "99"])
    assert result.exit_code == 1 and "no cell 99" in result.output


def test_bad_arguments_exit_2() -> None:
    assert (
        CliRunner().invoke(inspect, ["examples/sales-report.ipynb", "--cells", ","]).exit_code == 2
    )
    assert CliRunner().invoke(inspect, ["x.ipynb", "--engine", "papermill"]).exit_code == 2


def test_parse_cells() -> None:
    assert parse_cells("3, 5-7,abc,8") == [3, 5, 6, 7, "abc", 8]
    assert parse_cells("a-b") == ["a-b"]  # an id with a dash
    with pytest.raises(click.BadParameter):
        parse_cells("7-5")


def test_registered_on_the_jupyter_flows_command() -> None:
    from jupyter_flows.cli.main import cli

    result = CliRunner().invoke(cli, ["inspect", "examples/word_stats.py", "--json"])
    assert result.exit_code == 0
    assert result.output == (DATA / "example-word_stats.dag.json").read_text()


def test_counts_read_as_english() -> None:
    assert [counted(n, "edge") for n in (0, 1, 2)] == ["0 edges", "1 edge", "2 edges"]
