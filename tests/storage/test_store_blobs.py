"""Blob stores: the local folder always, S3 (SeaweedFS) with the services."""

from __future__ import annotations

import hashlib
import sys
import urllib.request

import pytest

from driftscope.errors import MissingExtraError, NotFound, PluginError, StorageError
from driftscope.storage import open_blob_store
from driftscope.storage.blob.local import LocalBlobStore


def test_local_content_addressed(tmp_path):
    store = open_blob_store(f"file://{tmp_path}/blobs")
    data = b"\x89PNG fake image"
    ref = store.put(data, media_type="image/png")
    sha = hashlib.sha256(data).hexdigest()
    assert (ref.sha256, ref.size, ref.media_type) == (sha, len(data), "image/png")
    assert ref.uri == (tmp_path / "blobs" / "sha256" / sha[:2] / sha).as_uri()
    assert store.put(data, media_type="image/png") == ref  # same bytes, same blob
    assert store.get(ref.uri) == data
    assert store.url_for(ref.uri) == ref.uri
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))


def test_local_keys_and_errors(tmp_path):
    store = LocalBlobStore(tmp_path)
    ref = store.put(b"v1", media_type="text/plain", key="a/b.txt")
    store.put(b"v2", media_type="text/plain", key="a/b.txt")  # an explicit key is overwritten
    assert store.get(ref.uri) == b"v2"
    for bad in ("../escape", "a/../../x", "", "/"):
        with pytest.raises(StorageError, match="invalid blob key"):
            store.put(b"x", media_type="text/plain", key=bad)
    with pytest.raises(StorageError, match="outside the blob folder"):
        store.get((tmp_path.parent / "elsewhere").as_uri())
    with pytest.raises(NotFound):
        store.get((tmp_path / "missing").as_uri())
    with pytest.raises(StorageError, match="not a file:// URI"):
        store.get("s3://bucket/key")


def test_relative_and_plain_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ref = open_blob_store("file://data/blobs").put(b"x", media_type="text/plain")
    assert ref.uri.startswith((tmp_path / "data" / "blobs").as_uri())
    assert open_blob_store("data/blobs").get(ref.uri) == b"x"


def test_unknown_scheme():
    with pytest.raises(PluginError, match="unknown blobstores plugin 'gs'; valid: file, s3"):
        open_blob_store("gs://bucket")


def test_s3_without_boto3(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'driftscope\[s3\]'"):
        open_blob_store("s3://bucket/prefix")


def test_s3_round_trip(s3_env, s3_prefix):
    store = open_blob_store(s3_prefix, endpoint_url=s3_env.endpoint_url, region=s3_env.region)
    data = b"some bytes" * 100
    ref = store.put(data, media_type="application/octet-stream")
    sha = hashlib.sha256(data).hexdigest()
    assert ref.uri == f"{s3_prefix}/sha256/{sha[:2]}/{sha}"
    assert store.get(ref.uri) == data
    with urllib.request.urlopen(store.url_for(ref.uri, expires_s=60)) as resp:  # presigned
        assert resp.read() == data
    with pytest.raises(NotFound):
        store.get(f"{s3_prefix}/missing")
    keyed = store.put(b"k", media_type="text/plain", key="errors/r1/request.bin")
    assert keyed.uri == f"{s3_prefix}/errors/r1/request.bin"
    store.close()


def test_open_storage_from_settings(tmp_path):
    from driftscope.config.settings import StorageSettings
    from driftscope.storage import open_storage

    settings = StorageSettings(
        database_url=f"sqlite:///{tmp_path / 'x.db'}", blob_url=f"file://{tmp_path / 'b'}"
    )
    store, blobs = open_storage(settings)
    store.upgrade()
    store.ping()
    assert blobs.get(blobs.put(b"x", media_type="text/plain").uri) == b"x"
    store.close()
