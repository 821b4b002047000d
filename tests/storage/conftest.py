"""Storage fixtures: the backends (``store_url``, ``store``, ``storage_pair``) come from
store_backends.py, parametrised over SQLite and PostgreSQL (see there)."""

from __future__ import annotations

import pytest
from store_backends import storage_pair, store, store_url  # noqa: F401

from driftscope.types import BlobRef


@pytest.fixture
def blob_ref() -> BlobRef:
    return BlobRef(uri="file:///tmp/x", sha256="ab" * 32, media_type="image/png", size=3)
