"""ResourceSpec: the environment a flow runs in, as data.

Captured when a flow is registered (:mod:`jupyter_flows.spec.capture`), stored in the flow
version's content (``resource_spec``, with its :meth:`ResourceSpec.hash` as
``resource_spec_hash``, so a changed environment is a new version), and read back by the
run's process to reproduce it (:mod:`jupyter_flows.spec.environments`) and to report drift.

The document is plain JSON, validated against ``resource-spec.schema.json`` (shipped next
to this module; ``schema/resource-spec.schema.json`` is the same file). Its sections:
``image`` (Python, platform, kernel spec, the package lock, a conda export), ``env``,
``credentials`` (names only), ``hardware``, ``start_script``, ``working_files`` and
``container_image``.

It imports only the standard library (jsonschema on :meth:`ResourceSpec.validate`): a run's
process reads it before anything else.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FORMAT = "jupyter-flows/resource-spec"
SCHEMA_PATH = Path(__file__).with_name("resource-spec.schema.json")

#: Installed with every virtual environment: never part of what a lock must reproduce.
VENV_PACKAGES = frozenset({"pip", "setuptools", "wheel", "distribute"})


class ResourceSpecError(ValueError):
    """A resource spec that does not match the schema; the message says where and why."""


def normalize_name(name: str) -> str:
    """PEP 503: ``Foo_Bar.baz`` → ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return result


@dataclass(frozen=True)
class ResourceSpec:
    """A validated resource spec document (see the module's docstring)."""

    document: Mapping[str, Any]

    @classmethod
    def validate(cls, document: Mapping[str, Any]) -> ResourceSpec:
        """The spec of ``document``; ResourceSpecError naming every problem otherwise."""
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(schema())
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        if errors:
            problems = "; ".join(
                f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
                for e in errors[:10]
            )
            raise ResourceSpecError(f"invalid resource spec: {problems}")
        return cls(json.loads(json.dumps(document)))

    @classmethod
    def of_content(cls, content: Mapping[str, Any] | None) -> ResourceSpec | None:
        """The spec a flow version's content holds, unvalidated (the server validated it)."""
        document = (content or {}).get("resource_spec")
        return cls(document) if isinstance(document, Mapping) else None

    # ---------------------------------------------------------------- identity

    def hash(self) -> str:
        """sha256 of the canonical JSON: equal environments give equal hashes."""
        text = json.dumps(self.document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    # ---------------------------------------------------------------- sections

    @property
    def image(self) -> Mapping[str, Any]:
        return self.document.get("image") or {}

    @property
    def python_version(self) -> str:
        return str(self.image.get("python", {}).get("version", ""))

    @property
    def python_executable(self) -> str | None:
        return self.image.get("python", {}).get("executable")

    @property
    def packages(self) -> dict[str, Mapping[str, Any]]:
        """The lock by normalized name."""
        return {normalize_name(p["name"]): p for p in self.image.get("packages") or []}

    def lock_hash(self) -> str:
        """What a rebuilt environment depends on: Python's minor version and the lock."""
        minor = ".".join(self.python_version.split(".")[:2])
        lock = sorted(
            (name, p["version"], json.dumps(p.get("origin"), sort_keys=True))
            for name, p in self.packages.items()
            if name not in VENV_PACKAGES
        )
        text = json.dumps([minor, lock], separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def env(self) -> dict[str, str]:
        return dict(self.document.get("env") or {})

    @property
    def credentials(self) -> list[str]:
        return list(self.document.get("credentials") or [])

    @property
    def hardware(self) -> Mapping[str, Any]:
        return self.document.get("hardware") or {}

    def infrastructure_resources(self) -> dict[str, Any]:
        """The hardware request as an infrastructure's ``resources`` (image, cpu, memory,
        gpu, gpu_type, disk): what a run config does not set itself."""
        hardware = self.hardware
        resources: dict[str, Any] = {}
        if self.document.get("container_image"):
            resources["image"] = self.document["container_image"]
        for key in ("cpu", "memory", "disk"):
            if hardware.get(key) is not None:
                resources[key] = hardware[key]
        gpu = hardware.get("gpu") or {}
        if gpu.get("count"):
            resources["gpu"] = int(gpu["count"])
            if gpu.get("type"):
                resources["gpu_type"] = gpu["type"]
        return resources

    # ---------------------------------------------------------------- comparisons

    def diff(self, newer: ResourceSpec) -> list[str]:
        """What changed from this spec to ``newer``, in words a person reads."""
        return describe_changes(self.document, newer.document)

    def drift(self, live: ResourceSpec) -> list[str]:
        """How ``live`` (a running environment) falls short of this spec: packages missing or
        at other versions, another Python. Extra packages are not drift."""
        problems = []
        if _minor(self.python_version) != _minor(live.python_version):
            problems.append(f"Python {live.python_version}, the spec has {self.python_version}")
        have = live.packages
        for name, package in sorted(self.packages.items()):
            if name in VENV_PACKAGES:
                continue
            found = have.get(name)
            if found is None:
                problems.append(f"{package['name']} {package['version']} missing")
            elif found["version"] != package["version"]:
                problems.append(
                    f"{package['name']} {found['version']}, the spec has {package['version']}"
                )
        return problems


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``["pandas 2.2.3 → 2.3.1", "added polars 1.20", "PYTHONHASHSEED removed"]``."""
    changes: list[str] = []
    old_image, new_image = old.get("image") or {}, new.get("image") or {}
    old_py, new_py = old_image.get("python") or {}, new_image.get("python") or {}
    for key, label in (("implementation", "Python implementation"), ("version", "Python")):
        if old_py.get(key) != new_py.get(key):
            changes.append(f"{label} {old_py.get(key)} → {new_py.get(key)}")
    for key, label in (("platform", "platform"), ("kernel_spec", "kernel spec")):
        if old_image.get(key) != new_image.get(key):
            changes.append(f"{label} {old_image.get(key)} → {new_image.get(key)}")
    before = {normalize_name(p["name"]): p for p in old_image.get("packages") or []}
    after = {normalize_name(p["name"]): p for p in new_image.get("packages") or []}
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was is None and now is not None:
            changes.append(f"added {now['name']} {now['version']}")
        elif now is None and was is not None:
            changes.append(f"removed {was['name']} {was['version']}")
        elif was is not None and now is not None:
            if was["version"] != now["version"]:
                changes.append(f"{now['name']} {was['version']} → {now['version']}")
            elif was.get("origin") != now.get("origin"):
                changes.append(f"{now['name']} {now['version']} now from {_origin(now)}")
    if (old_image.get("conda") or {}) != (new_image.get("conda") or {}):
        changes.append("conda environment changed")
    old_env, new_env = old.get("env") or {}, new.get("env") or {}
    for name in sorted(old_env.keys() | new_env.keys()):
        if name not in new_env:
            changes.append(f"{name} removed")
        elif name not in old_env:
            changes.append(f"{name} added")
        elif old_env[name] != new_env[name]:
            changes.append(f"{name} changed")
    old_creds, new_creds = set(old.get("credentials") or []), set(new.get("credentials") or [])
    changes += [f"credential {n} added" for n in sorted(new_creds - old_creds)]
    changes += [f"credential {n} removed" for n in sorted(old_creds - new_creds)]
    old_hw, new_hw = old.get("hardware") or {}, new.get("hardware") or {}
    for key in ("cpu", "memory", "gpu", "disk"):
        if old_hw.get(key) != new_hw.get(key):
            changes.append(f"{key} {_shown(old_hw.get(key))} → {_shown(new_hw.get(key))}")
    if old.get("start_script") != new.get("start_script"):
        changes.append("start script changed")
    old_files, new_files = old.get("working_files") or {}, new.get("working_files") or {}
    if old_files.get("manifest") != new_files.get("manifest"):
        changes.append(
            f"working files changed ({old_files.get('files', 0)} → {new_files.get('files', 0)}"
            " files)"
        )
    if old.get("container_image") != new.get("container_image"):
        changes.append(
            f"container image {old.get('container_image')} → {new.get('container_image')}"
        )
    return changes


def _origin(package: Mapping[str, Any]) -> str:
    origin = package.get("origin")
    return "an index" if not origin else f"{origin['kind']} {origin['url']}"


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):  # a gpu request
        count, kind = value.get("count", 0), value.get("type")
        return f"{count}×{kind}" if kind else str(count)
    return "none" if value is None else str(value)
