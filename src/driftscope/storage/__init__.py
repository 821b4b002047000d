"""Storage: the record store (SQL database) and the blob store (objects).

Backends are plugins: database backends in the ``driftscope.storage`` entry-point
group, keyed by URL scheme (``sqlite``, ``postgresql``); blob stores in
``driftscope.blobstores`` (``file``, ``s3``). Each entry is a factory
``(url, **options) -> store``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from driftscope.registry import Registry
from driftscope.storage.base import (
    AlertRow,
    BlobStore,
    CaptureErrorRow,
    MonitoringRun,
    RecordStore,
)

if TYPE_CHECKING:
    from driftscope.config.settings import StorageSettings

__all__ = [
    "AlertRow",
    "BlobStore",
    "CaptureErrorRow",
    "MonitoringRun",
    "RecordStore",
    "blob_stores",
    "open_blob_store",
    "open_storage",
    "open_store",
    "record_stores",
]

record_stores: Registry[Callable[..., RecordStore]] = Registry("storage")
blob_stores: Registry[Callable[..., BlobStore]] = Registry("blobstores")


def _sql_store(url: str, **opts: Any) -> RecordStore:
    from driftscope.storage.sql.repo import SQLRecordStore

    return SQLRecordStore(url, **opts)


def _local_blobs(url: str, **opts: Any) -> BlobStore:
    from driftscope.storage.blob.local import LocalBlobStore

    # file:///abs/path, file://relative/path and plain paths
    path = url[len("file://") :] if url.startswith("file://") else url
    return LocalBlobStore(path)


def _s3_blobs(url: str, **opts: Any) -> BlobStore:
    from driftscope.storage.blob.s3 import S3BlobStore

    parsed = urlparse(url)
    return S3BlobStore(parsed.netloc, parsed.path, **opts)


record_stores.add("sqlite", _sql_store)
record_stores.add("postgresql", _sql_store)
blob_stores.add("file", _local_blobs)
blob_stores.add("s3", _s3_blobs)


def open_store(url: str, **opts: Any) -> RecordStore:
    """A record store for a SQLAlchemy URL (``sqlite:///file.db``, ``postgresql+psycopg://...``)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    return record_stores.get(scheme)(url, **opts)


def open_blob_store(url: str, **opts: Any) -> BlobStore:
    """A blob store for ``file://folder``, a plain folder path, or ``s3://bucket/prefix``.

    Options for S3: ``endpoint_url``, ``region``, ``max_attempts``, timeouts.
    """
    scheme = url.split("://", 1)[0] if "://" in url else "file"
    if scheme == "file":
        opts = {}
    return blob_stores.get(scheme)(url, **opts)


def open_storage(settings: StorageSettings) -> tuple[RecordStore, BlobStore]:
    """The record store and the blob store a ``storage:`` settings section describes."""
    store = open_store(settings.database_url)
    blobs = open_blob_store(
        settings.blob_url, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
    )
    return store, blobs
