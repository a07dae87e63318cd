from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_flows.engine.reporter import MemoryReporter, use_reporter


@pytest.fixture(autouse=True)
def result_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test persists results in a directory of its own, never in the user's home."""
    path = tmp_path / "results"
    monkeypatch.setenv("JUPYTER_FLOWS_RESULT_STORAGE", str(path))
    return path


@pytest.fixture
def reporter() -> Iterator[MemoryReporter]:
    """Records every state and log line of the runs a test starts."""
    with use_reporter(MemoryReporter()) as rep:
        yield rep
