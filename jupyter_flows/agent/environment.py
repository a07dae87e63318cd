"""A run's environment: reproduced from its ResourceSpec, then checked against it.

The run's process (``agent/execute.py``) calls :func:`prepare` before it loads the flow:

1. **Reproduce** (an agent on this machine, ``RunEnv.reproduce``): the interpreter the spec
   names when this machine has it; otherwise a virtual environment built from the spec's
   lock, with uv when it is installed (pip otherwise), cached under the lock's hash and
   reused by every later run. The build's output is printed, so it is part of the run's job
   log; a build that fails raises :class:`BuildFailed` naming the package, and the run ends
   Failed with that reason. The process then runs itself again in that interpreter
   (``exec``: same pid, same process group), borrowing jupyter-flows from the agent's
   environment (``RunEnv.overlay``, after the flow's own packages on ``sys.path``).
2. **Check**: the live environment against the spec; each difference (a package missing or
   at another version, another Python) is a WARNING on the run, and with the strict option
   (the deployment's tag ``environment:strict``) the run fails before any task.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from jupyter_flows.engine.run_env import RunEnv, overlay_bootstrap
from jupyter_flows.spec.resource_spec import VENV_PACKAGES, ResourceSpec

#: A run document larger than this is fetched by id rather than passed on.
MAX_ENV_DOCUMENT = 64 * 1024
#: The deployment tag that makes drift fail the run instead of warning.
STRICT_TAG = "environment:strict"

Log = Callable[[str], None]


class BuildFailed(RuntimeError):
    """The environment could not be built from the lock; the message names the package."""


class DriftError(RuntimeError):
    """The live environment is not the spec's and the run is strict about it."""


# ---------------------------------------------------------------- interpreter


def interpreter_for(spec: ResourceSpec, log: Log, cache_dir: str | Path | None = None) -> str:
    """The interpreter a run of ``spec`` uses on this machine (building it if need be)."""
    python = spec.python_executable
    if python and os.access(python, os.X_OK) and _minor_of(python) == _minor(spec.python_version):
        return python
    return build_environment(spec, log, cache_dir)


def ready_interpreter(spec: ResourceSpec, cache_dir: str | Path | None = None) -> str | None:
    """The interpreter a run of ``spec`` uses when it is there already (the spec's own, or
    a built and cached environment), without building or starting anything; else None."""
    python = spec.python_executable
    if python and os.access(python, os.X_OK):
        return python
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / spec.lock_hash()[:16]
    return str(target / "bin" / "python") if (target / ".complete").exists() else None


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _minor_of(python: str) -> str | None:
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        return f"{sys.version_info[0]}.{sys.version_info[1]}"
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def default_cache_dir() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "jupyter_flows" / "environments"


# ---------------------------------------------------------------- building


def requirements(spec: ResourceSpec) -> list[str]:
    """The lock as pip requirement lines: ``name==version``, or where a package came from
    (a local folder that still exists, a VCS commit, an archive URL)."""
    lines = []
    for name, package in sorted(spec.packages.items()):
        if name in VENV_PACKAGES:
            continue
        origin = package.get("origin")
        pinned = f"{package['name']}=={package['version']}"
        if origin and origin["kind"] in ("editable", "local"):
            folder = origin["url"].removeprefix("file://")
            if os.path.isdir(folder):
                lines.append(f"-e {folder}" if origin["kind"] == "editable" else folder)
                continue
            lines.append(pinned)
        elif origin and origin["kind"] == "vcs":
            commit = f"@{origin['commit']}" if origin.get("commit") else ""
            lines.append(f"{package['name']} @ {origin['vcs']}+{origin['url']}{commit}")
        elif origin and origin["kind"] == "archive":
            lines.append(f"{package['name']} @ {origin['url']}")
        else:
            lines.append(pinned)
    return lines


def uv_command() -> str | None:
    """uv, if this machine has it (next to this interpreter or on PATH)."""
    beside = Path(sys.executable).with_name("uv")
    return str(beside) if beside.exists() else shutil.which("uv")


def build_environment(
    spec: ResourceSpec,
    log: Log,
    cache_dir: str | Path | None = None,
    *,
    installer: str | None = None,
) -> str:
    """A virtual environment of the spec's lock (cached by the lock's hash); its python.

    ``installer``: "uv" or "pip" (default: uv when available).
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = spec.lock_hash()[:16]
    target = root / key
    python = target / "bin" / "python"
    done = target / ".complete"
    if done.exists():
        log(f"environment {key}: cached at {target}")
        return str(python)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f"{key}.lock"):
        if done.exists():  # another run built it while this one waited
            log(f"environment {key}: cached at {target}")
            return str(python)
        shutil.rmtree(target, ignore_errors=True)
        uv = uv_command() if installer in (None, "uv") else None
        if installer == "uv" and uv is None:
            raise BuildFailed("uv is not installed on this machine")
        base = _base_python(spec, uv)
        wanted = requirements(spec)
        started = time.monotonic()
        log(
            f"environment {key}: building a virtual environment of {len(wanted)} packages "
            f"with {'uv' if uv else 'pip'} (Python {spec.python_version})"
        )
        lock_file = root / f"{key}.txt"
        lock_file.write_text("\n".join(wanted) + "\n", encoding="utf-8")
        try:
            if uv:
                _step([uv, "venv", "--quiet", "--python", base, str(target)], log)
                install = [uv, "pip", "install", "--python", str(python), "-r", str(lock_file)]
            else:
                _step([base, "-m", "venv", str(target)], log)
                install = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
                install += ["--no-input", "-r", str(lock_file)]
            if wanted:
                _step(install, log)
        except BuildFailed:
            shutil.rmtree(target, ignore_errors=True)
            raise
        done.write_text(spec.python_version + "\n", encoding="utf-8")
        log(f"environment {key}: built in {time.monotonic() - started:.1f} s at {target}")
    return str(python)


def _base_python(spec: ResourceSpec, uv: str | None) -> str:
    minor = _minor(spec.python_version)
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == minor:
        return sys.executable
    found = shutil.which(f"python{minor}")
    if found:
        return found
    if uv:
        return minor  # uv finds (or fetches) a Python of that version
    raise BuildFailed(f"no Python {minor} on this machine to build the environment with")


def _step(command: Sequence[str], log: Log) -> None:
    """Run one build command, its output into the log; BuildFailed naming the culprit."""
    try:
        proc = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    except OSError as error:
        raise BuildFailed(f"cannot run {command[0]}: {error}") from None
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        lines.append(line)
        log(line)
    if proc.wait() != 0:
        raise BuildFailed(f"cannot build the environment: {failure_reason(lines)}")


_CULPRITS = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"Because (\S+(?: ==\S+)?) was not found"),
    re.compile(r"Because there is no version of (\S+==\S+)"),
    re.compile(r"Failed to (?:build|download|fetch|prepare distributions).*?`([^`]+)`"),
    re.compile(r"Failed building wheel for (\S+)"),
    re.compile(r"(?:ERROR|error): Could not install packages due to .*"),
)


def failure_reason(lines: Sequence[str]) -> str:
    """The package a failed build names (pip's and uv's wording), else its last error."""
    for pattern in _CULPRITS:
        for line in lines:
            found = pattern.search(line)
            if found:
                package = found.group(1) if found.groups() else None
                return f"the package {package} failed to install" if package else line.strip()
    errors = [line.strip() for line in lines if "error" in line.lower()]
    return errors[-1] if errors else (lines[-1].strip() if lines else "the build failed")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- running in it

#: How the run process starts in another interpreter: the agent's jupyter-flows after
#: the flow's own packages on sys.path, then the run process as ``-m`` would run it.
BOOTSTRAP = overlay_bootstrap("jupyter_flows.agent.execute")


def overlay_paths() -> tuple[str, ...]:
    """Where this process finds jupyter-flows and what it needs: its site-packages and the
    folder the package itself is in."""
    import jupyter_flows

    package_root = str(Path(jupyter_flows.__file__).resolve().parent.parent)
    sites = [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    return tuple(dict.fromkeys([package_root, *sites]))


def exec_in(python: str, run_id: str, handoff: RunEnv, run_document: str) -> None:
    """Replace this process with the run process in ``python`` (never returns)."""
    small = run_document if len(run_document) <= MAX_ENV_DOCUMENT else None  # else fetched
    again = replace(handoff, reproduce=False, overlay=overlay_paths(), run_document=small)
    env = {**os.environ, **again.to_environ()}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, [python, "-c", BOOTSTRAP, run_id], env)


# ---------------------------------------------------------------- working files


def fetch_working_files(spec: ResourceSpec) -> str | None:
    """Where the spec's working files were written, on a machine without their folder (a
    pod); None where the folder is (the files are there already) or none were captured."""
    files = spec.document.get("working_files")
    if not files or os.path.isdir(files["folder"]):
        return None
    import tempfile

    from jupyter_flows.storage import BlobStore

    target = tempfile.mkdtemp(prefix="flow-files-")
    BlobStore().get_directory(files["manifest"], target)
    return target


# ---------------------------------------------------------------- checking


def live_spec() -> ResourceSpec:
    """This process's environment, as a spec (the agent's borrowed packages left out)."""
    from jupyter_flows.spec.capture import build_spec, probe_here

    return build_spec(probe_here(), validate=False).spec


def check_drift(spec: ResourceSpec) -> list[str]:
    """What the live environment lacks of ``spec``: one line per difference."""
    return spec.drift(live_spec())


_WORKER_PACKAGES = """
def worker_packages():
    import platform
    from importlib import metadata

    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name not in found:
            found[name] = dist.version
    return {"python": platform.python_version(), "packages": found}
"""


def check_dask_workers(spec: ResourceSpec, address: str, timeout: float = 30) -> list[str]:
    """How the workers of the existing Dask cluster at ``address`` fall short of the spec:
    one line per worker and difference."""
    from distributed import Client

    namespace: dict[str, object] = {}
    # Defined outside any importable module, so it travels by value to workers that may
    # not have jupyter-flows.
    exec(_WORKER_PACKAGES, {"__name__": "jupyter_flows_worker_probe"}, namespace)
    with Client(address, timeout=timeout, set_as_default=False) as client:
        answers = client.run(namespace["worker_packages"])
    problems = []
    for worker, answer in sorted(answers.items()):
        packages = [{"name": n, "version": v} for n, v in answer["packages"].items()]
        live = ResourceSpec(
            {"image": {"python": {"version": answer["python"]}, "packages": packages}}
        )
        problems += [f"worker {worker}: {line}" for line in spec.drift(live)]
    return problems


def is_strict(tags: Sequence[str]) -> bool:
    """Drift fails the run (the deployment's tag, which its runs carry)."""
    return STRICT_TAG in tags
