"""The binary COPY stream ``pg_copy_data`` builds, against psycopg's own ``write_row``.

``pg_copy_data`` encodes records straight into PostgreSQL's binary COPY format (so
ingest can do it while another batch is written). The reference is what psycopg
writes for the ``record_params`` rows of the same records with the column types of
``_PG_TYPES``: the two streams must be the same bytes, for typed and JSON features,
every nullable column empty and filled, and rows of several requests.
"""

from __future__ import annotations

import io
from array import array
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


def _scored_block(rid, keys, rows, *, floats=True, preds=None):
    from driftscope.codecs.base import PackedRows, RecordRows, ScoreRows

    n = len(rows)
    values = PackedRows(array("d", [0.5 * i for i in range(2 * n)]), 2)
    return RecordRows(
        "m", rid, 0, T0, "v1", ("a", "b"), values, True,
        [i % 3 for i in range(n)] if preds is None else preds,
        ScoreRows(keys, rows, floats), 2.5, 200, None,
    )  # fmt: skip


@pytest.mark.parametrize("typed_features", [True, False])
def test_score_rows_and_repeated_predictions_encode_as_their_records(typed_features, monkeypatch):
    # the SQL store writes a block's ScoreRows of floats in one orjson call and each
    # distinct int / str prediction once: the bytes must be those of the records' dicts
    # blocks of 8 rows or more go column by column (engine._SMALL_BLOCK), smaller ones
    # row by row: both here
    odd = [
        [0.1, 0.9, -0.0],
        [float("nan"), float("inf"), -float("inf")],
        [1e-05, 1e16, 1.7976931348623157e308],
        [5e-324, -2.5, 0.0],
        [1.0, 123456789.125, 1e22],
    ] * 2
    nasty = ['a"q', "b%sc%%", "},{ü✓\n\\"]
    units = [
        _scored_block("s0", ["no", "yes", "maybe"], odd),
        _scored_block("s1", nasty, odd[::-1]),
        *_scored_block("s2", ["x", "y", "z"], odd).split(2),
        # not floats (strings with separators in them), not str keys, ragged rows: the
        # row-by-row path
        _scored_block("s3", ["p", "q"], [["1,2", "]["], ["a", "b"]] * 4, floats=False),
        _scored_block("s4", [1, 2], [[0.5, 0.5], [0.25, 0.75]] * 4),
        _scored_block("s5", ["p", "q"], [[0.5], [0.25, 0.75]] * 4),
        _scored_block("s7", ["p", "q"], [[0.5, 0.5], [0.25, 0.75]]),
        _scored_block(
            "s6",
            ["p", "q"],
            [[0.5, 0.5]] * 9,
            preds=[1, True, 1.0, "1", None, 2**62, [1], "1", 1],
        ),
    ]
    enc = typed.FeatureEncoder() if typed_features else None
    column_wise = []
    score_fields = eng._score_fields

    def counted(*args):
        got = score_fields(*args)
        column_wise.append(got is not None)
        return got

    monkeypatch.setattr(eng, "_score_fields", counted)
    ours = eng.pg_copy_data(units, enc, set())
    assert ours == eng.pg_copy_data(_records_of(units), enc, set())
    if typed_features:  # s0, s1, the 8-row tail of s2, s4 and s5 (fall back), s6
        assert column_wise == [True, True, True, False, False, True]
    recs = _records_of(units[:1])
    assert recs[0].scores == {"no": 0.1, "yes": 0.9, "maybe": -0.0}


def test_score_rows_behave_as_their_dicts():
    from driftscope.codecs.base import ScoreRows

    rows = [[0.1, 0.9], [0.3, 0.7], [0.5, 0.5]]
    s = ScoreRows(["no", "yes"], rows, True)
    dicts = [dict(zip(["no", "yes"], r, strict=True)) for r in rows]
    assert len(s) == 3 and list(s) == dicts and s[1] == dicts[1] and s[-1] == dicts[-1]
    assert list(s[1:]) == dicts[1:] and s[1:].floats
    with pytest.raises(IndexError):
        s[3]


@pytest.mark.parametrize("datatype", ["FP64", "FP32", "INT64"])
def test_decoded_blocks_encode_as_the_decoded_records(datatype):
    # OIP v2 through decode_rows (ScoreRows for a [N, K] scores tensor) and through decode
    # (a dict per row): the same COPY stream
    import orjson

    from driftscope.capture.exchange import Exchange
    from driftscope.codecs import get_codec
    from driftscope.codecs.base import RecordRows, ScoreRows
    from driftscope.config.settings import ModelSettings

    model = ModelSettings(
        name="m",
        upstream="http://127.0.0.1:9",
        protocol="oip_v2",
        task="multiclass_classification",
        schema={"prediction": "label", "scores": "proba", "classes": ["a", "b%", "c"]},
    )
    proba = [[0.1, 0.2, 0.7], [1e-7, 0.5, 3.4e38], [0.0, -0.0, 1.0], [2.0, 3.0, 4.0]] * 2
    if datatype == "INT64":
        proba = [[int(v * 10) % 7 for v in row] for row in proba]
    request = {"inputs": [{"name": "x", "shape": [8, 2], "datatype": "FP64",
                           "data": [[0.5, 1.5]] * 8}]}  # fmt: skip
    labels = ["a", "c", "a", "b%"] * 2
    response = {
        "outputs": [
            {"name": "label", "shape": [8], "datatype": "BYTES", "data": labels},
            {"name": "proba", "shape": [8, 3], "datatype": datatype, "data": proba},
        ]
    }
    ex = Exchange(
        model="m", protocol="oip_v2", request_id="q1", method="POST", path="/v2/models/m/infer",
        received_at=1_700_000_000.25, latency_ms=3.5, status=200,
        request_headers={"content-type": "application/json"},
        request_body=orjson.dumps(request),
        response_headers={"content-type": "application/json"},
        response_body=orjson.dumps(response),
    )  # fmt: skip
    codec = get_codec("oip_v2")
    block = codec.decode_rows(ex, model)
    assert isinstance(block, RecordRows) and isinstance(block.scores, ScoreRows)
    assert block.scores.floats is (datatype != "INT64")
    records = codec.decode(ex, model)
    assert block.records() == records
    enc = typed.FeatureEncoder()
    assert eng.pg_copy_data([block], enc, set()) == eng.pg_copy_data(records, enc, set())
    assert eng.pg_copy_data([block]) == eng.pg_copy_data(records)
