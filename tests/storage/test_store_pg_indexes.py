"""PostgreSQL: the queries the API and the monitoring engine make are served by indexes.

The planner prefers a sequential scan on tiny tables, so the checks turn
sequential scans off: a plan without an index then means no index fits.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from store_helpers import make_record

from driftscope.storage import open_store
from driftscope.types import GroundTruth

pytestmark = pytest.mark.services

QUERIES = {
    # API record browser and records_frame: by model and time
    "ix_records_model_ts": "SELECT id FROM records WHERE model = 'm' AND ts >= now() ORDER BY ts",
    # the ground-truth join (webhook / REST labels arrive by request id)
    "uq_records_model_request_id_row_index": (
        "SELECT id FROM records WHERE model = 'm' AND request_id = 'r1'"
    ),
    "uq_ground_truth_model_request_id_row_index": (
        "SELECT g.value FROM records r JOIN ground_truth g ON g.model = r.model "
        "AND g.request_id = r.request_id AND g.row_index = r.row_index "
        "WHERE r.model = 'm' AND r.request_id = 'r1'"
    ),
}


@pytest.fixture
def pg_store(postgres_db_url):
    store = open_store(postgres_db_url)
    store.upgrade()
    store.add_records([make_record(i) for i in range(200)])
    store.put_ground_truth([GroundTruth("m", f"r{i}", 0, i % 2) for i in range(0, 200, 3)])
    yield store
    store.close()


@pytest.mark.parametrize("index", sorted(QUERIES))
def test_query_uses_index(pg_store, index):
    with pg_store.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(row[0] for row in conn.execute(text("EXPLAIN " + QUERIES[index])))
    assert index in plan, plan


def test_version_query_uses_the_model_time_index(pg_store):
    # migration 0006 dropped (model, model_version, ts): the API's query by model and
    # version (and time) is served by (model, ts) with a filter on the version
    pg_store.add_records([make_record(i, model_version="v2") for i in range(200, 260)])
    with pg_store.engine.connect() as conn:
        indexes = {
            name
            for (name,) in conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'records'")
            )
        }
        conn.execute(text("ANALYZE"))
        # on 260 rows the planner would rather sort a bitmap scan of the unique key's
        # model prefix; without those the rows in time order are what it can use
        for off in ("seqscan", "bitmapscan", "sort"):
            conn.execute(text(f"SET enable_{off} = off"))
        for where in ("", " AND ts >= '2024-05-01T12:00:00Z' AND ts < '2030-01-01'"):
            sql = (
                "EXPLAIN SELECT * FROM records WHERE model = 'm' AND model_version = 'v2'"
                f"{where} ORDER BY ts, id LIMIT 100"
            )
            plan = "\n".join(row[0] for row in conn.execute(text(sql)))
            assert "ix_records_model_ts" in plan, plan
    assert "ix_records_model_model_version_ts" not in indexes
    got = pg_store.query_records("m", version="v2", limit=1000)
    assert [r.request_id for r in got] == [f"r{i}" for i in range(200, 260)]
    assert pg_store.query_records("m", version="v2", limit=5, offset=55) == got[55:]
    start = got[10].timestamp
    assert pg_store.query_records("m", version="v2", start=start, limit=3) == got[10:13]
    assert pg_store.query_records("m", version="nope") == []


def test_copy_fast_path_and_fallback_count_right(pg_store):
    # 200 stored by the fixture (one COPY); a batch mixing stored and new rows falls back
    # to the staging table and counts only the new ones; the transaction stays usable
    mixed = [make_record(i) for i in range(190, 230)]
    assert pg_store.add_records(mixed) == 30
    assert pg_store.add_records([make_record(i) for i in range(230, 240)]) == 10
    assert pg_store.count_records("m") == 240
    assert pg_store.query_records("m", limit=1, offset=239)[0].request_id == "r239"


def test_record_payloads_are_plain_json(pg_store):
    # COPY into json is cheaper than into jsonb (migration 0003)
    with pg_store.engine.connect() as conn:
        types = dict(
            conn.execute(
                text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'records' AND column_name IN "
                    "('features', 'prediction', 'scores', 'inputs')"
                )
            ).all()
        )
    assert types == dict.fromkeys(["features", "prediction", "scores", "inputs"], "json")


def test_copy_text_escapes_round_trip(pg_store):
    # COPY's text format: tabs, newlines, backslashes and NULLs must survive the trip
    nasty = "a\tb\nc\\d\re \\N"
    rec = make_record(
        500,
        request_id=nasty,
        features={"path": "C:\\temp\\x", "quote": 'say "hi"\n', "n": None, "big": 1e300},
        prediction=None,
        error="line1\nline2\tend\\",
        latency_ms=float("inf"),
    )
    assert pg_store.add_records([rec]) == 1
    (got,) = pg_store.query_records("m", limit=1, offset=200)
    assert got == rec
    assert pg_store.add_records([rec]) == 0  # the staging path parses the same text
