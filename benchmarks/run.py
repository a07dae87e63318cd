"""`make bench`: jupyter-flows side by side with plain Python, Dask and Prefect 3.

    python benchmarks/run.py            # N = 1,000 and 10,000; Prefect at 1,000
    python benchmarks/run.py --full     # Prefect at 10,000 too (several more minutes)
    python benchmarks/run.py --skip-prefect
    python benchmarks/run.py --quick    # smoke run: small N, no Prefect, README untouched

Run it with the project's venv python (jupyter-flows installed). Every workload runs in a
fresh subprocess (see workloads/); Prefect's run in benchmarks/.prefect-venv, which this
script creates on first use. Prints the table and writes it into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import report

HERE = Path(__file__).resolve().parent
WORKLOADS = HERE / "workloads"
PREFECT_VENV = HERE / ".prefect-venv"
PREFECT_REQUIREMENTS = ["prefect>=3,<4", "fastapi<0.151"]  # 3.8.8 breaks on fastapi 0.151+
WORKLOAD_TIMEOUT_S = 1800
PREFECT_TIMEOUT_S = 3600
DASK_TIMEOUT_S = 420  # about 2 min when all is well; a regression shows as "did not finish"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class WorkloadError(RuntimeError):
    """A workload failed; ``records`` holds what it measured before that."""

    def __init__(self, message: str, records: list[dict] | None = None):
        super().__init__(message)
        self.records = records or []


def _records(stdout: str | bytes | None) -> list[dict]:
    if isinstance(stdout, bytes):
        stdout = stdout.decode(errors="replace")
    return [json.loads(line) for line in (stdout or "").splitlines() if line.startswith("{")]


def run_json(cmd: list[str], env=None, timeout=WORKLOAD_TIMEOUT_S) -> list[dict]:
    """Run one workload process; return the JSON records it printed on stdout.

    The workload gets its own process group, so a timeout also ends what it started
    (Dask worker processes, Prefect's temporary server).
    """
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, start_new_session=True
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                stdout, _ = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, _ = proc.communicate()
            raise WorkloadError(f"did not finish in {timeout} s", _records(stdout)) from None
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read()[-3000:]
            print(tail, file=sys.stderr)
            last = [line for line in tail.strip().splitlines() if line.strip()][-1:]
            message = f"exit {proc.returncode}: {last[0] if last else ''}"
            raise WorkloadError(message, _records(stdout))
    return _records(stdout)


def import_time(python: str, module: str, runs: int, env=None) -> float:
    """Median time of `import module` in fresh processes (after one uncounted warm-up)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = []
    for i in range(runs + 1):
        out = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, env=env, check=True
        ).stdout
        if i:
            samples.append(float(out.strip().splitlines()[-1]))
    return statistics.median(samples)


def startup_time(python: str, runs: int) -> float:
    """Median wall time of `python -c pass`, for scale next to the import times."""
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([python, "-c", "pass"], check=True)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def prefect_env(home: str) -> dict:
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)  # always the temporary local server, never a real one
    env.update(
        PREFECT_HOME=home,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_CLIENT_MAX_RETRIES="10",
    )
    return env


def prefect_python() -> str:
    """benchmarks/.prefect-venv's python, creating the venv and installing Prefect if needed."""
    python = PREFECT_VENV / "bin" / "python"
    check = [str(python), "-c", "import prefect"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(python)
    log("installing Prefect 3 into benchmarks/.prefect-venv (a minute or two, once)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PREFECT_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", *PREFECT_REQUIREMENTS]
    proc = subprocess.run(pip, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        raise WorkloadError("pip install of Prefect failed")
    return str(python)


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    """Other work on the machine skews every number; the table says how busy it was."""
    return f"{os.getloadavg()[0]:.1f}"


def machine_facts(records: list[dict], load_before: str) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30

    def engine_version(engine: str, default: str) -> str:
        found = (r["version"] for r in records if r.get("engine") == engine and "version" in r)
        return next(found, default)

    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores (nproc)": len(os.sched_getaffinity(0)),
        "CPU": cpu,
        "memory": f"{mem:.0f} GiB",
        "load average (1 min) before / after the run": f"{load_before} / {load_average()}",
        "OS": platform.platform(terse=True),
        "Python": platform.python_version(),
        "jupyter-flows": engine_version("jupyter-flows", version("jupyter-flows")),
        "dask / distributed": f"{version('dask')} / {version('distributed')}",
        "Prefect": engine_version("prefect", "not run"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, no Prefect, no README")
    parser.add_argument("--skip-prefect", action="store_true", help="leave Prefect out")
    parser.add_argument("--full", action="store_true", help="Prefect at N = 10,000 too")
    parser.add_argument("--dask-threads", action="store_true", help="in-process Dask workers")
    parser.add_argument("--json", type=Path, help="also write the raw records here")
    args = parser.parse_args(argv)

    ns = [100] if args.quick else [1000, 10000]
    prefect_ns = ns if args.full else ns[:1]
    repeats = ["--repeats", "1" if args.quick else "3"]
    empty_runs = ["--runs", "20" if args.quick else "300"]
    n_args = [arg for n in ns for arg in ("--n", str(n))]
    py, jf = sys.executable, str(WORKLOADS / "jf_engine.py")

    records: list[dict] = []
    errors: dict[str, str] = {}
    load_before = load_average()

    def step(name: str, fn):
        log(name)
        try:
            out = fn()
            records.extend(out if isinstance(out, list) else [out])
        except (WorkloadError, subprocess.CalledProcessError, ValueError) as exc:
            records.extend(getattr(exc, "records", []))
            errors[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log(f"{name}: FAILED: {errors[name]}")

    runs = 3 if args.quick else 7
    step(
        "python startup",
        lambda: dict(engine="python", workload="startup", median_s=startup_time(py, runs)),
    )
    step(
        "import jupyter_flows",
        lambda: dict(
            engine="jupyter-flows",
            workload="import",
            median_s=import_time(py, "jupyter_flows", runs),
        ),
    )
    step("plain Python", lambda: run_json([py, str(WORKLOADS / "baseline.py"), *n_args]))
    step("jupyter-flows: empty flow", lambda: run_json([py, jf, "empty", *empty_runs]))
    step("jupyter-flows: direct", lambda: run_json([py, jf, "direct", *n_args, *repeats]))
    step("jupyter-flows: submit", lambda: run_json([py, jf, "submit", *n_args, *repeats]))
    step("jupyter-flows: async", lambda: run_json([py, jf, "async", *n_args, *repeats]))
    if version("distributed") == "not installed":
        errors["Dask"] = "distributed is not installed in this venv"
    else:
        # One flow per N: Dask's own ~2-3 ms per task dominates and 10,000 tasks take a while.
        dask = [py, jf, "dask", *n_args, "--repeats", "1"]
        dask += ["--dask-threads"] if args.dask_threads else []
        step(
            "jupyter-flows and raw distributed on Dask",
            lambda: run_json(dask, timeout=DASK_TIMEOUT_S),
        )

    skip_prefect = args.quick or args.skip_prefect
    if skip_prefect:
        prefect_note = "skipped (`--skip-prefect`)" if args.skip_prefect else "skipped (`--quick`)"
    else:
        prefect_note = "not run (`--full`)"
        home = tempfile.mkdtemp(prefix="bench-prefect-home-")
        try:
            env = prefect_env(home)
            pf_python = prefect_python()
            step(
                "import prefect",
                lambda: dict(
                    engine="prefect",
                    workload="import",
                    median_s=import_time(pf_python, "prefect", 5, env),
                ),
            )
            pf_args = [arg for n in prefect_ns for arg in ("--n", str(n))]
            pf_cmd = [pf_python, str(WORKLOADS / "prefect_engine.py"), *pf_args]
            step(
                "Prefect 3 workloads (the first flow starts its temporary server)",
                lambda: run_json(pf_cmd, env=env, timeout=PREFECT_TIMEOUT_S),
            )
        except WorkloadError as exc:
            errors["Prefect"] = str(exc)
            prefect_note = "failed (see below)"
        finally:
            shutil.rmtree(home, ignore_errors=True)

    res = report.Results(records, errors)
    facts = machine_facts(records, load_before)
    how = "python benchmarks/run.py" + "".join(
        f" --{flag.replace('_', '-')}"
        for flag in ("quick", "skip_prefect", "full", "dask_threads")
        if getattr(args, flag)
    )
    section = report.render_section(res, ns, facts, how, prefect_note)
    print(section)
    if args.json:
        args.json.write_text(json.dumps({"records": records, "errors": errors}, indent=1))
    if args.quick:
        log("--quick: benchmarks/README.md left as it was")
    else:
        report.write_readme(HERE / "README.md", section)
        log("table written to benchmarks/README.md")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
