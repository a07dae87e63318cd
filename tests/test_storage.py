"""Content-addressed blobs on a local directory, memory:// and s3:// (moto on loopback)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.storage import (
    BlobCorrupt,
    BlobNotFound,
    BlobStore,
    StorageError,
    StorageUnavailable,
    default_storage_url,
)

S3_CREDENTIALS = {"key": "testing", "secret": "testing"}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server in a thread on a free loopback port."""
    server_module = pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_options(endpoint: str) -> dict[str, Any]:
    return {
        **S3_CREDENTIALS,
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }


def make_bucket(endpoint: str) -> str:
    import boto3

    name = f"blobs-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """The same suite over every kind of store."""
    if request.param == "local":
        return BlobStore(tmp_path / "blobs")
    if request.param == "memory":
        return BlobStore(f"memory://jupyter-flows-tests/{uuid.uuid4().hex}")
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = make_bucket(endpoint)
    return BlobStore(f"s3://{bucket}/team", storage_options=s3_options(endpoint), timeout=30)


def corrupt(store: BlobStore, digest: str, data: bytes) -> None:
    """Overwrite a stored blob behind the store's back."""
    fs, path = store._path(digest)
    fs.pipe_file(path, data)


# ---------------------------------------------------------------------- every store


def test_put_returns_the_sha256_and_get_returns_the_bytes(store: BlobStore) -> None:
    data = b"print('hello')\n"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.exists(digest)
    assert store.get(digest) == data


def test_put_is_idempotent(store: BlobStore) -> None:
    first = store.put(b"same bytes")
    second = store.put(bytearray(b"same bytes"))
    assert first == second
    assert store.get(first) == b"same bytes"


def test_every_store_says_when_a_blob_was_written(store: BlobStore) -> None:
    before = time.time() - 5
    digest = store.put(b"dated")
    written = store.modified(digest)
    assert written is not None and before <= written <= time.time() + 5
    with pytest.raises(BlobNotFound):
        store.modified(hashlib.sha256(b"never stored").hexdigest())


def test_a_local_put_of_the_same_bytes_makes_the_blob_young_again(tmp_path: Path) -> None:
    """What lets the retention collector spare a blob a run is about to name."""
    store = BlobStore(tmp_path / "blobs")
    digest = store.put(b"notebook")
    os.utime(store._path(digest)[1], (1_000_000, 1_000_000))
    assert store.modified(digest) == 1_000_000
    store.put(b"notebook")
    modified = store.modified(digest)
    assert modified is not None and modified > 1_000_000


def test_empty_and_binary_blobs(store: BlobStore) -> None:
    blobs = [b"", bytes(range(256)) * 64]
    for data in blobs:
        assert store.get(store.put(data)) == data


def test_a_missing_blob_is_an_error_naming_digest_and_url(store: BlobStore) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(digest)
    with pytest.raises(BlobNotFound) as caught:
        store.get(digest)
    assert digest in str(caught.value) and store.url in str(caught.value)
    assert (caught.value.digest, caught.value.url) == (digest, store.url)


def test_a_corrupt_blob_is_detected_on_read(store: BlobStore) -> None:
    digest = store.put(b"the real content")
    corrupt(store, digest, b"something else")
    with pytest.raises(BlobCorrupt) as caught:
        store.get(digest)
    message = str(caught.value)
    assert digest in message and store.url in message
    assert caught.value.actual == hashlib.sha256(b"something else").hexdigest()


def test_directories_round_trip_through_a_manifest(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "project"
    (source / "data").mkdir(parents=True)
    (source / "main.py").write_text("import helpers\n")
    (source / "data" / "table.csv").write_bytes(b"a,b\n1,2\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (source / ".ipynb_checkpoints").mkdir()
    (source / ".ipynb_checkpoints" / "x-checkpoint.ipynb").write_text("{}")

    manifest = store.put_directory(source)
    files = store.get_manifest(manifest)
    assert sorted(files) == ["data/table.csv", "main.py"]
    assert files["main.py"] == hashlib.sha256(b"import helpers\n").hexdigest()

    restored = store.get_directory(manifest, tmp_path / "restored")
    assert sorted(p.relative_to(tmp_path / "restored").as_posix() for p in restored) == [
        "data/table.csv",
        "main.py",
    ]
    assert (tmp_path / "restored" / "data" / "table.csv").read_bytes() == b"a,b\n1,2\n"
    assert store.put_directory(source) == manifest  # same content, same manifest


def test_put_directory_exclude_patterns(store: BlobStore, tmp_path: Path) -> None:
    (tmp_path / "keep.py").write_text("x = 1\n")
    (tmp_path / "secret.env").write_text("TOKEN=1\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.bin").write_bytes(b"\1")
    manifest = store.put_directory(tmp_path, exclude=["*.env", "build"])
    assert list(store.get_manifest(manifest)) == ["keep.py"]


def test_get_directory_writes_nothing_from_a_corrupt_file_blob(
    store: BlobStore, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("alpha")
    manifest = store.put_directory(tmp_path / "src")
    digest = store.get_manifest(manifest)["a.txt"]
    corrupt(store, digest, b"tampered")
    with pytest.raises(BlobCorrupt):
        store.get_directory(manifest, tmp_path / "out")
    assert not (tmp_path / "out" / "a.txt").exists()


# ---------------------------------------------------------------------- local specifics


def test_default_url_is_under_the_jupyter_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_core.paths import jupyter_data_dir

    monkeypatch.delenv("JUPYTER_FLOWS_STORAGE_URL", raising=False)
    assert default_storage_url() == str(Path(jupyter_data_dir()) / "jupyter_flows" / "blobs")
    monkeypatch.setenv("JUPYTER_FLOWS_STORAGE_URL", "memory://from-env")
    assert BlobStore().url == "memory://from-env"


def test_local_writes_are_atomic_and_leave_no_partial_files(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = store.put(b"x" * 100_000)
    stored = list(tmp_path.rglob("*"))
    files = [p for p in stored if p.is_file()]
    assert [p.name for p in files] == [digest]
    assert files[0].parent.name == digest[:2]


def test_invalid_digests_are_refused_before_touching_storage(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    for bad in ["", "abc", "../" + "0" * 61, "A" * 64, "g" * 64]:
        with pytest.raises(ValueError, match="not a blob digest"):
            store.get(bad)


def test_put_refuses_non_bytes(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="must be bytes"):
        BlobStore(tmp_path).put("text")  # type: ignore[arg-type]


def test_a_manifest_cannot_escape_its_directory(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    evil = json.dumps(
        {"kind": "jupyter-flows/manifest", "version": 1, "files": {"../x": "0" * 64}}
    ).encode()
    digest = store.put(evil)
    with pytest.raises(StorageError, match="not a relative path"):
        store.get_directory(digest, tmp_path / "out")
    with pytest.raises(StorageError, match="is not a manifest"):
        store.get_manifest(store.put(b"not json"))


def test_an_unwritable_local_directory_is_storage_unavailable(tmp_path: Path) -> None:
    data = b"blocked"
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "sha256").mkdir()
    (tmp_path / "sha256" / digest[:2]).write_text("a file where the store wants a directory")
    with pytest.raises(StorageUnavailable, match=str(tmp_path)):
        BlobStore(tmp_path).put(data)


# ---------------------------------------------------------------------- remote failures


def test_s3_through_environment_credentials(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team sets only JUPYTER_FLOWS_STORAGE_URL and the usual AWS variables."""
    bucket = make_bucket(moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("JUPYTER_FLOWS_STORAGE_URL", f"s3://{bucket}/flows")
    store = BlobStore()
    digest = store.put(b"from the environment")
    assert BlobStore().get(digest) == b"from the environment"


def test_a_missing_bucket_is_storage_unavailable_on_write(moto_endpoint: str) -> None:
    store = BlobStore("s3://no-such-bucket-here/x", storage_options=s3_options(moto_endpoint))
    with pytest.raises(StorageUnavailable, match="no-such-bucket-here"):
        store.put(b"data")


def test_an_endpoint_that_never_answers_fails_with_a_timeout() -> None:
    """A server that accepts connections and says nothing: an error, not a hang."""
    pytest.importorskip("s3fs")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        store = BlobStore("s3://bucket/x", storage_options=s3_options(endpoint), timeout=1)
        with pytest.raises(StorageUnavailable, match="did not answer within 1 s"):
            store.get("0" * 64)


def test_a_closed_port_fails_with_a_connection_error() -> None:
    pytest.importorskip("s3fs")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = BlobStore(
        "s3://bucket/x", storage_options=s3_options(f"http://127.0.0.1:{port}"), timeout=20
    )
    with pytest.raises(StorageUnavailable, match="s3://bucket/x"):
        store.put(b"data")


def test_an_unknown_protocol_is_a_clear_error() -> None:
    with pytest.raises((StorageUnavailable, ValueError)):
        BlobStore("nosuchprotocol://x").put(b"data")
