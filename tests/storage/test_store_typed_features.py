"""Typed feature storage (migration 0005): numeric rows as packed float64 + layout id.

The reference is the same store writing every row as JSON (``typed_features=False``,
the behaviour before 0005): typed rows must read back exactly as those do, through
``query_records`` and ``records_frame``, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from dataclasses import replace
from importlib import resources

import numpy as np
import orjson
import pandas as pd
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from store_helpers import make_record

from driftscope.storage import open_store
from driftscope.storage.sql import typed

NAN, INF = float("nan"), float("inf")


def _stored(store, request_id):
    with store.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT features, feature_layout, feature_values FROM records "
                "WHERE request_id = :r ORDER BY row_index"
            ),
            {"r": request_id},
        ).all()


def _store_as_json(store, recs):
    """The same records as JSON rows (the behaviour before 0005), under model ``j``."""
    twin = open_store(store.url, typed_features=False)
    try:
        return twin.add_records([replace(r, model="j") for r in recs])
    finally:
        twin.close()


def _frames_equal(store):
    pd.testing.assert_frame_equal(store.records_frame("m"), store.records_frame("j"))


def _rec(i, features, **kw):
    return make_record(i, features=features, **kw)


def test_typed_round_trip_equals_input(store):
    feats = [
        {"a": 0.5, "b": -0.0, "c": 1e300, "d": -2.5e-310, "e": 3.0},
        {"n": 7, "big": 2**53, "neg": -(2**53), "zero": 0, "x": 1.25},
        {"x": None, "y": 2.0, "z": None},
        {"only_none": None},
        {"i": 1, "none": None, "f": 0.1},
    ]
    recs = [_rec(i, f) for i, f in enumerate(feats)]
    assert store.add_records(recs) == len(recs)
    got = store.query_records("m")
    assert got == recs
    for g, f in zip(got, feats, strict=True):
        assert list(g.features) == list(f)  # same order
        assert [type(v) for v in g.features.values()] == [type(v) for v in f.values()]
    assert math.copysign(1.0, got[0].features["b"]) == -1.0
    for i in range(len(feats)):
        ((features, layout, values),) = _stored(store, f"r{i}")
        assert features is None and layout is not None and values is not None


def test_nan_and_inf_read_as_none_like_json(store):
    feats = {"a": NAN, "b": INF, "c": -INF, "d": 1.0}
    store.add_records([_rec(0, feats)])
    _store_as_json(store, [_rec(1, feats)])
    (typed_rec,), (json_rec,) = store.query_records("m"), store.query_records("j")
    assert typed_rec.features == json_rec.features == {"a": None, "b": None, "c": None, "d": 1.0}
    assert _stored(store, "r0")[0][1] is not None  # typed
    assert _stored(store, "r1")[0][1] is None  # JSON


@pytest.mark.parametrize(
    "features",
    [
        {"a": 1.0, "city": "Oslo"},
        {"flag": True, "x": 1.0},
        {"v": [1.0, 2.0]},
        {"v": {"nested": 1}},
        {"np": np.float64(1.5)},
        {"huge": 2**53 + 1, "x": 1.0},
        {"huge": -(2**60)},
        {},
    ],
    ids=["string", "bool", "list", "dict", "numpy", "int-2^53+1", "int-2^60", "empty"],
)
def test_other_rows_fall_back_to_json(store, features):
    store.add_records([_rec(0, features), _rec(1, {"a": 1.0})])
    _store_as_json(store, [_rec(2, features)])
    got, (ref,) = store.query_records("m"), store.query_records("j")
    assert got[0].features == ref.features
    assert [type(v) for v in got[0].features.values()] == [type(v) for v in ref.features.values()]
    ((stored_json, layout, values),) = _stored(store, "r0")
    assert stored_json is not None and layout is None and values is None
    assert _stored(store, "r1")[0][1] is not None  # the numeric row next to it is typed


def _mixed_batch(offset):
    """One model whose layout changes between requests (names, order, int positions)."""
    rows = [
        {"a": 1.0, "b": 2.0},
        {"b": 2.0, "a": 1.0},
        {"a": 1, "b": 2.0},
        {"a": None, "b": 2.0},
        {"a": 1.0, "b": 2.0, "c": 3.0},
        {"a": 1.0, "city": "Rome"},
        {"c": 5},
    ]
    return [_rec(offset + i, f, row=0) for i, f in enumerate(rows)]


def test_layout_changes_between_requests(store):
    first, second = _mixed_batch(0), _mixed_batch(100)
    assert store.add_records(first) == len(first)
    assert store.add_records(second) == len(second)
    _store_as_json(store, [*first, *second])
    assert store.query_records("m", limit=100) == [*first, *second]
    _frames_equal(store)
    with store.engine.connect() as conn:
        n_layouts = conn.execute(text("SELECT count(*) FROM feature_layouts")).scalar_one()
    # (a,b) float, (b,a), (a int,b), (a,b,c), (c int); the None row shares (a,b)'s layout
    assert n_layouts == 5


@pytest.mark.parametrize(
    "rows",
    [
        [{"x": 1.0, "y": 2.5}, {"x": -3.0, "y": 0.0}],
        [{"i": 1, "f": 0.5}, {"i": -7, "f": 1.5}],
        [{"x": None, "y": 1.0}, {"x": 2.0, "y": None}],
        [{"x": None, "y": 1.0}, {"x": NAN, "y": INF}],
        [{"x": 1.0, "request_id": 3.0}],
    ],
    ids=["floats", "ints", "some-none", "all-none-column", "head-name"],
)
def test_frame_from_one_layout_equals_json_frame(store, rows):
    # one typed layout takes the array path in frames.py: same columns, values and dtypes
    recs = [_rec(i, f) for i, f in enumerate(rows)]
    store.add_records(recs)
    _store_as_json(store, recs)
    with store.engine.connect() as conn:
        layouts = conn.execute(text("SELECT feature_layout FROM records WHERE model = 'm'")).all()
    assert len({lid for (lid,) in layouts}) == 1 and layouts[0][0] is not None
    _frames_equal(store)


def test_replay_of_typed_rows_stores_each_once(store):
    recs = [_rec(i, {"a": float(i), "b": i}, row=r) for i in range(40) for r in range(2)]
    assert store.add_records(recs[:50]) == 50
    assert store.add_records(recs) == 30  # stored and new together (PostgreSQL: staging path)
    assert store.add_records(recs) == 0
    assert store.count_records("m") == 80
    assert store.query_records("m", limit=100) == sorted(
        recs, key=lambda r: (r.timestamp, r.row_index)
    )


def test_two_stores_share_layouts(store):
    # replicas derive the same layout ids; the second one's insert of a layout is a no-op
    other = open_store(store.url)
    assert store.add_records([_rec(0, {"a": 1.0})]) == 1
    assert other.add_records([_rec(1, {"a": 2.0}), _rec(0, {"a": 1.0})]) == 1
    assert [r.features for r in other.query_records("m")] == [{"a": 1.0}, {"a": 2.0}]
    other.close()


def test_layout_id_collision_falls_back_to_json(store):
    layout = typed.Layout(("a", "b"))
    with store.engine.begin() as conn:  # another layout already holds this id
        conn.execute(
            text("INSERT INTO feature_layouts (id, layout) VALUES (:i, :l)"),
            {"i": layout.id, "l": '{"names": ["zz"], "ints": []}'},
        )
    rec = _rec(0, {"a": 1.0, "b": 2.0})
    assert store.add_records([rec]) == 1
    assert store.query_records("m") == [rec]
    ((features, lid, _),) = _stored(store, "r0")
    assert features is not None and lid is None
    assert store.add_records([_rec(1, {"a": 1.0, "b": 2.0})]) == 1  # stays JSON
    assert _stored(store, "r1")[0][1] is None


def _alembic(store, target, down=False):
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("driftscope.storage.sql") / "migrations")
    )
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


def test_upgrade_from_0004_keeps_json_rows(store_url):
    old = open_store(store_url)
    _alembic(old, "0004")
    with old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO records (model, request_id, row_index, ts, features, status) "
                "VALUES ('m', 'old', 0, :ts, :f, 200)"
            ),
            {"ts": make_record(0).timestamp, "f": '{"a": 1.5, "b": 2}'},
        )
    old.close()
    store = open_store(store_url)
    store.upgrade()
    (got,) = store.query_records("m")
    assert got.features == {"a": 1.5, "b": 2}
    assert store.add_records([_rec(1, {"a": 2.5, "b": 3})]) == 1
    assert [r.features for r in store.query_records("m")] == [
        {"a": 1.5, "b": 2},
        {"a": 2.5, "b": 3},
    ]
    frame = store.records_frame("m")  # JSON and typed rows in one frame
    assert frame["a"].tolist() == [1.5, 2.5] and frame["b"].tolist() == [2, 3]
    assert frame["b"].dtype == np.int64
    store.close()


def test_downgrade_writes_typed_rows_back_to_json(store):
    recs = [_rec(i, {"a": float(i), "n": i, "z": None}) for i in range(3)]
    store.add_records(recs)
    _alembic(store, "0004", down=True)
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT features FROM records ORDER BY request_id")).all()
    got = [orjson.loads(f) if isinstance(f, str) else f for (f,) in rows]
    assert got == [r.features for r in recs]
    store.upgrade()
    assert store.query_records("m") == recs


def test_decode_unit_cases():
    layout = typed.Layout(("a", "b", "c"), ints=(2,))
    pat = typed.FeatureEncoder().pattern(("a", "b", "c"), (float, float, int))
    assert pat is not None and pat.id == layout.id
    lid, data = typed.encode_values(pat, [1e308, 1e308, 5])
    assert lid == layout.id
    # finite values whose sum overflows still read back as they are
    assert typed.decode(layout, data) == {"a": 1e308, "b": 1e308, "c": 5}
    assert typed.decode(layout, typed.encode_values(pat, [NAN, -INF, 7])[1]) == {
        "a": None,
        "b": None,
        "c": 7,
    }
    with pytest.raises(typed.StorageError):
        typed.decode(layout, data[:-8])


def test_patterns_past_the_cap_go_to_json(store, monkeypatch):
    monkeypatch.setattr(typed, "MAX_PATTERNS", 2)
    recs = [_rec(i, {f"x{i}": float(i)}) for i in range(4)]
    assert store.add_records(recs) == 4
    assert store.query_records("m") == recs
    layouts = [_stored(store, f"r{i}")[0][1] for i in range(4)]
    assert [lid is not None for lid in layouts] == [True, True, False, False]


def test_a_batch_prepared_before_a_collision_is_rebuilt_with_its_other_layouts(store):
    # ingest prepares batch N+1 while batch N is written: N finds the collision
    layout = typed.Layout(("a", "b"))
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO feature_layouts (id, layout) VALUES (:i, :l)"),
            {"i": layout.id, "l": '{"names": ["zz"], "ints": []}'},
        )
    first = store.prepare_records([_rec(0, {"a": 1.0, "b": 2.0})])
    second = store.prepare_records([_rec(1, {"a": 3.0, "b": 4.0}), _rec(2, {"c": 5.0})])
    assert store.write_prepared(first) == 1
    assert store.write_prepared(second) == 2
    assert [r.features for r in store.query_records("m")] == [
        {"a": 1.0, "b": 2.0},
        {"a": 3.0, "b": 4.0},
        {"c": 5.0},
    ]
    assert _stored(store, "r1")[0][1] is None  # the collided layout's rows: JSON
    ((features, lid, _),) = _stored(store, "r2")
    assert features is None and lid == typed.Layout(("c",)).id  # still typed, layout stored
