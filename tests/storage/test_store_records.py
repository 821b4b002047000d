"""The record store on every backend: schema, idempotent inserts, queries, frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from store_helpers import T0, make_record

from driftscope.config.settings import ModelSettings
from driftscope.storage import CaptureErrorRow, open_store
from driftscope.storage.sql.models import metadata
from driftscope.types import GroundTruth


def test_migrations_create_exactly_the_model_schema(store):
    store.upgrade()  # a second upgrade is a no-op
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == []
    assert set(metadata.tables) | {"alembic_version"} == tables


def _record_indexes(store):
    with store.engine.connect() as conn:
        return {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes("records")}


def test_migration_0006_drops_the_version_index_and_downgrade_restores_it(store):
    # (model, model_version, ts) went in 0006: queries by version use (model, ts)
    store.add_records([make_record(i, model_version=f"v{i % 2}") for i in range(6)])
    assert "ix_records_model_model_version_ts" not in _record_indexes(store)
    assert _record_indexes(store)["ix_records_model_ts"] == ["model", "ts"]
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("driftscope.storage.sql") / "migrations")
    )
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    assert _record_indexes(store)["ix_records_model_model_version_ts"] == [
        "model",
        "model_version",
        "ts",
    ]
    store.upgrade()
    assert "ix_records_model_model_version_ts" not in _record_indexes(store)
    assert [r.request_id for r in store.query_records("m", version="v1")] == ["r1", "r3", "r5"]


def test_add_records_is_idempotent(store):
    recs = [make_record(i, row=r) for i in range(50) for r in range(2)]
    assert store.add_records(recs) == 100
    assert store.add_records(recs) == 0
    more = [*recs[:10], make_record(99), make_record(99, row=1)]
    assert store.add_records(more) == 2
    assert store.count_records() == 102
    assert store.count_records("m") == 102 and store.count_records("other") == 0
    assert store.add_records([]) == 0


def test_records_round_trip(store, blob_ref):
    rec = make_record(
        3,
        inputs=[blob_ref],
        prediction=[{"label": "cat", "x1": 1.0, "y1": 2.0, "x2": 3.0, "y2": 4.0, "score": 0.9}],
        error="upstream status 500",
        model_version=None,
    )
    store.add_records([rec])
    (got,) = store.query_records()
    assert got == rec
    assert got.timestamp.tzinfo is not None and got.timestamp == T0 + timedelta(minutes=3)


def test_query_filters_and_paging(store):
    store.add_records([make_record(i) for i in range(10)])
    store.add_records([make_record(i, model_version="v2") for i in range(10, 15)])
    store.add_records([make_record(i, model="other") for i in range(3)])
    assert [r.request_id for r in store.query_records("m", limit=3, offset=2)] == ["r2", "r3", "r4"]
    assert len(store.query_records("m", version="v2")) == 5
    window = store.query_records(
        "m", start=T0 + timedelta(minutes=4), end=T0 + timedelta(minutes=6)
    )
    assert [r.request_id for r in window] == ["r4", "r5"]
    # a time in another zone means the same instant
    oslo = datetime(2024, 5, 1, 12, 4, tzinfo=UTC).astimezone(ZoneInfo("Europe/Oslo"))
    assert oslo.hour == 14
    assert store.query_records("m", start=oslo, limit=1)[0].request_id == "r4"
    assert [r.model for r in store.query_records("other")] == ["other"] * 3


def test_ground_truth_upsert_and_frame(store):
    store.add_records([make_record(i) for i in range(4)])
    assert store.put_ground_truth([GroundTruth("m", "r1", 0, 1), GroundTruth("m", "r2", 0, 0)]) == 2
    store.put_ground_truth([GroundTruth("m", "r1", 0, 0, source="label-studio")])
    frame = store.records_frame("m")
    assert list(frame.columns) == [
        "request_id",
        "row_index",
        "timestamp",
        "model_version",
        "age",
        "city",
        "income",
        "prediction",
        "score_0",
        "score_1",
        "target",
        "latency_ms",
    ]
    assert frame["request_id"].tolist() == ["r0", "r1", "r2", "r3"]
    assert frame["target"].tolist()[1:3] == [0, 0]
    assert frame["target"].isna().tolist() == [True, False, False, True]
    assert frame["age"].tolist() == [20, 21, 22, 23]
    assert frame["score_1"].tolist() == [0.75] * 4
    assert str(frame["timestamp"].dt.tz) == "UTC"
    part = store.records_frame("m", start=T0 + timedelta(minutes=2))
    assert part["request_id"].tolist() == ["r2", "r3"]


def test_frame_with_scalar_scores_and_empty(store):
    store.add_records(
        [make_record(i, model="reg", scores=0.5 * i, prediction=1.5 * i) for i in range(3)]
    )
    frame = store.records_frame("reg")
    assert frame["score"].tolist() == [0.0, 0.5, 1.0]
    assert frame["prediction"].tolist() == [0.0, 1.5, 3.0]
    empty = store.records_frame("nothing")
    assert len(empty) == 0
    assert {"request_id", "timestamp", "prediction", "target", "latency_ms"} <= set(empty.columns)


def test_models_and_versions(store):
    models = [
        ModelSettings(name="m", upstream="http://127.0.0.1:1", version="v1", task="regression"),
        ModelSettings(name="k", upstream="http://127.0.0.1:1", protocol="kserve_v1"),
    ]
    store.ensure_models(models)
    store.ensure_models(models)  # again: an update, not a duplicate
    store.add_records(
        [make_record(0), make_record(1, model_version="v2"), make_record(2, model="x")]
    )
    listed = {m["name"]: m for m in store.list_models()}
    assert listed["m"] == {
        "name": "m",
        "task": "regression",
        "protocol": "oip_v2",
        "versions": ["v1", "v2"],
        "records": 2,
    }
    assert listed["k"]["records"] == 0 and listed["k"]["versions"] == []
    assert listed["x"]["task"] is None and listed["x"]["records"] == 1


def test_capture_errors_are_idempotent(store, blob_ref):
    err = CaptureErrorRow("m", "r1", "request.inputs: expected a list", T0, [blob_ref], 200)
    store.add_capture_errors([err])
    store.add_capture_errors([err])
    later = CaptureErrorRow("m", "r1", "again", T0 + timedelta(seconds=1), [], 500)
    store.add_capture_errors([later])
    got = store.list_capture_errors("m")
    assert [e.message for e in got] == ["again", "request.inputs: expected a list"]
    assert got[1] == err


def test_reference_round_trip(store):
    assert store.get_reference("m") is None
    rng = np.random.default_rng(0)
    ref = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 100),
            "income": rng.normal(size=100),
            "city": rng.choice(["Oslo", "Rome"], 100),
            "target": rng.integers(0, 2, 100),
        }
    )
    store.put_reference("m", ref.iloc[:10])
    store.put_reference("m", ref)
    pd.testing.assert_frame_equal(store.get_reference("m"), ref)


def test_results_newest_run_per_series(store):
    def results(value: float, metric: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "chunk_index": [0, 1],
                "chunk_key": ["[0:99]", "[100:199]"],
                "chunk_start": pd.to_datetime([T0, T0 + timedelta(hours=1)], utc=True),
                "chunk_end": pd.to_datetime(
                    [T0 + timedelta(hours=1), T0 + timedelta(hours=2)], utc=True
                ),
                "n": [100, 100],
                "segment": [None, None],
                "column": ["age", "age"],
                "method": ["ks", "ks"],
                "metric": [metric, metric],
                "value": [value, np.nan],
                "p_value": [0.5, 0.01],
                "lower_threshold": [np.nan, np.nan],
                "upper_threshold": [0.1, 0.1],
                "alert": [False, True],
            }
        )

    run1, run2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    store.save_results("m", run1, results(0.1, "statistic"))
    store.save_results("m", run1, results(7.0, "other"))
    store.save_results("m", run2, results(0.2, "statistic"))
    got = store.load_results("m", metric="statistic")
    assert got["value"].tolist()[0] == 0.2 and np.isnan(got["value"].tolist()[1])
    assert got["alert"].tolist() == [False, True]
    assert (got["run_at"] == pd.Timestamp(run2)).all()
    assert got["chunk_start"].tolist() == [pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(hours=1))]
    both = store.load_results("m")
    assert sorted(set(both["metric"])) == ["other", "statistic"] and len(both) == 4
    assert len(store.load_results("m", all_runs=True)) == 6
    assert len(store.load_results("m", start=T0 + timedelta(minutes=30))) == 2
    assert store.load_results("m", column="income").empty


def test_open_store_rejects_unknown_backends(tmp_path):
    from driftscope.errors import PluginError

    with pytest.raises(
        PluginError, match="unknown storage plugin 'mysql'; valid: postgresql, sqlite"
    ):
        open_store("mysql://u@h/db")


def test_executemany_path_matches_copy(store_url):
    # PostgreSQL loads with COPY by default; the executemany path must count the same way
    plain = open_store(store_url, copy=False)
    plain.upgrade()
    recs = [make_record(i) for i in range(20)]
    assert plain.add_records(recs[:10]) == 10
    assert plain.add_records(recs) == 10
    assert plain.query_records(limit=1)[0] == recs[0]
    plain.close()


def test_concurrent_writers_store_each_record_once(store_url):
    """Two replicas (two engines) replaying overlapping batches at the same time."""
    import threading

    stores = [open_store(store_url) for _ in range(2)]
    stores[0].upgrade()
    recs = [make_record(i, row=r) for i in range(300) for r in range(2)]
    inserted = [0, 0]

    def write(k: int) -> None:
        order = recs if k == 0 else recs[::-1]
        for start in range(0, len(order), 50):
            inserted[k] += stores[k].add_records(order[start : start + 50])

    threads = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(inserted) == 600
    assert stores[0].count_records() == 600
    for s in stores:
        s.close()


def test_replicas_upgrading_together(store_url):
    import threading

    stores = [open_store(store_url) for _ in range(3)]
    errors: list[BaseException] = []

    def up(s):
        try:
            s.upgrade()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=up, args=(s,)) for s in stores]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert stores[0].add_records([make_record(1)]) == 1
    for s in stores:
        s.close()
