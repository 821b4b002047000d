"""The binary COPY stream ``pg_copy_data`` builds, against psycopg's own ``write_row``.

``pg_copy_data`` encodes records straight into PostgreSQL's binary COPY format (so
ingest can do it while another batch is written). The reference is what psycopg
writes for the ``record_params`` rows of the same records with the column types of
``_PG_TYPES``: the two streams must be the same bytes, for typed and JSON features,
every nullable column empty and filled, and rows of several requests.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from store_helpers import T0, make_record

from driftscope.errors import StorageError
from driftscope.storage import open_store
from driftscope.storage.sql import engine as eng
from driftscope.storage.sql import typed
from driftscope.types import BlobRef

pytestmark = pytest.mark.services


def _records():
    ref = BlobRef("s3://b/k", "ab" * 32, "image/png", 123, "input")
    shared_ts = T0 + timedelta(seconds=1)
    floats = [
        make_record(7, row=i, features={"a": 0.5 * i, "b": -1.25}, timestamp=shared_ts)
        for i in range(3)
    ]
    return [
        make_record(1),  # ints and a string: JSON features
        make_record(2, features={"x": 1.0, "y": 2}),  # an int in a typed row
        make_record(3, features={"x": None, "y": float("nan"), "z": float("inf")}),
        make_record(4, features={}, prediction=None, scores=None, latency_ms=None),
        make_record(5, features={"big": 2**60}, status=None, model_version=None),
        make_record(6, prediction={"k": [1, 2]}, scores=0.5, error="upstream status 500: x"),
        make_record(8, request_id="rid-ünïcødé-✓", inputs=[ref, ref], latency_ms=3),
        make_record(9, timestamp=datetime(2024, 5, 1, 12, 0)),  # naive: taken as UTC
        make_record(
            10, timestamp=datetime(1999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-2)))
        ),
        make_record(11, features={"flag": True, "n": 1.0}),  # bools stay JSON
        *floats,
        *[replace(r, model="other") for r in floats],
    ]


def _psycopg_stream(dbapi_conn, params):
    import psycopg
    from psycopg.copy import FileWriter

    buf = io.BytesIO()
    with dbapi_conn.cursor() as cur:
        with psycopg.Copy(cur, binary=True, writer=FileWriter(buf)) as copy:
            copy.set_types(eng._PG_TYPES)
            for row in params:
                copy.write_row(row)
    return buf.getvalue()


@pytest.mark.parametrize("typed_features", [True, False])
def test_stream_is_what_psycopg_writes(postgres_db_url, typed_features):
    store = open_store(postgres_db_url)
    try:
        recs = _records()
        enc = typed.FeatureEncoder() if typed_features else None
        used_a: set[int] = set()
        used_b: set[int] = set()
        ours = eng.pg_copy_data(recs, enc, used_a)
        params = eng.record_params(recs, "postgresql", enc, used_b)
        with store.engine.connect() as conn:
            reference = _psycopg_stream(conn.connection.driver_connection, params)
        assert ours == reference
        assert used_a == used_b and (bool(used_a) is typed_features)
    finally:
        store.close()


def test_stream_round_trips_through_the_store(postgres_db_url):
    """Stored through the stream, read back as the JSON-features store reads its own."""
    store = open_store(postgres_db_url)
    twin = open_store(postgres_db_url, typed_features=False)
    store.upgrade()
    try:
        recs = _records()
        assert store.add_records(recs) == len(recs)
        assert twin.add_records([replace(r, model=f"j{r.model}") for r in recs]) == len(recs)
        ours = store.query_records(limit=1000)
        mine = {
            (r.model, r.request_id, r.row_index): r for r in ours if not r.model.startswith("j")
        }
        for r in ours:
            if r.model.startswith("j"):
                assert (
                    replace(r, model=r.model[1:]) == mine[(r.model[1:], r.request_id, r.row_index)]
                )
        assert len(mine) == len(recs)
        assert all(r.timestamp.tzinfo is not None for r in ours)
        by_rid = {r.request_id: r for r in ours}
        assert by_rid["r9"].timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    finally:
        twin.close()
        store.close()


def test_a_value_beyond_its_column_is_a_storage_error():
    with pytest.raises(StorageError, match="does not fit"):
        eng.pg_copy_data([make_record(1, row=2**31)])


def _block(rid, n, *, floats=True, start=0, model="m", preds=True, packed=False):
    from array import array

    from driftscope.codecs.base import PackedRows, RecordRows

    values = [[0.5 * i + j for j in range(3)] for i in range(n)]
    if packed:
        values = PackedRows(array("d", [v for row in values for v in row]), 3)
    if not floats:
        values = [[i, 1.5, None] for i in range(n)]
    return RecordRows(
        model, rid, start, T0, "v1", ("a", "b", "c"), values, floats,
        [i % 2 for i in range(n)] if preds else None,
        [{"no": 0.25, "yes": 0.75}] * n if preds else None,
        2.5, 200, None,
    )  # fmt: skip


def _records_of(units):
    return [r for u in units for r in ([u] if hasattr(u, "features") else u.records())]


@pytest.mark.parametrize("typed_features", [True, False])
def test_blocks_encode_as_their_records(typed_features):
    head, tail = _block("b1", 5).split(2)
    units = [
        _block("b0", 3),
        head,
        tail,
        _block("b2", 2, floats=False),
        _block("b3", 2, preds=False),
        _block("b5", 4, packed=True),
        *_block("b6", 5, packed=True).split(3),
        make_record(1),
        _block("b4", 0),
    ]
    enc = typed.FeatureEncoder() if typed_features else None
    used_a: set[int] = set()
    used_b: set[int] = set()
    ours = eng.pg_copy_data(units, enc, used_a)
    assert ours == eng.pg_copy_data(_records_of(units), enc, used_b)
    assert used_a == used_b


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql")])
def test_prepared_blocks_store_once_even_when_they_overlap(backend, request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'db.sqlite'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_db_url")
    )
    store = open_store(url)
    store.upgrade()
    try:
        first, rest = _block("b1", 4).split(1)
        units = [_block("b0", 3), rest, _block("b0", 3), make_record(2), first]
        prepared = store.prepare_records(units)
        assert prepared.count == 11
        assert store.write_prepared(prepared) == 8  # b0 once, b1's four rows, r2
        stored = store.query_records(limit=100)
        assert sorted((r.request_id, r.row_index) for r in stored) == sorted(
            [("b0", i) for i in range(3)] + [("b1", i) for i in range(4)] + [("r2", 0)]
        )
        expected = {(r.request_id, r.row_index): r for r in _records_of(units)}
        for r in stored:
            assert r == replace(expected[(r.request_id, r.row_index)], timestamp=r.timestamp)
    finally:
        store.close()
