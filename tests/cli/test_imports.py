"""The front-end floor: `cli/` (the command line and the %flow magic) sits on top.

Nothing below it imports it, and no package reaches into another's private names, so a
front end can change without the layers it stands on noticing.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jupyter_flows

PACKAGE = Path(jupyter_flows.__file__).parent


def imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """``(module, names)`` of every import in the file, lazy ones inside functions too."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def floor(module: str) -> str:
    """``jupyter_flows.notebooks.engines.kernel`` → ``notebooks``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def test_nothing_below_the_front_ends_imports_them() -> None:
    for path in PACKAGE.rglob("*.py"):
        me = module_of(path)
        if floor(me) in ("cli", ""):  # the package root names the magic for %load_ext
            continue
        for module, _ in imports(path):
            assert module.split(".")[:2] != ["jupyter_flows", "cli"], f"{me} imports {module}"


def test_no_package_imports_another_ones_private_names() -> None:
    for path in PACKAGE.rglob("*.py"):
        me = module_of(path)
        for module, names in imports(path):
            if not module.startswith("jupyter_flows.") or floor(module) == floor(me):
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            private += [p for p in module.split(".")[1:] if p.startswith("_")]
            assert not [p for p in private if p != "_version"], f"{me}: {module} {private}"


def test_the_magic_lives_on_the_front_end_floor() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_flows.cli.magic import FlowMagics

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_flows")
    assert isinstance(shell.magics_manager.registry.get("FlowMagics"), FlowMagics)


def test_loading_the_magic_loads_no_command_and_no_client() -> None:
    code = (
        "import sys, json, jupyter_flows.cli.magic; "
        "print(json.dumps(sorted(m for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = set(json.loads(out))
    assert not {"httpx", "pydantic", "click", "jupyter_flows.cli.main"} & loaded
