"""Storage backends as fixtures, shared by the storage and ingest tests.

``store_url`` yields one database URL per backend: SQLite (a file under
tmp_path) always; PostgreSQL from the ``postgres_db_url`` fixture of
tests/services (a fresh database per test, marked ``services`` so
``-m "not services"`` leaves it out). ``storage_pair`` pairs a database with
a blob store the way deployments do: SQLite + a folder, PostgreSQL + S3.
To add a backend, add a ``pytest.param`` below and a branch in the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from driftscope.storage import BlobStore, RecordStore, open_blob_store, open_store

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
]
PAIRS = [
    pytest.param("sqlite+file", id="sqlite+file"),
    pytest.param("postgresql+s3", id="postgresql+s3", marks=pytest.mark.services),
]


@dataclass
class StoragePair:
    database_url: str
    blob_url: str
    blob_options: dict[str, Any] = field(default_factory=dict)

    def open(self, **store_options: Any) -> tuple[RecordStore, BlobStore]:
        store = open_store(self.database_url, **store_options)
        store.upgrade()
        return store, open_blob_store(self.blob_url, **self.blob_options)


def _database_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'driftscope.db'}"
    url: str = request.getfixturevalue("postgres_db_url")
    return url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _database_url(request.param, request, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[RecordStore]:
    s = open_store(store_url)
    s.upgrade()
    yield s
    s.close()


@pytest.fixture(params=PAIRS)
def storage_pair(request: pytest.FixtureRequest, tmp_path: Path) -> StoragePair:
    db_kind, blob_kind = request.param.split("+")
    db_url = _database_url(db_kind, request, tmp_path)
    if blob_kind == "file":
        return StoragePair(db_url, f"file://{tmp_path / 'blobs'}")
    s3 = request.getfixturevalue("s3_env")
    prefix: str = request.getfixturevalue("s3_prefix")
    return StoragePair(db_url, prefix, {"endpoint_url": s3.endpoint_url, "region": s3.region})
