"""Credentials: names, and values encrypted at rest.

The store keeps each value as a Fernet token (``cryptography``): AES-128-CBC with an
HMAC-SHA256 over it. Fernet rather than bare AES-GCM because it is a whole, versioned
format with the nonce, timestamp and authentication inside the token, so there is nothing
to get wrong in how it is put together, and its authentication makes a wrong key an
``InvalidToken`` (a clear error here), never garbage. ``rotate-key`` re-encrypts every
value under a new key. cryptography is imported on first use: loading the server does not.

The key is, in order: ``JUPYTER_FLOWS_CREDENTIALS_KEY`` (the key itself: a team server's
secret store can hand it over that way), the file ``JUPYTER_FLOWS_CREDENTIALS_KEY_FILE``
names, else ``credentials.key`` in the Jupyter data dir; the file is made on first use,
with mode 0600.
A key file that is readable by others is refused.

Several servers on one database share the key, and a rotation must not stop the others:
- with a shared key file, each server reads the file again when it changes (a rotation
  writes the next key beside it first, so every server can read both while it runs);
- with the variable, it may hold several keys, comma-separated, the first encrypting and
  all decrypting (Airflow's fernet_key does the same): give every server ``NEW,OLD``, then
  ``rotate-key`` re-encrypts every value under NEW, then OLD can go.

Names are lowercase letters, digits and dashes (``aws-secret``); the variable a run sees is
the name upper-cased with underscores (``AWS_SECRET``) unless the credential names another.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_flows.engine.redaction import MIN_LENGTH
from jupyter_flows.engine.run_env import CREDENTIALS_KEY, CREDENTIALS_KEY_FILE

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: The longest value stored (a service-account JSON fits; a blob does not belong here).
MAX_VALUE_BYTES = 64 * 1024


class CredentialError(Exception):
    """A credential, its value or the key is not usable; the message says why."""


class WrongKey(CredentialError):
    """The stored values were encrypted with another key than the one given."""


#: Names the REST API's paths use (``POST credentials/rotate-key``).
RESERVED = frozenset({"rotate-key"})


def check_name(name: str) -> str:
    if isinstance(name, str) and name in RESERVED:
        raise CredentialError(f"{name!r} is reserved; choose another credential name")
    if not isinstance(name, str) or not NAME.match(name):
        raise CredentialError(
            f"credential name {name!r} must be lowercase letters, digits and dashes "
            "(starting and ending with a letter or digit, at most 100 characters)"
        )
    return name


def env_name_of(name: str, env: str | None = None) -> str:
    """The variable a run sees the credential in."""
    chosen = env or name.upper().replace("-", "_")
    if not ENV_NAME.match(chosen):
        raise CredentialError(f"{chosen!r} is not an environment variable name")
    if chosen.startswith("JUPYTER_FLOWS_"):
        raise CredentialError(f"{chosen!r}: JUPYTER_FLOWS_* variables are the platform's own")
    return chosen


def check_value(value: str) -> str:
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        raise CredentialError(
            f"a credential value must be at least {MIN_LENGTH} characters "
            "(a shorter one could not be redacted from logs)"
        )
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise CredentialError(f"a credential value may be at most {MAX_VALUE_BYTES} bytes")
    return value


def references(content: Any) -> list[dict[str, Any]]:
    """The credentials a flow version's content references, by name, in order: its run
    config's ``credentials`` (names, or ``{"name", "env"?, "secret"?, "key"?}``), then the
    names its ResourceSpec lists (``resource_spec.credentials``) not named already."""
    if not isinstance(content, dict):
        return []
    found: dict[str, dict[str, Any]] = {}
    config = content.get("run_config")
    for item in (config.get("credentials") if isinstance(config, dict) else None) or []:
        if isinstance(item, str):
            item = {"name": item}
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            found.setdefault(item["name"], dict(item))
    spec = content.get("resource_spec")
    for name in (spec.get("credentials") if isinstance(spec, dict) else None) or []:
        if isinstance(name, str):
            found.setdefault(name, {"name": name})
    return list(found.values())


# ------------------------------------------------------------------ the key


def default_key_path() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "jupyter_flows" / "credentials.key"


def key_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    named = env.get(CREDENTIALS_KEY_FILE)
    return Path(named).expanduser() if named else default_key_path()


def _check_key(raw: bytes, where: str) -> bytes:
    from cryptography.fernet import Fernet

    key = raw.strip()
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise CredentialError(
            f"the credentials key from {where} is not a Fernet key "
            "(32 url-safe base64-encoded bytes; make one with `jupyter flows credential "
            "rotate-key` or Fernet.generate_key())"
        ) from None
    return key


def read_key_file(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialError(
            f"the credentials key file {path} may be read by others (mode {oct(mode & 0o777)}); "
            f"make it 0600: chmod 600 {path}"
        )
    return _check_key(path.read_bytes(), str(path))


def write_key_file(path: Path, key: bytes) -> None:
    """Write ``key`` to ``path`` with mode 0600 (atomically: a new file renamed over)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def keys_from_environ(environ: Mapping[str, str]) -> list[bytes]:
    """The keys ``JUPYTER_FLOWS_CREDENTIALS_KEY`` holds (comma-separated; none if unset)."""
    raw = environ.get(CREDENTIALS_KEY) or ""
    parts = [part for part in raw.split(",") if part.strip()]
    return [_check_key(part.encode(), CREDENTIALS_KEY) for part in parts]


def load_key(environ: Mapping[str, str] | None = None, *, create: bool = True) -> bytes:
    """The key that encrypts (see the module doc); with ``create``, the default file is
    made if missing."""
    env = os.environ if environ is None else environ
    from_environ = keys_from_environ(env)
    if from_environ:
        return from_environ[0]
    path = key_path(env)
    if path.exists():
        return read_key_file(path)
    if not create:
        raise CredentialError(f"no credentials key file at {path}")
    key = new_key()
    write_key_file(path, key)
    return key


class Cipher:
    """Encrypts with its first key; decrypts with any of them (a rotation in progress)."""

    def __init__(self, *keys: bytes) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        self.keys = keys
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def decrypt(self, token: str, name: str = "") -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken:
            what = f"credential {name!r}" if name else "a credential"
            raise WrongKey(
                f"{what} cannot be decrypted with this server's credentials key: it was "
                f"stored with another key (check {CREDENTIALS_KEY} or the key file)"
            ) from None

    def rotate(self, token: str, new: Cipher, name: str = "") -> str:
        """``token`` encrypted again with ``new``'s key."""
        return new.encrypt(self.decrypt(token, name))


def new_key() -> bytes:
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


class Keyring:
    """The server's credentials key: read on first use, replaced by a rotation.

    A rotation writes the new key beside the current one (``credentials.key.next``)
    before any value is re-encrypted and renames it over the key only after the
    re-encrypted values are committed; until then both keys decrypt, so a server that
    stops in between loses nothing. Another server sharing the key file sees the files
    change and reads them again.
    """

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self._environ = environ
        self._cipher: Cipher | None = None
        #: What the key files looked like when the cipher was made from them.
        self._read_from: tuple[Any, ...] | None = None
        self._lock = threading.Lock()

    @property
    def _env(self) -> dict[str, str]:
        return dict(os.environ) if self._environ is None else self._environ

    def _next_path(self) -> Path:
        path = key_path(self._env)
        return path.with_name(path.name + ".next")

    def _files_now(self) -> tuple[Any, ...] | None:
        """The key files' identity and change time (None for keys from the variable)."""
        if keys_from_environ(self._env):
            return None
        seen: list[Any] = []
        for path in (key_path(self._env), self._next_path()):
            try:
                info = path.stat()
            except FileNotFoundError:
                seen.append(None)
            else:
                seen.append((info.st_ino, info.st_mtime_ns, info.st_size))
        return tuple(seen)

    def cipher(self) -> Cipher:
        with self._lock:
            files = self._files_now()
            if self._cipher is None or files != self._read_from:
                keys = keys_from_environ(self._env) or [load_key(self._env)]
                pending = self._next_path()
                if files is not None and pending.exists():
                    keys.insert(0, read_key_file(pending))
                self._cipher = Cipher(*keys)
                self._read_from = self._files_now()
            return self._cipher

    def begin_rotation(self) -> Cipher:
        """The cipher to re-encrypt every value with; they must be committed before
        :meth:`finish_rotation`. From the key file: a new key, saved as the pending one.
        From the variable: its first key, once every server holds ``NEW,OLD``."""
        from_environ = keys_from_environ(self._env)
        if len(from_environ) == 1:
            raise CredentialError(
                f"the credentials key comes from {CREDENTIALS_KEY}: give every server "
                f"{CREDENTIALS_KEY}=NEW,OLD (a new key first, the current one after), then "
                "rotate again; values are re-encrypted under NEW and OLD can then go"
            )
        if from_environ:
            return Cipher(from_environ[0])
        current = self.cipher()
        key = new_key()
        write_key_file(self._next_path(), key)
        with self._lock:
            self._cipher = Cipher(key, *current.keys)
            self._read_from = self._files_now()
        return Cipher(key)

    def finish_rotation(self) -> None:
        """The re-encrypted values are committed: the new key becomes the key."""
        if keys_from_environ(self._env):
            return  # the variable's keys stay as they are: OLD goes when people remove it
        pending = self._next_path()
        with self._lock:
            key = read_key_file(pending)
            os.replace(pending, key_path(self._env))
            self._cipher = Cipher(key)
            self._read_from = self._files_now()

    def abort_rotation(self) -> None:
        """The re-encryption was not committed: forget the new key."""
        with self._lock:
            if not keys_from_environ(self._env):
                self._next_path().unlink(missing_ok=True)
            self._cipher = None
