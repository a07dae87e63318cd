"""Runs the compatibility corpus (tests/engine/prefect_corpus/README.md): each program in a
process of its own, its stdout and console logs checked against what Prefect 3's
documentation says it gives."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "prefect_corpus"
ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted(CORPUS.glob("*.py"))


@dataclass
class Expectations:
    stdout: list[str] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)


def expectations(program: Path) -> Expectations:
    found = Expectations()
    for line in program.read_text().splitlines():
        if line.startswith("# out: "):
            found.stdout.append(line[len("# out: ") :])
        elif line.startswith("# log: "):
            level, _, text = line[len("# log: ") :].partition(" ")
            found.logs.append((level, text))
        elif line.startswith("# no log: "):
            found.absent.append(line[len("# no log: ") :])
        elif line.startswith("# differs: "):
            found.differs.append(line[len("# differs: ") :])
    return found


def test_the_corpus_covers_every_subject() -> None:
    subjects = {program.name.split("_")[0] for program in PROGRAMS}
    assert subjects == {"flows", "tasks", "states", "caching", "runners", "logging"}
    for program in PROGRAMS:
        wanted = expectations(program)
        assert wanted.stdout or wanted.logs, f"{program.name} states no expectation"
        assert '"""' in program.read_text().split("\n", 1)[0], f"{program.name}: no docstring"


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_the_program_gives_what_the_documentation_says(program: Path, tmp_path: Path) -> None:
    wanted = expectations(program)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "JUPYTER_FLOWS_RESULT_STORAGE": str(tmp_path / "results"),
        "JUPYTER_FLOWS_CONSOLE_LOGS": "1",
        "JUPYTER_FLOWS_LOGGING_LEVEL": "INFO",
    }
    done = subprocess.run(
        [sys.executable, str(program)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == wanted.stdout, done.stderr[-3000:]
    log_lines = [line for line in done.stderr.splitlines() if " | " in line]
    for level, text in wanted.logs:
        assert any(f"| {level:<7} |" in line and text in line for line in log_lines), (
            f"no {level} log line with {text!r}:\n" + "\n".join(log_lines)
        )
    for text in wanted.absent:
        assert not any(text in line for line in log_lines), f"logged {text!r}"
