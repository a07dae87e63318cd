"""What ``import jupyter_flows`` costs every run's process, and the engine's boundaries."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import jupyter_flows

ENGINE = Path(jupyter_flows.__file__).parent / "engine"


def test_import_loads_the_engine_alone() -> None:
    code = "import sys, json, jupyter_flows; print(json.dumps(sorted(m for m in sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = set(json.loads(out))
    heavy = {
        "pydantic",
        "cloudpickle",
        "fsspec",
        "distributed",
        "dask",
        "tornado",
        "jupyter_server",
        "sqlalchemy",
        "httpx",
        "importlib.metadata",  # the plugin registries read entry points only when asked
    }
    assert not heavy & loaded, f"imported on start-up: {sorted(heavy & loaded)}"
    ours = {m for m in loaded if m.startswith("jupyter_flows.")}
    assert all(
        m.startswith("jupyter_flows.engine") or m == "jupyter_flows._version" for m in ours
    ), sorted(ours)


def test_the_engine_imports_nothing_else_of_the_package() -> None:
    for path in ENGINE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("jupyter_flows"):
                    assert name.startswith("jupyter_flows.engine"), f"{path.name}: {name}"


def test_prefect_style_import_paths() -> None:
    from jupyter_flows import flow, get_run_logger, tags, task, unmapped  # noqa: F401
    from jupyter_flows.futures import as_completed, wait  # noqa: F401
    from jupyter_flows.logging import get_run_logger as logger_fn
    from jupyter_flows.states import Completed, Failed  # noqa: F401
    from jupyter_flows.task_runners import ThreadPoolTaskRunner  # noqa: F401
    from jupyter_flows.tasks import exponential_backoff, task_input_hash  # noqa: F401

    assert logger_fn is get_run_logger
