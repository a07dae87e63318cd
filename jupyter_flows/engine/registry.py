"""One small registry for every pluggable kind: task runners, notebook engines, infrastructures.

A kind is found by name. Built-in kinds are registered in code, as a class or as
``"module:Class"`` imported on first use (so papermill, Kubernetes or Dask load only when a
run asks for them); other packages add kinds through an entry-point group
(``jupyter_flows.task_runners``, ``jupyter_flows.notebook_engines``,
``jupyter_flows.infrastructures``), read only when a name is not registered in code. A name
registered in code wins over an entry point of the same name.

A plugin that cannot be imported, or is not a subclass of the kind's base class, is logged
and skipped: another entry point of the same name is tried, and asking for it raises
``PluginLoadError`` saying why. A name nobody provides raises ``UnknownPluginError`` listing
the known names. Each floor passes subclasses of both errors that are also its own errors
(an unknown infrastructure is an ``InvalidRunSpec`` too).

The engine imports nothing else of the package, so this module lives here and the other
floors import it.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from jupyter_flows.engine.errors import PluginLoadError, UnknownPluginError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

T = TypeVar("T")

_log = logging.getLogger("jupyter_flows.plugins")

#: What can be registered: the class itself, or "module:Class" (imported on first use).
Target = str | type


class Registry(Generic[T]):
    """Names → subclasses of ``base``: registered in code or found in entry-point ``group``."""

    def __init__(
        self,
        kind: str,
        base: type[T],
        group: str,
        *,
        builtins: Mapping[str, Target] | None = None,
        aliases: Mapping[str, str] | None = None,
        unknown_error: type[UnknownPluginError] = UnknownPluginError,
        load_error: type[PluginLoadError] = PluginLoadError,
    ) -> None:
        self.kind = kind
        self.base = base
        self.group = group
        self.aliases = dict(aliases or {})
        self.unknown_error = unknown_error
        self.load_error = load_error
        self._targets: dict[str, Target] = dict(builtins or {})
        self._loaded: dict[str, type[T]] = {}
        #: "group:name=value" of entry points that failed, so each is tried (and logged) once.
        self._broken: dict[str, str] = {}
        self._lock = threading.Lock()

    def register(self, name: str, target: Target) -> None:
        """Make ``target`` (a class, or ``"module:Class"``) available as ``name``."""
        if not isinstance(target, (str, type)):
            raise TypeError(f"register a class or 'module:Class', got {target!r}")
        with self._lock:
            self._targets[name] = target
            self._loaded.pop(name, None)

    def unregister(self, name: str) -> None:
        """Forget what code registered as ``name`` (entry points stay)."""
        with self._lock:
            self._targets.pop(name, None)
            self._loaded.pop(name, None)

    def names(self) -> list[str]:
        """Every name that can be asked for (aliases aside), without importing any plugin."""
        with self._lock:
            names = set(self._targets)
        names.update(point.name for point in self._entry_points() if not self._is_broken(point))
        return sorted(names)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` (or the name it is an alias of) is one ``names()`` lists."""
        if not isinstance(name, str):
            return False
        name = self.aliases.get(name, name)
        with self._lock:
            if name in self._targets:
                return True
        return any(
            point.name == name and not self._is_broken(point) for point in self._entry_points()
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> type[T]:
        """The class registered as ``name`` (or an alias of it), imported on first use."""
        name = self.aliases.get(name, name)
        with self._lock:
            loaded = self._loaded.get(name)
            target = self._targets.get(name)
        if loaded is not None:
            return loaded
        if target is not None:
            cls = self._load(name, target, str(target) if isinstance(target, str) else None)
        else:
            cls = self._from_entry_points(name)
        with self._lock:
            if self._targets.get(name) is target:  # not registered anew meanwhile
                self._loaded.setdefault(name, cls)
        return cls

    def copy(self) -> Registry[T]:
        """An independent registry with the same names (tests register into a copy)."""
        twin = Registry(
            self.kind,
            self.base,
            self.group,
            aliases=self.aliases,
            unknown_error=self.unknown_error,
            load_error=self.load_error,
        )
        with self._lock:
            twin._targets = dict(self._targets)
            twin._loaded = dict(self._loaded)
            twin._broken = dict(self._broken)
        return twin

    # -- loading ------------------------------------------------------------------------
    def _load(self, name: str, target: Target, shown: str | None) -> type[T]:
        where = f" ({shown})" if shown else ""
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            try:
                found: object = importlib.import_module(module_name)
                for part in attr.split(".") if attr else ():
                    found = getattr(found, part)
            except Exception as error:  # ImportError, AttributeError, or the module's own
                raise self.load_error(
                    f"{self.kind} {name!r}{where} cannot be loaded: {type(error).__name__}: {error}"
                ) from error
        else:
            found = target
        return self._checked(name, found, where)

    def _checked(self, name: str, found: object, where: str) -> type[T]:
        if not (isinstance(found, type) and issubclass(found, self.base)):
            base = self.base.__name__
            article = "an" if base[:1].lower() in "aeiou" else "a"
            raise self.load_error(f"{self.kind} {name!r}{where} is not {article} {base}")
        return found

    def _from_entry_points(self, name: str) -> type[T]:
        failures: list[PluginLoadError] = []
        for point in self._entry_points():
            if point.name != name:
                continue
            key = _key(point)
            with self._lock:
                reason = self._broken.get(key)
            if reason is not None:
                failures.append(self.load_error(reason))
                continue
            shown = f"{point.value} from {_distribution(point)}"
            try:
                try:
                    found = point.load()
                except Exception as error:
                    raise self.load_error(
                        f"{self.kind} {name!r} ({shown}) cannot be loaded: "
                        f"{type(error).__name__}: {error}"
                    ) from error
                return self._checked(name, found, f" ({shown})")
            except PluginLoadError as error:
                _log.warning("%s; skipped", error)
                with self._lock:
                    self._broken[key] = str(error)
                failures.append(error)
        if failures:
            raise failures[-1]
        known = ", ".join(self.names()) or "none"
        raise self.unknown_error(f"unknown {self.kind} {name!r}; known: {known}")

    def _entry_points(self) -> list[EntryPoint]:
        # Read again each time: only misses and listings come here, and a plugin installed
        # (or put on sys.path) while the process runs is then found.
        # Imported here: importlib.metadata costs every run's process milliseconds at
        # start, and most never look past the built-ins.
        from importlib.metadata import entry_points

        return list(entry_points(group=self.group))

    def _is_broken(self, point: EntryPoint) -> bool:
        with self._lock:
            return _key(point) in self._broken

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, group={self.group!r})"


def _key(point: EntryPoint) -> str:
    return f"{point.group}:{point.name}={point.value}"


def _distribution(point: EntryPoint) -> str:
    dist = point.dist
    return f"{dist.name} {dist.version}" if dist is not None else "an unnamed distribution"
