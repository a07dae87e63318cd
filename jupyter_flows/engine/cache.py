"""Cache keys and persisted results.

A task is cached when it has a ``cache_key_fn`` or persists its result. Its key is the
``cache_key_fn``'s answer, or by default a hash of the task's source code and its inputs:
the same code called with the same inputs finds the earlier result, in this process or a
later one, until ``cache_expiration`` passes. Results are written with cloudpickle to a
result store: a local directory by default (``~/.jupyter_flows/results``, or
``JUPYTER_FLOWS_RESULT_STORAGE``), or any fsspec URL (``s3://bucket/results``).

cloudpickle and fsspec are imported on first use: ``import jupyter_flows`` stays light.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.errors import ResultPersistenceError
from jupyter_flows.engine.run_env import RESULT_STORAGE

if TYPE_CHECKING:
    from jupyter_flows.engine.context import TaskRunContext

CacheKeyFn = Callable[["TaskRunContext", dict[str, Any]], "str | None"]

_FORMAT_VERSION = 1


def default_result_storage() -> str:
    return os.environ.get(
        RESULT_STORAGE,
        os.path.join(os.path.expanduser("~"), ".jupyter_flows", "results"),
    )


def hash_objects(*objects: Any) -> str | None:
    """A stable hash of ``objects``: JSON when they allow it, else their cloudpickle.

    None when they can be neither (the caller then does not cache).
    """
    try:
        payload = json.dumps(objects, sort_keys=True, default=_json_fallback).encode()
    except (TypeError, ValueError):
        try:
            import cloudpickle

            payload = cloudpickle.dumps(objects)
        except Exception:
            return None
    return hashlib.sha256(payload).hexdigest()


class _NotJSON(TypeError):
    pass


def _json_fallback(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise _NotJSON(type(value).__name__)


def code_hash(fn: Callable[..., Any]) -> str:
    """A hash of a function's source, or of its bytecode where the source is not at hand."""
    try:
        source = inspect.getsource(fn).encode()
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        source = code.co_code + repr(code.co_consts).encode() if code else repr(fn).encode()
    return hashlib.sha256(source).hexdigest()


def task_input_hash(context: TaskRunContext, arguments: dict[str, Any]) -> str | None:
    """Prefect's ``task_input_hash``: the task's code and its inputs."""
    inputs = hash_objects(arguments)
    if inputs is None:
        return None
    return f"{context.task.task_key}-{context.task.code_hash}-{inputs}"


class ResultStore:
    """Cloudpickled values under keys, in a local directory or at an fsspec URL."""

    def __init__(self, location: str | os.PathLike[str] | None = None) -> None:
        self.location = str(location or default_result_storage())
        self._fs: Any = None
        self._root = ""

    def _filesystem(self) -> tuple[Any, str]:
        if self._fs is None:
            import fsspec

            self._fs, self._root = fsspec.core.url_to_fs(self.location)
            self._fs.makedirs(self._root, exist_ok=True)
        return self._fs, self._root

    def _path(self, key: str) -> tuple[Any, str]:
        fs, root = self._filesystem()
        name = hashlib.sha256(key.encode()).hexdigest()
        return fs, f"{root.rstrip('/')}/{name}"

    def write(self, key: str, value: Any, *, expiration: timedelta | None, owner: str) -> None:
        """Persist ``value``; ``owner`` names the task or flow for error messages."""
        import cloudpickle

        try:
            payload = cloudpickle.dumps(
                {
                    "version": _FORMAT_VERSION,
                    "expires_at": time.time() + expiration.total_seconds()
                    if expiration is not None
                    else None,
                    "value": value,
                }
            )
        except Exception as error:
            raise ResultPersistenceError(
                f"{owner} returned a value of type {type(value).__name__} that cannot be "
                f"pickled, so its result cannot be persisted ({type(error).__name__}: {error}). "
                "Return a picklable value, or set persist_result=False (and no cache_key_fn)."
            ) from error
        fs, path = self._path(key)
        # Write beside the target then move: a reader never sees half a file.
        partial = f"{path}.{uuid.uuid4().hex}.partial"
        try:
            with fs.open(partial, "wb") as handle:
                handle.write(payload)
            fs.mv(partial, path)
        except Exception as error:
            raise ResultPersistenceError(
                f"could not write the result of {owner} to {self.location}: {error}"
            ) from error

    def read(self, key: str) -> tuple[bool, Any]:
        """(True, value) for a stored, unexpired result; (False, None) otherwise."""
        import cloudpickle

        fs, path = self._path(key)
        try:
            with fs.open(path, "rb") as handle:
                record = cloudpickle.loads(handle.read())
        except FileNotFoundError:
            return False, None
        except Exception:
            # A result that cannot be read back (a class that changed, a truncated file)
            # is a cache miss: the task runs again and overwrites it.
            return False, None
        expires_at = record.get("expires_at")
        if expires_at is not None and expires_at <= time.time():
            return False, None
        return True, record["value"]
