"""The parameters cell (papermill's ``parameters`` tag) → a JSON Schema, and checking a run.

Each top-level assignment of the cell is a parameter::

    n = 10                      # how many rows          → integer, default 10
    alpha: float = 1            # learning rate          → number, default 1
    cities: list[str] = ["Oslo"]                          → array of strings
    mode: Literal["fast", "exact"] = "fast"               → enum
    start = None                                          → any value, default null
    seed: int | None = None                               → integer or null
    today = date.today()                                  → computed by the cell: not required
    token: str                                            → required (no default)

The type is the annotation's when there is one, else the literal default's; the description
is the assignment's trailing comment. The schema is
JSON Schema 2020-12 with ``additionalProperties: false``, so an unknown name is refused.
:func:`validate_parameters` checks a run's values against it before anything runs.
"""

from __future__ import annotations

import ast
import difflib
import io
import tokenize
from dataclasses import dataclass
from typing import Any

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class ParameterError(ValueError):
    """A run's parameters do not fit the flow's schema; ``parameter`` names the culprit."""

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class Parameter:
    name: str
    schema: dict[str, Any]
    type: str
    """A short human label: ``int``, ``list[str]``, ``any``."""
    required: bool = False
    has_default: bool = False
    default: Any = None
    default_expression: str | None = None
    """The source of a default that is not a literal (computed when the cell runs)."""
    description: str | None = None
    line: int = 0


@dataclass(frozen=True)
class ParametersCell:
    parameters: tuple[Parameter, ...]
    warnings: tuple[str, ...] = ()


# ------------------------------------------------------------------ reading the cell


def read_parameters(source: str) -> ParametersCell:
    """The parameters assigned by a parameters cell's ``source``, with what was not understood."""
    from jupyter_flows.notebooks.defuse import transform

    try:
        tree = ast.parse(source)
    except SyntaxError:
        try:
            source = transform(source)
            tree = ast.parse(source)
        except SyntaxError as exc:
            return ParametersCell((), (f"the parameters cell has a syntax error: {exc.msg}",))
    comments = _comments(source)
    found: dict[str, Parameter] = {}
    warnings: list[str] = []
    for stmt in tree.body:
        pairs = _assignments(stmt)
        if pairs is None:
            kind = type(stmt).__name__.lower()
            warnings.append(
                f"line {stmt.lineno} of the parameters cell ({kind}) is not a parameter "
                "assignment: it runs, but defines no parameter"
            )
            continue
        description = comments.get(stmt.end_lineno or stmt.lineno)
        for name, annotation, value in pairs:
            parameter, problem = _parameter(name, annotation, value, description, stmt.lineno)
            if problem:
                warnings.append(problem)
            if name in found:
                warnings.append(f"parameter {name!r} is assigned twice; the last one counts")
            found[name] = parameter
    return ParametersCell(tuple(found.values()), tuple(warnings))


def _assignments(stmt: ast.stmt) -> list[tuple[str, ast.expr | None, ast.expr | None]] | None:
    """(name, annotation, value) for each name the statement assigns, or None if not that."""
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [(stmt.target.id, stmt.annotation, stmt.value)]
    if not isinstance(stmt, ast.Assign):
        return None
    pairs: list[tuple[str, ast.expr | None, ast.expr | None]] = []
    for target in stmt.targets:
        if isinstance(target, ast.Name):
            pairs.append((target.id, None, stmt.value))
        elif (
            isinstance(target, ast.Tuple)
            and isinstance(stmt.value, ast.Tuple)
            and len(target.elts) == len(stmt.value.elts)
            and all(isinstance(e, ast.Name) for e in target.elts)
        ):
            pairs.extend(
                (e.id, None, v)  # type: ignore[attr-defined]
                for e, v in zip(target.elts, stmt.value.elts, strict=True)
            )
        else:
            return None
    return pairs


def _parameter(
    name: str,
    annotation: ast.expr | None,
    value: ast.expr | None,
    description: str | None,
    line: int,
) -> tuple[Parameter, str | None]:
    problem = None
    has_default, default, expression = False, None, None
    if value is not None:
        try:
            default = ast.literal_eval(value)
            has_default = True
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            expression = ast.unparse(value)
        if has_default:
            default, ok = _json_value(default)
            if not ok:
                has_default, default, expression = False, None, ast.unparse(value)
                problem = (
                    f"parameter {name!r}: its default {expression} is not JSON "
                    "(a run can still give a JSON value)"
                )
    if annotation is not None:
        schema, label = annotation_schema(annotation)
    elif has_default:
        schema, label = literal_schema(default)
    else:
        schema, label = {}, "any"
    if expression is not None and problem is None:
        problem = (
            f"parameter {name!r}: its default {expression} is computed when the cell runs, "
            "so it is not in the schema"
        )
    prop = dict(schema)
    if has_default:
        prop["default"] = default
        if not _fits(schema, default):
            problem = f"parameter {name!r}: its default {default!r} is not {describe(schema)}"
    if description:
        prop["description"] = description
    required = value is None
    return (
        Parameter(
            name=name,
            schema=prop,
            type=label,
            required=required,
            has_default=has_default,
            default=default,
            default_expression=expression,
            description=description,
            line=line,
        ),
        problem,
    )


def _json_value(value: Any) -> tuple[Any, bool]:
    """``value`` as JSON would hold it (tuples become lists), and whether it can be held."""
    if value is None or isinstance(value, (bool, int, str)):
        return value, True
    if isinstance(value, float):
        return value, value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (list, tuple)):
        items = [_json_value(v) for v in value]
        return [v for v, _ in items], all(ok for _, ok in items)
    if isinstance(value, dict):
        pairs = [(k, _json_value(v)) for k, v in value.items()]
        ok = all(isinstance(k, str) and good for k, (_, good) in pairs)
        return {k: v for k, (v, _) in pairs}, ok
    return value, False


def _comments(source: str) -> dict[int, str]:
    """Trailing comments by line number."""
    found: dict[int, str] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return found
    previous_line_has_code: set[int] = set()
    for token in tokens:
        if token.type == tokenize.COMMENT:
            if token.start[0] in previous_line_has_code:
                text = token.string.lstrip("#").strip()
                if text:
                    found[token.start[0]] = text
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            previous_line_has_code.add(token.start[0])
    return found


# ------------------------------------------------------------------ types → JSON Schema

_NAMED: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "complex": {"type": "number"},
    "str": {"type": "string"},
    "bool": {"type": "boolean"},
    "list": {"type": "array"},
    "List": {"type": "array"},
    "Sequence": {"type": "array"},
    "tuple": {"type": "array"},
    "Tuple": {"type": "array"},
    "set": {"type": "array", "uniqueItems": True},
    "Set": {"type": "array", "uniqueItems": True},
    "frozenset": {"type": "array", "uniqueItems": True},
    "dict": {"type": "object"},
    "Dict": {"type": "object"},
    "Mapping": {"type": "object"},
    "Any": {},
    "object": {},
    "None": {"type": "null"},
    "NoneType": {"type": "null"},
    "Path": {"type": "string"},
    "PurePath": {"type": "string"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "time": {"type": "string", "format": "time"},
}
_ARRAYS = {"list", "List", "Sequence", "set", "Set", "frozenset", "Iterable"}
_OBJECTS = {"dict", "Dict", "Mapping"}


def literal_schema(value: Any) -> tuple[dict[str, Any], str]:
    """The schema and label of a default's own type (``None``: any value)."""
    if value is None:
        return {}, "any"
    for kind, label in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
        if isinstance(value, kind):
            return dict(_NAMED[label]), label
    if isinstance(value, list):
        return {"type": "array"}, "list"
    if isinstance(value, dict):
        return {"type": "object"}, "dict"
    return {}, "any"


def annotation_schema(node: ast.expr) -> tuple[dict[str, Any], str]:
    """The schema of a type annotation, read from its syntax (nothing is imported)."""
    label = ast.unparse(node)
    return _schema(node), label


def _schema(node: ast.expr) -> dict[str, Any]:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return {"type": "null"}
        if isinstance(node.value, str):  # a string annotation: "int"
            try:
                return _schema(ast.parse(node.value, mode="eval").body)
            except SyntaxError:
                return {}
        return {}
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = node.id if isinstance(node, ast.Name) else node.attr
        return dict(_NAMED.get(name, {}))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _any_of([_schema(node.left), _schema(node.right)])
    if isinstance(node, ast.Subscript):
        base = (
            node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
        )
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base == "Optional":
            return _any_of([_schema(args[0]), {"type": "null"}])
        if base == "Union":
            return _any_of([_schema(a) for a in args])
        if base == "Literal":
            values = [a.value for a in args if isinstance(a, ast.Constant)]
            return {"enum": values}
        if base == "Annotated":
            schema = _schema(args[0])
            texts = [a.value for a in args[1:] if isinstance(a, ast.Constant)]
            if texts and isinstance(texts[0], str):
                schema["description"] = texts[0]
            return schema
        if base in _ARRAYS:
            schema = dict(_NAMED.get(base, {"type": "array"}))
            item = _schema(args[0])
            if item:
                schema["items"] = item
            return schema
        if base in ("tuple", "Tuple"):
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is ...:
                item = _schema(args[0])
                return {"type": "array", "items": item} if item else {"type": "array"}
            items = [_schema(a) for a in args]
            return {
                "type": "array",
                "prefixItems": items,
                "minItems": len(items),
                "maxItems": len(items),
            }
        if base in _OBJECTS:
            schema = {"type": "object"}
            if len(args) == 2:
                value = _schema(args[1])
                if value:
                    schema["additionalProperties"] = value
            return schema
    return {}


def _any_of(options: list[dict[str, Any]]) -> dict[str, Any]:
    if any(not option for option in options):
        return {}  # one option accepts anything, so the union does
    flat: list[dict[str, Any]] = []
    for option in options:
        for part in option.get("anyOf", [option]) if set(option) == {"anyOf"} else [option]:
            if part not in flat:
                flat.append(part)
    return flat[0] if len(flat) == 1 else {"anyOf": flat}


def describe(schema: dict[str, Any]) -> str:
    """``an integer``, ``a list of strings``, ``one of 'a', 'b'``: for error messages."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(describe(option) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array" and isinstance(schema.get("items"), dict) and schema["items"]:
        return f"a list of {_plural(schema['items'])}"
    words = {
        "integer": "an integer",
        "number": "a number",
        "string": "a string",
        "boolean": "true or false",
        "array": "a list",
        "object": "an object (a dict)",
        "null": "null (None)",
    }
    if kind in words:
        if kind == "string" and schema.get("format") in ("date", "date-time", "time"):
            return f"a {schema['format']} string"
        return words[kind]
    return "any value"


def _plural(schema: dict[str, Any]) -> str:
    text = describe(schema)
    for article in ("an ", "a "):
        if text.startswith(article):
            return text[len(article) :] + "s"
    return text


def _fits(schema: dict[str, Any], value: Any) -> bool:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema).is_valid(value)


# ------------------------------------------------------------------ the flow's schema


def parameter_schema(parameters: tuple[Parameter, ...] | list[Parameter]) -> dict[str, Any]:
    """The JSON Schema stored on the flow version (empty when there are no parameters)."""
    if not parameters:
        return {}
    return {
        "$schema": SCHEMA_DIALECT,
        "type": "object",
        "properties": {p.name: p.schema for p in parameters},
        "required": [p.name for p in parameters if p.required],
        "additionalProperties": False,
    }


def validate_parameters(schema: dict[str, Any], values: Any) -> dict[str, Any]:
    """Check a run's ``values`` against ``schema``; return them with defaults filled in.

    Raises :class:`ParameterError` naming the first parameter that is unknown, missing or of
    the wrong type. Nothing should run (no kernel start) before this passes.
    """
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise ParameterError("parameters must be an object of name → value")
    properties: dict[str, Any] = (schema or {}).get("properties") or {}
    if schema and schema.get("additionalProperties") is False:
        for name in values:
            if name not in properties:
                raise ParameterError(_unknown(name, properties), name)
    for name in (schema or {}).get("required") or []:
        if name not in values:
            raise ParameterError(f"parameter {name!r} is required: it has no default", name)
    from jsonschema import Draft202012Validator

    for name, value in values.items():
        prop = properties.get(name)
        if not prop:
            continue
        checked = {k: v for k, v in prop.items() if k not in ("default", "description")}
        errors = list(Draft202012Validator(checked).iter_errors(value))
        if errors:
            detail = ""
            if errors[0].path:  # inside a list or dict: say where
                where = "".join(f"[{p!r}]" for p in errors[0].path)
                detail = f" ({name}{where}: {errors[0].message})"
            raise ParameterError(
                f"parameter {name!r} expects {describe(checked)}, got {value!r} "
                f"({type(value).__name__}){detail}",
                name,
            )
    filled = {
        name: prop["default"]
        for name, prop in properties.items()
        if "default" in prop and name not in values
    }
    return {**filled, **values}


def _unknown(name: str, properties: dict[str, Any]) -> str:
    if not properties:
        return f"unknown parameter {name!r}: this flow takes no parameters"
    known = ", ".join(sorted(properties))
    close = difflib.get_close_matches(name, list(properties), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown parameter {name!r}{hint}; the parameters are: {known}"
