"""The parameters cell → JSON Schema, and a run's values checked against it."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from jupyter_flows.notebooks.parameters import (
    ParameterError,
    parameter_schema,
    read_parameters,
    validate_parameters,
)

# (id, the cell line, type label, property schema)
TYPES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("int", "p = 10", "int", {"type": "integer", "default": 10}),
    ("negative-int", "p = -3", "int", {"type": "integer", "default": -3}),
    ("float", "p = 0.5", "float", {"type": "number", "default": 0.5}),
    ("str", "p = 'x'", "str", {"type": "string", "default": "x"}),
    ("bool", "p = True", "bool", {"type": "boolean", "default": True}),
    ("list", "p = [1, 'a']", "list", {"type": "array", "default": [1, "a"]}),
    ("tuple-is-a-list", "p = (1, 2)", "list", {"type": "array", "default": [1, 2]}),
    ("dict", "p = {'a': 1}", "dict", {"type": "object", "default": {"a": 1}}),
    ("none-is-any", "p = None", "any", {"default": None}),
    ("annotated-float", "p: float = 1", "float", {"type": "number", "default": 1}),
    (
        "annotated-list-of-str",
        "p: list[str] = []",
        "list[str]",
        {"type": "array", "items": {"type": "string"}, "default": []},
    ),
    (
        "typing-List",
        "p: List[int] = [1]",
        "List[int]",
        {"type": "array", "items": {"type": "integer"}, "default": [1]},
    ),
    (
        "dict-of-float",
        "p: dict[str, float] = {}",
        "dict[str, float]",
        {"type": "object", "additionalProperties": {"type": "number"}, "default": {}},
    ),
    (
        "optional",
        "p: Optional[int] = None",
        "Optional[int]",
        {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
    ),
    (
        "union-pipe",
        "p: int | str = 1",
        "int | str",
        {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 1},
    ),
    (
        "literal",
        "p: Literal['a', 'b'] = 'a'",
        "Literal['a', 'b']",
        {"enum": ["a", "b"], "default": "a"},
    ),
    (
        "tuple-fixed",
        "p: tuple[int, str] = (1, 'a')",
        "tuple[int, str]",
        {
            "type": "array",
            "prefixItems": [{"type": "integer"}, {"type": "string"}],
            "minItems": 2,
            "maxItems": 2,
            "default": [1, "a"],
        },
    ),
    (
        "date",
        "p: date = '2024-01-01'",
        "date",
        {"type": "string", "format": "date", "default": "2024-01-01"},
    ),
    ("string-annotation", "p: 'int' = 2", "'int'", {"type": "integer", "default": 2}),
    (
        "annotated-description",
        "p: Annotated[int, 'rows to read'] = 2",
        "Annotated[int, 'rows to read']",
        {"type": "integer", "description": "rows to read", "default": 2},
    ),
    ("unknown-type-accepts-anything", "p: DataFrame = None", "DataFrame", {"default": None}),
    (
        "description-from-comment",
        "p = 3  # how many",
        "int",
        {"type": "integer", "default": 3, "description": "how many"},
    ),
]


@pytest.mark.parametrize(("line", "label", "prop"), [pytest.param(*r[1:], id=r[0]) for r in TYPES])
def test_parameter_types(line: str, label: str, prop: dict[str, Any]) -> None:
    cell = read_parameters(line)
    (parameter,) = cell.parameters
    assert (parameter.name, parameter.type, parameter.schema) == ("p", label, prop)
    assert not parameter.required
    Draft202012Validator.check_schema(parameter_schema(cell.parameters))


def test_required_and_computed_parameters() -> None:
    cell = read_parameters("token: str\ntoday = date.today()\n")
    token, today = cell.parameters
    assert token.required and not token.has_default
    assert not today.required and today.default_expression == "date.today()"
    assert "computed when the cell runs" in cell.warnings[0]
    schema = parameter_schema(cell.parameters)
    assert schema["required"] == ["token"]
    assert "default" not in schema["properties"]["today"]


def test_other_statements_are_warned_about_not_parameters() -> None:
    cell = read_parameters("import os\nn = 1\nprint(n)\na, b = 1, 'x'\n")
    assert [p.name for p in cell.parameters] == ["n", "a", "b"]
    assert [p.type for p in cell.parameters] == ["int", "int", "str"]
    assert len(cell.warnings) == 2
    assert "line 1 of the parameters cell (import)" in cell.warnings[0]


def test_defaults_that_do_not_fit_or_are_not_json() -> None:
    cell = read_parameters("n: int = 'five'\ns = {1, 2}\n")
    assert "its default 'five' is not an integer" in cell.warnings[0]
    assert "not JSON" in cell.warnings[1]
    assert cell.parameters[1].default_expression == "{1, 2}"


def test_syntax_error_in_the_parameters_cell() -> None:
    cell = read_parameters("n = (")
    assert cell.parameters == ()
    assert "syntax error" in cell.warnings[0]


def test_no_parameters_no_schema() -> None:
    assert parameter_schema([]) == {}


# ------------------------------------------------------------------ validating a run

SCHEMA = parameter_schema(
    read_parameters(
        "n = 10\nalpha: float = 0.5\nname = 'x'\nflag = False\nitems: list[int] = []\n"
        "mode: Literal['fast', 'exact'] = 'fast'\nseed: int | None = None\ntoken: str\n"
    ).parameters
)


def test_valid_values_come_back_with_defaults() -> None:
    values = validate_parameters(SCHEMA, {"token": "t", "n": 3, "alpha": 2})
    assert values == {
        "n": 3,
        "alpha": 2,
        "name": "x",
        "flag": False,
        "items": [],
        "mode": "fast",
        "seed": None,
        "token": "t",
    }


@pytest.mark.parametrize(
    ("values", "parameter", "message"),
    [
        (
            {"token": "t", "alhpa": 1},
            "alhpa",
            "unknown parameter 'alhpa' (did you mean 'alpha'?); the parameters are: alpha, flag",
        ),
        ({}, "token", "parameter 'token' is required: it has no default"),
        ({"token": "t", "n": "five"}, "n", "parameter 'n' expects an integer, got 'five' (str)"),
        ({"token": "t", "n": True}, "n", "parameter 'n' expects an integer, got True (bool)"),
        ({"token": "t", "alpha": "x"}, "alpha", "parameter 'alpha' expects a number"),
        ({"token": "t", "flag": "yes"}, "flag", "parameter 'flag' expects true or false"),
        (
            {"token": "t", "items": [1, "b"]},
            "items",
            "parameter 'items' expects a list of integers, got [1, 'b'] (list) (items[1]:",
        ),
        ({"token": "t", "mode": "slow"}, "mode", "parameter 'mode' expects one of 'fast', 'exact'"),
        ({"token": "t", "seed": 1.5}, "seed", "parameter 'seed' expects an integer or null (None)"),
        ({"token": 1}, "token", "parameter 'token' expects a string, got 1 (int)"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(
    values: dict[str, Any], parameter: str, message: str
) -> None:
    with pytest.raises(ParameterError) as caught:
        validate_parameters(SCHEMA, values)
    assert caught.value.parameter == parameter
    assert message in str(caught.value)


def test_a_flow_without_parameters_refuses_any() -> None:
    assert validate_parameters({}, {}) == {}
    empty = {"type": "object", "properties": {}, "additionalProperties": False}
    with pytest.raises(ParameterError, match="this flow takes no parameters"):
        validate_parameters(empty, {"n": 1})
    with pytest.raises(ParameterError, match="must be an object"):
        validate_parameters(SCHEMA, ["n"])
