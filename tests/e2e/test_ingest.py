"""Spool -> ingest -> storage round trips, on both storage backends, with real MLServer answers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from driftscope.capture.exchange import Exchange
from driftscope.capture.spool import SpoolReader, SpoolWriter
from driftscope.ingest import Ingestor
from driftscope.types import GroundTruth
from services.mlserver import MLServerInfo

from .harness import (
    Backend,
    assert_records_match,
    config_dict,
    expected_rows,
    malformed_exchange,
    real_exchanges,
    settings_of,
)

ROWS = 3


@pytest.fixture(scope="module")
def exchanges(mlserver: MLServerInfo) -> list[Exchange]:
    return real_exchanges(mlserver, 40, ROWS, prefix="ing")


def write_spool(root: Path, exchanges: list[Exchange]) -> None:
    writer = SpoolWriter(root, segment_max_bytes=8 * 1024, segment_max_age_s=60)
    for i in range(0, len(exchanges), 7):
        writer.append(exchanges[i : i + 7])
        writer.maybe_rotate()
    writer.close()


def test_round_trip_records_ground_truth_and_capture_errors(
    backend: Backend, exchanges: list[Exchange], mlserver: MLServerInfo, tmp_path: Path
) -> None:
    cfg = config_dict(tmp_path, backend, mlserver.url)
    settings = settings_of(cfg)
    spool = Path(cfg["capture"]["spool_dir"])
    bad = [malformed_exchange("bad-1"), malformed_exchange("bad-2")]
    write_spool(spool, exchanges[:20] + bad + exchanges[20:])

    store, blobs = backend.open()
    try:
        store.ensure_models(settings.models)
        reader = SpoolReader(spool)
        assert reader.depth()[0] > 1  # several segments
        stats = Ingestor(settings, store, blobs, reader).drain()

        assert not stats.retry
        assert (stats.exchanges, stats.records, stats.duplicates, stats.capture_errors) == (
            len(exchanges) + 2,
            len(exchanges) * ROWS,
            0,
            2,
        )
        assert reader.depth() == (0, 0)
        assert store.count_records("clf") == len(exchanges) * ROWS
        assert_records_match(store, exchanges)

        # capture errors keep the raw payloads, byte for byte, in the blob store
        errors = {e.request_id: e for e in store.list_capture_errors("clf")}
        assert set(errors) == {"bad-1", "bad-2"}
        payloads = {p.name: p for p in errors["bad-1"].payloads}
        assert blobs.get(payloads["request"].uri) == bad[0].request_body
        assert blobs.get(payloads["response"].uri) == bad[0].response_body

        # ground truth for every other row joins in records_frame
        want = expected_rows(exchanges)
        labelled = sorted(want)[::2]
        truths = [
            GroundTruth("clf", rid, row, int(want[(rid, row)]["prediction"] == 0))
            for rid, row in labelled
        ]
        assert store.put_ground_truth(truths) == len(truths)
        frame = store.records_frame("clf")
        assert len(frame) == len(want)
        frame = frame.set_index(["request_id", "row_index"]).sort_index()
        for rid, row in labelled:
            assert frame.loc[(rid, row), "target"] == int(want[(rid, row)]["prediction"] == 0)
        unlabelled = [k for k in want if k not in set(labelled)]
        assert all(pd.isna(frame.loc[k, "target"]) for k in unlabelled)
        for (rid, row), exp in want.items():
            assert [frame.loc[(rid, row), f"x{j}"] for j in range(4)] == list(
                exp["features"].values()
            )
        assert (frame["timestamp"] <= pd.Timestamp(datetime.now(UTC))).all()

        # the same exchanges spooled again: stored once, counted as duplicates
        write_spool(spool, exchanges)
        again = Ingestor(settings, store, blobs, SpoolReader(spool)).drain()
        assert (again.records, again.duplicates) == (0, len(exchanges) * ROWS)
        assert store.count_records("clf") == len(exchanges) * ROWS
    finally:
        store.close()
        blobs.close()
