"""A third-party package of plugins, installed for a test through real entry points.

``install_plugins(folder, monkeypatch)`` writes the package ``flows_demo_plugins`` and a
``*.dist-info`` folder (METADATA, entry_points.txt) beside it, then puts the folder on
``sys.path``: ``importlib.metadata`` finds the distribution there exactly as it finds one
that pip installed. Each kind lives in a module of its own, so loading one loads nothing
of the others.

- task runner ``recording``: runs each task inline and notes its name in ``SUBMITTED``.
- notebook engine ``inline``: runs each cell-task's source in one namespace, in order.
- infrastructure ``plain-process``: a subprocess per run, noting each start in the file
  ``$FLOWS_DEMO_LOG``; it runs on this machine (so the agent hands it its interpreter).
- broken ones: ``broken`` (its module fails to import), ``wrong`` (not a TaskRunner), and a
  second distribution whose ``twice`` runner is broken while the first one's works.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = "flows_demo_plugins"

RUNNER = """
from jupyter_flows.engine.runners import SequentialTaskRunner

SUBMITTED: list[str] = []


class RecordingRunner(SequentialTaskRunner):
    name = "recording"

    def duplicate(self):
        return RecordingRunner()

    def _submit(self, call):
        SUBMITTED.append(call.record.name)
        return super()._submit(call)


class NotARunner:
    pass
"""

ENGINE = '''
from jupyter_flows.notebooks.engines import CellError, NotebookEngine


class InlineEngine(NotebookEngine):
    """Each cell-task's source in one namespace, in order, in this process."""

    name = "inline"

    def execute(self, run):
        namespace = {}
        for task in run.spec.tasks:
            code = compile(task.source, f"<{task.key}>", "exec")

            def cell(code=code, is_parameters=task.kind == "parameters"):
                exec(code, namespace)
                if is_parameters:
                    namespace.update(run.values)

            state = run.new_task_run(task, cell).run()
            if not state.is_completed():
                raise CellError(task.key, state.message or "failed")
'''

INFRA = """
import os
import subprocess

from jupyter_flows.agent.infra.base import ExitStatus, Handle, Infrastructure, WaitTimeout


class PlainProcess(Infrastructure):
    kind = "plain-process"
    runs_on_this_machine = True

    def __init__(self):
        self._procs = {}

    def start(self, run):
        with open(os.environ["FLOWS_DEMO_LOG"], "a") as log:
            print(run.flow_run_id, run.command[0], "JUPYTER_FLOWS_AGENT_PID" in run.env, file=log)
        proc = subprocess.Popen(
            list(run.command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=run.working_dir or None,
            env={**os.environ, **run.env},
        )
        self._procs[str(proc.pid)] = proc
        return Handle(self.kind, str(proc.pid), run.flow_run_id)

    def wait(self, handle, timeout=None):
        try:
            code = self._procs[handle.id].wait(timeout)
        except subprocess.TimeoutExpired:
            raise WaitTimeout(f"{handle.id} still running") from None
        return ExitStatus(code, f"exit code {code}")

    def logs(self, handle):
        for raw in iter(self._procs[handle.id].stdout.readline, b""):
            yield raw.decode("utf-8", "replace").rstrip("\\n")

    def cancel(self, handle):
        proc = self._procs.get(handle.id)
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def status(self, handle):
        return ""
"""

BROKEN = """
import flows_demo_plugins_missing_dependency  # noqa: F401 - what makes this plugin broken
"""

ENTRY_POINTS = f"""
[jupyter_flows.task_runners]
recording = {PACKAGE}.runner:RecordingRunner
broken = {PACKAGE}.broken:Runner
wrong = {PACKAGE}.runner:NotARunner
twice = {PACKAGE}.runner:RecordingRunner

[jupyter_flows.notebook_engines]
inline = {PACKAGE}.engine:InlineEngine

[jupyter_flows.infrastructures]
plain-process = {PACKAGE}.infra:PlainProcess
"""

#: A second distribution, found first, whose ``twice`` cannot be loaded.
OTHER_ENTRY_POINTS = f"""
[jupyter_flows.task_runners]
twice = {PACKAGE}.broken:Runner
"""


def _distribution(folder: Path, name: str, entry_points: str) -> None:
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points.lstrip())


def install_plugins(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install the demo plugins from ``folder`` for this test; returns the folder."""
    package = folder / "site" / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for module, source in (
        ("runner", RUNNER),
        ("engine", ENGINE),
        ("infra", INFRA),
        ("broken", BROKEN),
    ):
        (package / f"{module}.py").write_text(textwrap.dedent(source).lstrip())
    _distribution(folder / "site", "flows_demo_plugins", ENTRY_POINTS)
    _distribution(folder / "other-site", "flows_demo_other", OTHER_ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(folder / "site"))
    monkeypatch.syspath_prepend(str(folder / "other-site"))  # first on sys.path: found first
    # Forget the package after the test, whatever it imported (an earlier test's copy too).
    for name in [PACKAGE, *(f"{PACKAGE}.{m}" for m in ("runner", "engine", "infra", "broken"))]:
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
        monkeypatch.delitem(sys.modules, name)
    return folder / "site"
