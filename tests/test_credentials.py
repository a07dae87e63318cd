"""The credentials key and cipher: a 0600 key file, a clear error for a wrong key, and a
rotation that a stop half-way through cannot lose."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jupyter_flows.credentials import (
    Cipher,
    CredentialError,
    Keyring,
    WrongKey,
    check_name,
    env_name_of,
    load_key,
    new_key,
    references,
)
from jupyter_flows.engine.run_env import CREDENTIALS_KEY, CREDENTIALS_KEY_FILE


def test_the_key_file_is_made_0600_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "credentials.key"
    env = {CREDENTIALS_KEY_FILE: str(path)}
    key = load_key(env)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert load_key(env) == key


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "credentials.key"
    path.write_bytes(new_key())
    os.chmod(path, 0o644)
    with pytest.raises(CredentialError, match="chmod 600"):
        load_key({CREDENTIALS_KEY_FILE: str(path)})


def test_a_malformed_key_is_a_clear_error() -> None:
    with pytest.raises(CredentialError, match="not a Fernet key"):
        load_key({CREDENTIALS_KEY: "not-a-key"})


def test_a_wrong_key_never_gives_garbage() -> None:
    token = Cipher(new_key()).encrypt("hunter2-value")
    with pytest.raises(WrongKey, match="'db'.*another key"):
        Cipher(new_key()).decrypt(token, "db")


def test_a_rotation_stopped_before_its_end_loses_nothing(tmp_path: Path) -> None:
    env = {CREDENTIALS_KEY_FILE: str(tmp_path / "credentials.key")}
    keyring = Keyring(env)
    old_token = keyring.cipher().encrypt("value-1")
    new = keyring.begin_rotation()
    new_token = keyring.cipher().rotate(old_token, new)
    # The server stops here: the values may or may not have been committed.
    restarted = Keyring(env)
    assert restarted.cipher().decrypt(old_token) == "value-1"
    assert restarted.cipher().decrypt(new_token) == "value-1"
    keyring.finish_rotation()
    after = Keyring(env)
    assert after.cipher().decrypt(new_token) == "value-1"
    with pytest.raises(WrongKey):
        after.cipher().decrypt(old_token)
    assert not (tmp_path / "credentials.key.next").exists()


def test_names_and_variables() -> None:
    assert check_name("aws-secret-2") == "aws-secret-2"
    for bad in ("AWS", "-x", "x-", "a_b", "", "rotate-key", "x" * 101):
        with pytest.raises(CredentialError):
            check_name(bad)
    assert env_name_of("aws-secret") == "AWS_SECRET"
    assert env_name_of("aws-secret", "MY_VAR") == "MY_VAR"
    with pytest.raises(CredentialError):
        env_name_of("x", "JUPYTER_FLOWS_API_KEY")


def test_references_come_from_the_run_config_then_the_resource_spec() -> None:
    content = {
        "run_config": {"credentials": ["a", {"name": "b", "env": "B_VAR"}, {"name": "a"}]},
        "resource_spec": {"credentials": ["b", "c"]},
    }
    assert references(content) == [{"name": "a"}, {"name": "b", "env": "B_VAR"}, {"name": "c"}]
    assert references({}) == [] and references(None) == []


def test_a_server_sharing_the_key_file_follows_a_rotation_another_made(tmp_path: Path) -> None:
    env = {CREDENTIALS_KEY_FILE: str(tmp_path / "credentials.key")}
    rotating, other = Keyring(env), Keyring(env)  # two servers, one key file
    token = rotating.cipher().encrypt("value-1")
    assert other.cipher().decrypt(token) == "value-1"  # the other has read the key now
    new = rotating.begin_rotation()
    rotated = rotating.cipher().rotate(token, new)
    assert other.cipher().decrypt(rotated) == "value-1"  # mid-rotation: both keys
    rotating.finish_rotation()
    assert other.cipher().decrypt(rotated) == "value-1"  # after it: the new key
    with pytest.raises(WrongKey):
        other.cipher().decrypt(token)


def test_keys_from_the_variable_rotate_new_comma_old() -> None:
    old, new = new_key(), new_key()
    token = Cipher(old).encrypt("value-1")
    alone = Keyring({CREDENTIALS_KEY: old.decode()})
    with pytest.raises(CredentialError, match="NEW,OLD"):
        alone.begin_rotation()

    both = Keyring({CREDENTIALS_KEY: f"{new.decode()},{old.decode()}"})
    assert both.cipher().decrypt(token) == "value-1"  # OLD still decrypts
    rotated = both.cipher().rotate(token, both.begin_rotation())
    both.finish_rotation()
    assert Keyring({CREDENTIALS_KEY: new.decode()}).cipher().decrypt(rotated) == "value-1"
    assert Cipher(new).decrypt(both.cipher().encrypt("value-2")) == "value-2"  # NEW encrypts
    with pytest.raises(CredentialError, match="not a Fernet key"):
        Keyring({CREDENTIALS_KEY: f"{new.decode()},nonsense"}).cipher()
