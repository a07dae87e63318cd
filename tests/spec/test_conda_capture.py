"""A conda environment's export is captured with the lock, from the interpreter itself.

conda cannot be installed here; its command line is faked by a script that answers
``conda env export --no-builds -p PREFIX`` as conda does (YAML on stdout), named by
``CONDA_EXE`` as conda's activation names it, in a prefix with ``conda-meta/`` as every
conda environment has.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_flows.spec.capture import build_spec, probe_interpreter
from jupyter_flows.spec.resource_spec import ResourceSpec

EXPORT = """name: analysis
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy={numpy}
prefix: {prefix}
"""


@pytest.fixture(scope="module")
def conda_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment laid out as a conda one (``conda-meta/``)."""
    prefix = tmp_path_factory.mktemp("conda") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    (prefix / "conda-meta").mkdir()
    (prefix / "conda-meta" / "history").write_text("")
    return prefix


def fake_conda(folder: Path, numpy: str, code: int = 0) -> Path:
    """A ``conda`` that checks it was asked for an export of a prefix and answers it."""
    exe = folder / f"conda-{numpy}-{code}"
    exe.write_text(
        "#!/bin/sh\n"
        '[ "$1 $2 $3 $4" = "env export --no-builds -p" ] || '
        '{ echo "unexpected: $*" >&2; exit 2; }\n'
        f"[ {code} -eq 0 ] || {{ echo 'CondaError: broken' >&2; exit {code}; }}\n"
        f"cat <<YAML\n{EXPORT.format(numpy=numpy, prefix='$5')}YAML\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def capture(prefix: Path, conda: Path, monkeypatch: pytest.MonkeyPatch) -> ResourceSpec:
    monkeypatch.setenv("CONDA_EXE", str(conda))
    return build_spec(probe_interpreter(str(prefix / "bin" / "python"))).spec


def test_the_export_of_a_conda_prefix_is_part_of_the_spec(
    conda_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = capture(conda_env, fake_conda(tmp_path, "1.26.4"), monkeypatch)
    conda = spec.document["image"]["conda"]
    assert conda["prefix"] == str(conda_env)  # the interpreter's sys.prefix
    assert "numpy=1.26.4" in conda["export"]
    assert f"prefix: {conda['prefix']}" in conda["export"]  # asked for this prefix

    changed = capture(conda_env, fake_conda(tmp_path, "2.1.0"), monkeypatch)
    assert changed.hash() != spec.hash()  # a new flow version
    assert "conda environment changed" in spec.diff(changed)


def test_no_export_when_conda_fails_or_the_prefix_is_not_conda(
    conda_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = capture(conda_env, fake_conda(tmp_path, "1.26.4", code=1), monkeypatch)
    assert not failing.document["image"].get("conda")
    monkeypatch.setenv("CONDA_EXE", str(fake_conda(tmp_path, "1.26.4")))
    plain = build_spec(probe_interpreter(sys.executable)).spec  # no conda-meta here
    assert not plain.document["image"].get("conda")
