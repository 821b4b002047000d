"""Ingest fixtures: storage backends (shared with tests/storage), settings, exchanges.

Until the collector's ``SpoolReader`` exists, :class:`MemoryReader` stands in
for it with the same three methods ingest uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import orjson
import pytest

from driftscope.capture.exchange import Exchange
from driftscope.config.settings import Settings
from storage.store_backends import storage_pair  # noqa: F401

FEATURES = ["f0", "f1", "f2"]


class MemoryReader:
    """Segments held in memory; ``done`` removes one, as the spool deletes the file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.segments: dict[Path, list[Exchange]] = {}
        self.done_calls: list[Path] = []

    def add(self, exchanges: Sequence[Exchange]) -> Path:
        path = self.root / f"segment-{len(self.segments) + len(self.done_calls):06d}"
        self.segments[path] = list(exchanges)
        return path

    def ready_segments(self) -> list[Path]:
        return sorted(self.segments)

    def read(self, segment: Path) -> list[Exchange]:
        return list(self.segments[segment])

    def done(self, segment: Path) -> None:
        del self.segments[segment]
        self.done_calls.append(segment)


def settings_for(batch_size: int = 7) -> Settings:
    return Settings(
        capture={"batch_size": batch_size},
        models=[
            {
                "name": "tab",
                "upstream": "http://127.0.0.1:9",
                "version": "v1",
                "schema": {
                    "features": [{"name": n} for n in FEATURES],
                    "prediction": "label",
                    "scores": "proba",
                    "classes": ["no", "yes"],
                },
            },
            {"name": "v1model", "upstream": "http://127.0.0.1:9", "protocol": "kserve_v1"},
        ],
    )


def oip_exchange(request_id: str, rows: int, *, seed: int = 0, t: float = 1.7e9) -> Exchange:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    proba = rng.uniform(size=rows)
    request = {
        "id": request_id,
        "inputs": [{"name": "x", "shape": [rows, 3], "datatype": "FP64", "data": x.tolist()}],
    }
    response = {
        "id": request_id,
        "outputs": [
            {
                "name": "label",
                "shape": [rows],
                "datatype": "INT64",
                "data": (proba > 0.5).astype(int).tolist(),
            },
            {
                "name": "proba",
                "shape": [rows, 2],
                "datatype": "FP64",
                "data": np.stack([1 - proba, proba], axis=1).tolist(),
            },
        ],
    }
    return Exchange(
        model="tab",
        protocol="oip_v2",
        request_id=request_id,
        method="POST",
        path="/v2/models/tab/infer",
        received_at=t,
        latency_ms=1.25,
        status=200,
        request_headers={"content-type": "application/json"},
        request_body=orjson.dumps(request),
        response_headers={"content-type": "application/json"},
        response_body=orjson.dumps(response),
    )


@pytest.fixture
def reader(tmp_path: Path) -> MemoryReader:
    return MemoryReader(tmp_path / "spool")
