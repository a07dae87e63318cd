"""Capturing a flow's ResourceSpec where its code was written.

Three places to ask, best first: the notebook's own running kernel (:func:`probe_kernel`,
code executed in it through jupyter-server's kernel manager), the interpreter of its kernel
spec (:func:`probe_interpreter`, a subprocess), or, for scripts and the CLI, this very
interpreter (:func:`probe_here`). Each runs :mod:`jupyter_flows.spec.probe` there and
:func:`build_spec` turns its answer into a validated :class:`ResourceSpec`, with the
working files (the notebook's folder, ``.gitignore``-aware, size-capped) stored in the
blob store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty as queue_Empty
from typing import Any

from jupyter_flows.engine.run_env import OVERLAY
from jupyter_flows.spec.probe import parse_probe_output, probe_expression, probe_source
from jupyter_flows.spec.resource_spec import FORMAT, ResourceSpec

#: Past this many bytes of working files, registering stops and says so.
DEFAULT_WORKING_FILES_CAP = 50 * 2**20
#: The image a Kubernetes run uses when the spec names none: ``{python}`` is the minor
#: version the flow was captured with.
DEFAULT_CONTAINER_IMAGE = "python:{python}-slim"
#: Never working files, whatever .gitignore says.
ALWAYS_IGNORED = (".git/", ".ipynb_checkpoints/", "__pycache__/", ".venv/", "*.pyc", ".DS_Store")


class CaptureError(RuntimeError):
    """The environment could not be captured; the message says where and why."""


class WorkingFilesTooLarge(CaptureError):
    pass


@dataclass(frozen=True)
class Captured:
    spec: ResourceSpec
    #: Variables left out because they look secret (or hold a credential's value): the
    #: user is told, and offered to store them as credentials.
    dropped_env: list[str] = field(default_factory=list)
    #: Where the environment was read: "kernel", "kernel spec" or "interpreter".
    source: str = "interpreter"


# ---------------------------------------------------------------- probing


def _source(credential_values: Iterable[str]) -> str:
    digests = {hashlib.sha256(v.encode()).hexdigest() for v in credential_values if v}
    return probe_source(overlay_var=OVERLAY, credential_digests=digests)


def probe_here(credential_values: Iterable[str] = ()) -> dict[str, Any]:
    """The probe run in this interpreter."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(_source(credential_values), {})
    return parse_probe_output(out.getvalue())


def probe_interpreter(
    python: str, credential_values: Iterable[str] = (), timeout: float = 60.0
) -> dict[str, Any]:
    """The probe run by the interpreter ``python`` (a kernel spec's argv[0])."""
    try:
        done = subprocess.run(
            [python, "-I", "-c", _source(credential_values)],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CaptureError(f"cannot run {python} to capture its environment: {error}") from None
    try:
        return parse_probe_output(done.stdout)
    except ValueError:
        raise CaptureError(
            f"{python} did not describe its environment: {done.stderr.strip()[-500:]}"
        ) from None


async def probe_kernel(
    kernel_manager: Any, kernel_id: str, credential_values: Iterable[str] = (), timeout: float = 30
) -> dict[str, Any]:
    """The probe evaluated in the running kernel ``kernel_id``, through jupyter-server's
    kernel manager: a silent execute request (no history, no execution count, no output)
    whose user expression is the probe; its value comes back in the shell reply."""
    import ast

    digests = {hashlib.sha256(v.encode()).hexdigest() for v in credential_values if v}
    expression = probe_expression(overlay_var=OVERLAY, credential_digests=digests)
    client = kernel_manager.get_kernel(kernel_id).client()
    client.start_channels(iopub=False, stdin=False, hb=False, control=False)
    try:
        msg_id = client.execute("", silent=True, user_expressions={"probe": expression})
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise CaptureError(f"kernel {kernel_id} did not answer within {timeout} s")
            reply = await client.get_shell_msg(timeout=left)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
    except (TimeoutError, asyncio.TimeoutError, RuntimeError, queue_Empty) as error:
        raise CaptureError(f"kernel {kernel_id} did not answer: {error or 'timed out'}") from None
    finally:
        client.stop_channels()
    result = reply["content"].get("user_expressions", {}).get("probe", {})
    if result.get("status") != "ok":
        problem = result.get("evalue") or reply["content"].get("evalue") or "no answer"
        raise CaptureError(f"kernel {kernel_id} failed to describe its environment: {problem}")
    try:
        return parse_probe_output(ast.literal_eval(result["data"]["text/plain"]))
    except (ValueError, SyntaxError, KeyError) as error:
        raise CaptureError(f"kernel {kernel_id}: {error}") from None


# ---------------------------------------------------------------- the spec


def build_spec(
    probe: Mapping[str, Any],
    *,
    kernel_spec: str | None = None,
    credentials: Iterable[str] = (),
    hardware: Mapping[str, Any] | None = None,
    start_script: str | None = None,
    working_files: Mapping[str, Any] | None = None,
    container_image: str | None = None,
    env: Mapping[str, str] | None = None,
    source: str = "interpreter",
    validate: bool = True,
) -> Captured:
    """The validated ResourceSpec of a probe's answer.

    ``hardware`` overrides the machine's defaults (cpu, memory, gpu, disk); ``env`` replaces
    the captured variables (after the same secret rules, applied by the probe).
    ``validate=False`` skips the schema (a run's own environment, compared at its start).
    """
    machine = probe.get("machine") or {}
    gpus = list(machine.get("gpus") or [])
    defaults: dict[str, Any] = {
        "cpu": machine.get("cpu") or 1,
        "memory": f"{int(machine['memory']) // 2**20}Mi" if machine.get("memory") else "1Gi",
        "gpu": {"count": len(gpus), "type": gpus[0] if gpus else None},
        "disk": None,
    }
    requested = dict(hardware or {})
    if isinstance(requested.get("gpu"), int):
        requested["gpu"] = {"count": requested["gpu"], "type": requested.pop("gpu_type", None)}
    python = dict(probe["python"])
    minor = ".".join(str(python["version"]).split(".")[:2])
    document = {
        "format": FORMAT,
        "version": 1,
        "image": {
            "python": python,
            "platform": probe["platform"],
            "kernel_spec": kernel_spec,
            "packages": list(probe["packages"]),
            "conda": probe.get("conda"),
        },
        "env": dict(probe.get("env") or {}) if env is None else dict(env),
        "credentials": sorted(set(credentials)),
        "hardware": {**defaults, **requested},
        "start_script": start_script,
        "working_files": dict(working_files) if working_files else None,
        "container_image": container_image or DEFAULT_CONTAINER_IMAGE.format(python=minor),
    }
    spec = ResourceSpec.validate(document) if validate else ResourceSpec(document)
    return Captured(spec, list(probe.get("dropped") or []), source=source)


def capture_here(**options: Any) -> Captured:
    """The ResourceSpec of this interpreter (a script, the CLI)."""
    values = options.pop("credential_values", ())
    return build_spec(probe_here(values), **options)


def kernel_spec_python(name: str, kernel_spec_manager: Any = None) -> str | None:
    """The interpreter a kernel spec starts (its argv[0] when that is a Python), or None."""
    import shutil

    if kernel_spec_manager is None:
        from jupyter_client.kernelspec import KernelSpecManager

        kernel_spec_manager = KernelSpecManager()
    try:
        argv = list(kernel_spec_manager.get_kernel_spec(name).argv)
    except Exception:  # no such kernel spec here
        return None
    if not argv or "python" not in os.path.basename(argv[0]).lower():
        return None
    return argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])


def notebook_kernel_spec(path: str | os.PathLike[str]) -> str | None:
    """The kernel spec a notebook file names in its metadata (None for a script)."""
    import json

    if not str(path).endswith(".ipynb"):
        return None
    try:
        metadata = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata") or {}
    except (OSError, ValueError):
        return None
    name = (metadata.get("kernelspec") or {}).get("name")
    return name if isinstance(name, str) and name else None


def capture_for_file(
    path: str | os.PathLike[str],
    *,
    blob_storage: str | None = None,
    working_files: bool = True,
    working_files_cap: int = DEFAULT_WORKING_FILES_CAP,
    credential_values: Iterable[str] = (),
    **options: Any,
) -> Captured:
    """The ResourceSpec of a notebook or script registered from this process (the CLI,
    the magic): its kernel spec's interpreter when the notebook names one that is a
    Python here, else this interpreter; its folder's files as working files."""
    kernel_spec = options.pop("kernel_spec", None) or notebook_kernel_spec(path)
    python = kernel_spec_python(kernel_spec) if kernel_spec else None
    if python and os.path.abspath(python) != os.path.abspath(sys.executable):
        probe, source = probe_interpreter(python, credential_values), "kernel spec"
    else:
        probe, source = probe_here(credential_values), "interpreter"
    files = None
    if working_files:
        folder = Path(path).resolve().parent
        files = store_working_files(folder, blob_storage, working_files_cap)
    return build_spec(probe, kernel_spec=kernel_spec, working_files=files, source=source, **options)


# ---------------------------------------------------------------- working files


def store_working_files(
    folder: str | os.PathLike[str],
    blob_storage: str | None = None,
    cap: int = DEFAULT_WORKING_FILES_CAP,
) -> dict[str, Any]:
    """Store the files of ``folder`` that git would keep (``.gitignore`` files, at any
    depth, are honoured) in the blob store; ``{"folder", "manifest", "files", "bytes"}``.

    Raises WorkingFilesTooLarge, naming the largest files, past ``cap`` bytes.
    """
    from jupyter_flows.storage import BlobStore

    root = Path(folder).resolve()
    store = BlobStore(blob_storage)
    local = store.url.removeprefix("file://")
    skip = {Path(local).resolve()} if "://" not in local else set()  # blobs in the folder
    chosen = list(_kept_files(root, skip))
    total = sum(size for _, size in chosen)
    if total > cap:
        largest = sorted(chosen, key=lambda item: -item[1])[:3]
        named = ", ".join(f"{p.relative_to(root).as_posix()} ({_mb(s)})" for p, s in largest)
        raise WorkingFilesTooLarge(
            f"the working files of {root} are {_mb(total)}, over the {_mb(cap)} cap: add "
            f"large files to .gitignore or raise the cap (largest: {named})"
        )
    files = {path.relative_to(root).as_posix(): store.put_file(path) for path, _ in chosen}
    return {
        "folder": str(root),
        "manifest": store.put_manifest(files),
        "files": len(files),
        "bytes": total,
    }


def _kept_files(root: Path, skip: set[Path]) -> Iterable[tuple[Path, int]]:
    import pathspec

    specs: list[tuple[Path, Any]] = [(root, pathspec.GitIgnoreSpec.from_lines(ALWAYS_IGNORED))]
    for current, dirnames, filenames in os.walk(root):
        here = Path(current)
        ignore_file = here / ".gitignore"
        if ignore_file.is_file():
            lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            specs.append((here, pathspec.GitIgnoreSpec.from_lines(lines)))
        active = [(base, spec) for base, spec in specs if here == base or base in here.parents]

        def ignored(path: Path, is_dir: bool, active: list[tuple[Path, Any]] = active) -> bool:
            for base, spec in active:
                relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
                if spec.match_file(relative):
                    return True
            return False

        dirnames[:] = sorted(
            d for d in dirnames if not ignored(here / d, True) and (here / d) not in skip
        )
        for name in sorted(filenames):
            path = here / name
            if path.is_file() and not path.is_symlink() and not ignored(path, False):
                yield path, path.stat().st_size


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"
