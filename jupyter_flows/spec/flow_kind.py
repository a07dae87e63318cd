"""What kind of code a flow is, read without pydantic.

:class:`~jupyter_flows.spec.flow_spec.FlowSpec` is the full description of a flow; this
module is the part of it a run's process needs before anything else (which code to load),
kept free of pydantic so that starting a module's run stays as light as running it:
:func:`kind_of` is what :meth:`FlowSpec.from_content` reads a registered content's kind
with, and what the run process asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

#: How a notebook flow's entrypoint names its stored notebook: ``<path>#sha256=<digest>``.
NOTEBOOK_MARK = "#sha256="


class FlowKind(str, Enum):
    """What a flow's code is, and so what runs it."""

    #: A .py of ``@flow`` functions: the run process imports the entrypoint ``path.py:attr``.
    MODULE = "module"
    #: An .ipynb: a notebook engine runs its cells, from the blob its entrypoint names.
    NOTEBOOK = "notebook"
    #: A percent or plain .py script: run like a notebook, its cells split from the text.
    SCRIPT = "script"


class FlowSpecError(ValueError):
    """A registered content that does not describe a flow (an unknown kind, a notebook
    flow that names no engine, a task without a key)."""


def notebook_entrypoint(path: str, digest: str) -> str:
    """A notebook or script flow's entrypoint: its path and the digest of its blob."""
    return f"{path}{NOTEBOOK_MARK}{digest}"


def parse_entrypoint(entrypoint: str | None) -> tuple[str, str] | None:
    """``(path, digest)`` of a notebook or script flow's entrypoint, None for a module's."""
    if not entrypoint or NOTEBOOK_MARK not in entrypoint:
        return None
    path, _, digest = entrypoint.rpartition(NOTEBOOK_MARK)
    return path, digest


def kind_of(content: Mapping[str, Any], entrypoint: str | None = None) -> FlowKind:
    """The kind a registered content names (FlowSpecError for an unknown one).

    A content registered before kinds were written down is told by the rule of its time,
    here and nowhere else: a task runner that names an ``engine`` is a notebook's (a
    script's when its entrypoint names a .py file), any other a module's.
    """
    kind = content.get("kind")
    if kind is not None:
        try:
            return FlowKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in FlowKind)
            raise FlowSpecError(f"unknown flow kind {kind!r}; known: {known}") from None
    runner = content.get("task_runner")
    if not (isinstance(runner, Mapping) and "engine" in runner):
        return FlowKind.MODULE
    located = parse_entrypoint(entrypoint)
    return FlowKind.SCRIPT if located and located[0].endswith(".py") else FlowKind.NOTEBOOK
