"""SQLite specifics: WAL and busy timeout, a locked database, a removed database file."""

from __future__ import annotations

import os
import sqlite3

import pytest
from sqlalchemy import text
from store_helpers import make_record

from driftscope.errors import StorageError
from driftscope.storage import open_store


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "sub" / "ds.db"  # the parent folder is created on open


def test_wal_and_busy_timeout(db_path):
    store = open_store(f"sqlite:///{db_path}", busy_timeout_ms=1234)
    store.upgrade()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 1234
    store.close()


def test_locked_database_raises_storage_error_then_recovers(db_path):
    store = open_store(f"sqlite:///{db_path}", busy_timeout_ms=50)
    store.upgrade()
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError, match="add_records failed: database is locked"):
            store.add_records([make_record(1)])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.add_records([make_record(1)]) == 1
    store.close()


def test_removed_database_file_is_detected(db_path):
    store = open_store(f"sqlite:///{db_path}")
    store.upgrade()
    assert store.add_records([make_record(1)]) == 1
    aside = db_path.with_suffix(".moved")
    os.rename(db_path, aside)
    with pytest.raises(StorageError, match="is missing"):
        store.add_records([make_record(2)])
    with pytest.raises(StorageError):
        store.ping()
    os.rename(aside, db_path)  # the operator puts it back
    assert store.add_records([make_record(2)]) == 1
    assert store.count_records() == 2
    store.close()


def test_replaced_database_file_reconnects(db_path):
    store = open_store(f"sqlite:///{db_path}")
    store.upgrade()
    store.add_records([make_record(1)])
    for suffix in ("", "-wal", "-shm"):
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
    fresh = open_store(f"sqlite:///{db_path}")
    fresh.upgrade()  # a new, empty database at the same path
    fresh.close()
    # the old store follows the new file instead of writing into the unlinked one
    assert store.add_records([make_record(2)]) == 1
    assert store.count_records() == 1
    store.close()
