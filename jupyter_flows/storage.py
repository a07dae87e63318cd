"""Content-addressed blobs: flow code, notebooks, scripts, working files and results.

A blob is stored under the sha256 of its bytes, so writing the same bytes twice is one
blob, and a reader can prove that what it got is what was written. A flow version names
its code by these digests; an agent fetches them before it runs the flow.

Where blobs live is a URL: a local directory by default
(``jupyter_data_dir()/jupyter_flows/blobs``, or ``JUPYTER_FLOWS_STORAGE_URL``), or any
fsspec URL a team shares (``s3://bucket/prefix``, ``gcs://…``, ``memory://`` in tests).

Failures are errors that name the digest and the URL, never a hang: a blob that is not
there raises :class:`BlobNotFound`, one whose bytes do not match its digest
:class:`BlobCorrupt`, and a store that cannot be reached (or does not answer within
``timeout`` seconds) :class:`StorageUnavailable`.

Layout: ``<root>/sha256/<first two hex digits>/<digest>``. A directory of working files is
a *manifest* blob, JSON ``{"kind": "jupyter-flows/manifest", "version": 1, "files":
{"relative/posix/path": digest}}``, next to one blob per file.

fsspec and jupyter_core are imported on first use.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from jupyter_flows.engine.run_env import STORAGE_URL

__all__ = [
    "BlobCorrupt",
    "BlobNotFound",
    "BlobStore",
    "StorageError",
    "StorageUnavailable",
    "default_storage_url",
]

T = TypeVar("T")

#: Seconds a remote operation may take before it fails with StorageUnavailable.
DEFAULT_TIMEOUT = 60.0

#: Left out of ``put_directory`` unless told otherwise: caches, VCS data and environments.
DEFAULT_EXCLUDE = (
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    "*.pyc",
    ".ipynb_checkpoints",
    ".venv",
    "venv",
    "node_modules",
    ".DS_Store",
)

MANIFEST_KIND = "jupyter-flows/manifest"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_LOCAL_PROTOCOLS = {"file", "local", "memory"}


class StorageError(Exception):
    """Base of the storage errors; the message says what failed and where."""


class BlobNotFound(StorageError, LookupError):
    def __init__(self, digest: str, url: str) -> None:
        self.digest, self.url = digest, url
        super().__init__(f"blob {digest} is not in the storage at {url}")


class BlobCorrupt(StorageError):
    def __init__(self, digest: str, url: str, actual: str) -> None:
        self.digest, self.url, self.actual = digest, url, actual
        super().__init__(
            f"blob {digest} in the storage at {url} is corrupt: its content hashes to {actual}"
        )


class StorageUnavailable(StorageError):
    """The store could not be reached, refused the operation, or did not answer in time."""


def default_storage_url() -> str:
    """``JUPYTER_FLOWS_STORAGE_URL``, else ``blobs`` under the Jupyter data directory."""
    url = os.environ.get(STORAGE_URL)
    if url:
        return url
    from jupyter_core.paths import jupyter_data_dir

    return os.path.join(jupyter_data_dir(), "jupyter_flows", "blobs")


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ValueError(f"not a blob digest (64 lowercase hex characters): {digest!r}")
    return digest


class BlobStore:
    """Blobs by sha256 under ``url``: a path, or any fsspec URL.

    ``storage_options`` go to the fsspec filesystem (for s3: ``key``, ``secret``,
    ``client_kwargs={"endpoint_url": …}``); remote operations that take longer than
    ``timeout`` seconds fail with :class:`StorageUnavailable`.
    """

    def __init__(
        self,
        url: str | os.PathLike[str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = str(url) if url is not None else default_storage_url()
        self.timeout = timeout
        self.storage_options = dict(storage_options or {})
        self._fs: Any = None
        self._root = ""
        self._local = False
        self._remote = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BlobStore({self.url!r})"

    # ------------------------------------------------------------------ blobs

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its sha256 hex digest (a no-op when it is there)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"blob data must be bytes, not {type(data).__name__}")
        data = bytes(data)
        digest = digest_of(data)
        fs, path = self._path(digest)
        if self._local:
            self._put_local(path, data)
        else:
            # An object store's PUT is atomic: a reader sees the whole object or none.
            if not self._call(f"check blob {digest}", fs.exists, path):
                self._call(f"write blob {digest}", fs.pipe_file, path, data, found=False)
        return digest

    def get(self, digest: str) -> bytes:
        """The bytes of a blob, verified against its digest."""
        fs, path = self._path(_check_digest(digest))
        try:
            data: bytes = self._call(f"read blob {digest}", fs.cat_file, path)
        except FileNotFoundError:
            raise BlobNotFound(digest, self.url) from None
        actual = digest_of(data)
        if actual != digest:
            raise BlobCorrupt(digest, self.url, actual)
        return data

    def exists(self, digest: str) -> bool:
        fs, path = self._path(_check_digest(digest))
        return bool(self._call(f"check blob {digest}", fs.exists, path))

    def modified(self, digest: str) -> float | None:
        """When the blob was last written, as a POSIX timestamp (None if the store does
        not say). A local store refreshes it on every ``put`` of the same bytes, so a
        collector that spares young blobs spares one a writer is about to name."""
        fs, path = self._path(_check_digest(digest))
        try:
            info = self._call(f"check blob {digest}", fs.info, path)
        except FileNotFoundError:
            raise BlobNotFound(digest, self.url) from None
        for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
            value = info.get(key)
            if isinstance(value, (int, float)):
                return float(value)
            if hasattr(value, "timestamp"):
                return float(value.timestamp())
        return None

    def delete(self, digest: str) -> None:
        """Remove a blob (for garbage collection); a missing one is not an error."""
        fs, path = self._path(_check_digest(digest))
        with contextlib.suppress(FileNotFoundError):
            self._call(f"delete blob {digest}", fs.rm_file, path)

    # ------------------------------------------------------------------ files

    def put_file(self, path: str | os.PathLike[str]) -> str:
        return self.put(Path(path).read_bytes())

    def put_directory(
        self, directory: str | os.PathLike[str], *, exclude: Iterable[str] = DEFAULT_EXCLUDE
    ) -> str:
        """Store every file under ``directory`` and return the digest of their manifest.

        ``exclude`` holds glob patterns matched against each file or directory name and
        against its path relative to ``directory``.
        """
        root = Path(directory)
        if not root.is_dir():
            raise NotADirectoryError(f"not a directory: {root}")
        patterns = tuple(exclude)

        def excluded(relative: str, name: str) -> bool:
            return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)

        files: dict[str, str] = {}
        for current, dirnames, filenames in os.walk(root):
            base = Path(current).relative_to(root)
            dirnames[:] = sorted(d for d in dirnames if not excluded((base / d).as_posix(), d))
            for name in sorted(filenames):
                relative = (base / name).as_posix()
                if excluded(relative, name):
                    continue
                files[relative] = self.put_file(Path(current) / name)
        return self.put_manifest(files)

    def put_manifest(self, files: Mapping[str, str]) -> str:
        """Store a manifest of ``relative path → digest`` and return its digest."""
        for relative, digest in files.items():
            _check_relative(relative)
            _check_digest(digest)
        body = {"kind": MANIFEST_KIND, "version": 1, "files": dict(sorted(files.items()))}
        return self.put(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())

    def get_manifest(self, digest: str) -> dict[str, str]:
        """The ``relative path → digest`` map of a manifest blob."""
        data = self.get(digest)
        try:
            body = json.loads(data)
            if body.get("kind") != MANIFEST_KIND:
                raise ValueError(f"kind is {body.get('kind')!r}")
            files = dict(body["files"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise StorageError(
                f"blob {digest} in the storage at {self.url} is not a manifest: {error}"
            ) from None
        for relative, file_digest in files.items():
            _check_relative(relative)
            _check_digest(file_digest)
        return files

    def get_directory(self, digest: str, destination: str | os.PathLike[str]) -> list[Path]:
        """Write the files of a manifest under ``destination``; return their paths.

        Every file is verified before it is written, so a corrupt blob leaves no file.
        """
        target = Path(destination)
        written = []
        for relative, file_digest in self.get_manifest(digest).items():
            data = self.get(file_digest)
            path = target.joinpath(*PurePosixPath(relative).parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, data)
            written.append(path)
        return written

    # ------------------------------------------------------------------ internals

    def _filesystem(self) -> tuple[Any, str]:
        with self._lock:
            if self._fs is None:
                import fsspec

                options = dict(self.storage_options)
                protocol = fsspec.core.split_protocol(self.url)[0] or "file"
                if protocol in ("s3", "s3a"):
                    options = _s3_options(options, self.timeout)
                try:
                    fs, root = fsspec.core.url_to_fs(self.url, **options)
                except ImportError as error:
                    raise StorageUnavailable(
                        f"storage {self.url} needs a package that is not installed: {error}"
                    ) from None
                protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
                self._local = bool(protocols & {"file", "local"})
                if self._local:
                    os.makedirs(root, exist_ok=True)
                self._remote = not protocols & _LOCAL_PROTOCOLS
                self._fs, self._root = fs, root.rstrip("/")
            return self._fs, self._root

    def _path(self, digest: str) -> tuple[Any, str]:
        fs, root = self._filesystem()
        return fs, f"{root}/sha256/{digest[:2]}/{digest}"

    def _put_local(self, path: str, data: bytes) -> None:
        target = Path(path)
        if target.exists():
            with contextlib.suppress(OSError):  # written again: young for the collector
                os.utime(target)
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(target, data)
        except OSError as error:
            raise StorageUnavailable(
                f"could not write blob {target.name} to the storage at {self.url}: {error}"
            ) from error

    def _call(self, what: str, fn: Callable[..., T], *args: Any, found: bool = True) -> T:
        """Run one filesystem operation; remote ones get a deadline of ``timeout`` seconds.

        FileNotFoundError passes through when ``found`` (the caller knows which digest it
        was); anything else (a missing bucket on a write) becomes StorageUnavailable naming
        the URL.
        """
        try:
            if not self._remote:
                return fn(*args)
            return _with_deadline(fn, args, self.timeout)
        except FileNotFoundError:
            if found:
                raise
            raise StorageUnavailable(
                f"could not {what} at {self.url}: it does not exist (a missing bucket?)"
            ) from None
        except TimeoutError:
            raise StorageUnavailable(
                f"could not {what}: the storage at {self.url} did not answer within "
                f"{self.timeout:g} s"
            ) from None
        except Exception as error:
            raise StorageUnavailable(
                f"could not {what} at {self.url}: {type(error).__name__}: {error}"
            ) from error


def _s3_options(options: dict[str, Any], timeout: float) -> dict[str, Any]:
    """botocore's own timeouts and few retries, so a dead endpoint fails fast."""
    config = dict(options.get("config_kwargs") or {})
    config.setdefault("connect_timeout", min(timeout, 10.0))
    config.setdefault("read_timeout", timeout)
    config.setdefault("retries", {"max_attempts": 2, "mode": "standard"})
    options["config_kwargs"] = config
    # A fresh instance per store: fsspec's instance cache would share one across
    # endpoints and event loops.
    options.setdefault("skip_instance_cache", True)
    return options


def _with_deadline(fn: Callable[..., T], args: tuple[Any, ...], timeout: float) -> T:
    """Call ``fn`` in a daemon thread and wait at most ``timeout`` seconds.

    A call that overruns is left to finish on its own (a daemon thread never blocks the
    interpreter's exit); the caller gets TimeoutError at once.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = fn(*args)
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=target, name="jupyter-flows-storage", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def _atomic_write(target: Path, data: bytes) -> None:
    """Write beside the target, then rename: a reader never sees half a file."""
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def _check_relative(relative: str) -> str:
    """Refuse manifest paths that would escape the destination directory."""
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or "\\" in relative or ".." in parts:
        raise StorageError(f"manifest path {relative!r} is not a relative path inside it")
    return relative
