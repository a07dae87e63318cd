"""The README's tour runs exactly as written: its Python blocks, in order, in a new process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def tour_blocks() -> list[str]:
    text = README.read_text()
    start = text.index("## A 5-minute tour")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def test_the_tour_has_code() -> None:
    assert len(tour_blocks()) >= 5


def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    script = tmp_path / "tour.py"
    script.write_text("\n\n".join(tour_blocks()))
    env = {
        **os.environ,
        "JUPYTER_FLOWS_RESULT_STORAGE": str(tmp_path / "results"),
        "JUPYTER_FLOWS_CONSOLE_LOGS": "0",
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "parameter 'n' expects int" in done.stdout
    assert "total-0 ['Pending', 'NotReady']" in done.stdout
