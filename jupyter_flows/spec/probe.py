"""What an interpreter says about itself: the code a capture runs inside the environment.

:data:`PROBE_SOURCE` is self-contained (standard library only, any Python 3.8+), because
it runs where jupyter-flows may not be installed: in the notebook's kernel, in a kernel
spec's interpreter, or in this process. :func:`probe_source` fills in its settings; it
prints one line, :data:`MARKER` followed by a JSON object:

``python`` (version, implementation, executable, prefix), ``platform``, ``packages`` (one
pass over ``importlib.metadata``: name, version and, for editable, VCS and local installs,
the PEP 610 ``direct_url.json`` origin), ``conda`` (a prefix with ``conda-meta``: its
``conda env export`` when conda answers within the time allowed), ``env`` (variables kept),
``dropped`` (names left out because they look secret or their value is a credential's),
``machine`` (cpu count, memory in bytes, NVIDIA GPUs).

Values of secret-looking variables never leave the interpreter: the credential check
compares sha256 digests handed in, not values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

MARKER = "__jupyter_flows_probe__"

PROBE_SOURCE = r"""
def __jupyter_flows_probe(settings):
    import hashlib, json, os, platform, re, sys, sysconfig
    from importlib import metadata

    overlay = set()
    for entry in os.environ.get(settings["overlay_var"], "").split(os.pathsep):
        if entry:
            overlay.add(os.path.realpath(entry))
    packages, seen = [], set()
    dist_info = re.compile(r"^([^-]+)-([^-]+)\.dist-info$")
    for dist in metadata.distributions():
        where = getattr(dist, "_path", None)
        # A .dist-info folder's name says the name and version: no METADATA to parse.
        named = dist_info.match(where.name) if where is not None else None
        if named:
            name, version = named.group(1), named.group(2)
        else:
            name, version = dist.metadata["Name"], dist.version
        if not name:
            continue
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:  # shadowed by one earlier on sys.path
            continue
        if where is not None and os.path.realpath(str(where.parent)) in overlay:
            continue
        seen.add(key)
        item = {"name": name, "version": version}
        try:
            direct = dist.read_text("direct_url.json")
        except Exception:
            direct = None
        if direct:
            try:
                info = json.loads(direct)
                url = info["url"]
                origin = {"kind": "archive", "url": url}
                if "vcs_info" in info:
                    vcs = info["vcs_info"]
                    origin = {"kind": "vcs", "url": url, "vcs": vcs.get("vcs"),
                              "commit": vcs.get("commit_id")}
                elif "dir_info" in info:
                    editable = info["dir_info"].get("editable")
                    origin = {"kind": "editable" if editable else "local", "url": url}
                item["origin"] = origin
            except Exception:
                pass
        packages.append(item)
    packages.sort(key=lambda p: p["name"].lower())

    conda = None
    if os.path.isdir(os.path.join(sys.prefix, "conda-meta")) and settings["conda"]:
        import shutil, subprocess
        exe = os.environ.get("CONDA_EXE") or shutil.which("conda")
        if exe:
            try:
                out = subprocess.run([exe, "env", "export", "--no-builds", "-p", sys.prefix],
                                     capture_output=True, text=True, timeout=settings["conda"])
                if out.returncode == 0:
                    conda = {"prefix": sys.prefix, "export": out.stdout}
            except Exception:
                pass

    secret = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL", re.I)
    skip = re.compile(settings["skip_env"])
    digests = set(settings["credential_digests"])
    env, dropped = {}, []
    for name, value in os.environ.items():
        if skip.match(name) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            continue
        if secret.search(name) or (
            digests and hashlib.sha256(value.encode()).hexdigest() in digests
        ):
            dropped.append(name)
            continue
        env[name] = value

    memory = None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    gpus = []
    folder = "/proc/driver/nvidia/gpus"
    if os.path.isdir(folder):
        for bus in sorted(os.listdir(folder)):
            try:
                with open(os.path.join(folder, bus, "information")) as info:
                    model = info.readline().split(":", 1)[1].strip()
            except Exception:
                model = None
            gpus.append(model)
    return {
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation(),
                   "executable": sys.executable, "prefix": sys.prefix},
        "platform": sysconfig.get_platform(),
        "packages": packages,
        "conda": conda,
        "env": env,
        "dropped": sorted(dropped),
        "machine": {"cpu": cpus, "memory": memory, "gpus": gpus},
    }

print(MARKER + __import__("json").dumps(__jupyter_flows_probe(SETTINGS)))
"""

#: Variables that describe a session or a machine rather than what the code needs.
SKIP_ENV = (
    r"^(PATH|HOME|PWD|OLDPWD|SHLVL|_|USER|LOGNAME|HOSTNAME|SHELL|TERM|TERM_.*|COLORTERM|"
    r"DISPLAY|LS_COLORS|LESS.*|PAGER|GIT_PAGER|EDITOR|VISUAL|CLICOLOR.*|FORCE_COLOR|"
    r"COLUMNS|LINES|MAIL|TMPDIR|TEMP|TMP|PS1|PS2|SSH_.*|XDG_.*|DBUS_.*|WAYLAND_.*|"
    r"VIRTUAL_ENV|VIRTUAL_ENV_PROMPT|CONDA_.*|_CE_.*|PYTHONPATH|PYTHONHOME|PYTHONSTARTUP|"
    r"JPY_.*|JUPYTER_.*|IPYTHONDIR|KERNEL_.*|MPLBACKEND|PYDEVD_.*|DEBUGPY_.*|"
    r"VSCODE_.*|TERM_PROGRAM.*|KUBERNETES_.*|PIP_.*|UV_.*|OMP_NUM_THREADS|TMUX.*|STY|"
    r"WINDOWID|ITERM_.*|SHELL_SESSION_.*|PYTEST_.*|COVERAGE_.*|LC_TERMINAL.*|INVOCATION_ID|"
    r"JOURNAL_STREAM|MANPATH|INFOPATH|HISTFILE|HISTSIZE)$"
)


def _inner(
    overlay_var: str, credential_digests: Iterable[str] = (), conda_timeout: float = 20.0
) -> str:
    settings = {
        "overlay_var": overlay_var,
        "credential_digests": sorted(credential_digests),
        "conda": conda_timeout,
        "skip_env": SKIP_ENV,
    }
    return (
        f"MARKER = {MARKER!r}\nSETTINGS = {json.dumps(settings)!r}\n"
        "SETTINGS = __import__('json').loads(SETTINGS)\n" + PROBE_SOURCE
    )


def probe_source(
    *, overlay_var: str, credential_digests: Iterable[str] = (), conda_timeout: float = 20.0
) -> str:
    """The probe's code with its settings: it prints its answer (a subprocess, here)."""
    inner = _inner(overlay_var, credential_digests, conda_timeout)
    # In a namespace of its own: a kernel's user namespace is left as it was.
    return f"exec({inner!r}, {{}})"


def probe_expression(
    *, overlay_var: str, credential_digests: Iterable[str] = (), conda_timeout: float = 20.0
) -> str:
    """The probe as one expression whose value is its answer (``MARKER`` + JSON): what a
    kernel evaluates as a user expression and answers on the shell channel, so nothing
    depends on the iopub stream a fresh client may not be subscribed to yet."""
    inner = _inner(overlay_var, credential_digests, conda_timeout).replace(
        "print(MARKER + ", "RESULT = (MARKER + "
    )
    return f"(lambda ns: (exec({inner!r}, ns), ns['RESULT'])[1])({{}})"


def parse_probe_output(text: str) -> dict[str, object]:
    """The probe's JSON from what the interpreter printed; ValueError if it is not there."""
    for line in reversed(text.splitlines()):
        if line.startswith(MARKER):
            result: dict[str, object] = json.loads(line[len(MARKER) :])
            return result
    raise ValueError(f"the environment did not answer the probe: {text.strip()[-500:]!r}")
