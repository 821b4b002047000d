"""Fixtures for the labeling tests: stores on SQLite (and PostgreSQL), records, settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from driftscope.config.settings import Settings
from driftscope.storage import RecordStore, open_store
from driftscope.types import Record

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SECRET = "webhook-secret-for-tests"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ds.db'}"
    else:
        url = request.getfixturevalue("postgres_db_url")
    s = open_store(url)
    s.upgrade()
    yield s
    s.close()


def records(model: str = "m", n: int = 5, rows: int = 1, prefix: str = "r") -> list[Record]:
    """``n`` requests of ``rows`` rows each; features a, b; prediction a + b."""
    out = []
    for i in range(n):
        for j in range(rows):
            a, b = float(i), float(j) / 2
            out.append(
                Record(
                    model=model,
                    request_id=f"{prefix}{i}",
                    row_index=j,
                    timestamp=T0 + timedelta(seconds=i),
                    model_version="v1",
                    features={"a": a, "b": b},
                    prediction=a + b,
                )
            )
    return out


def settings_doc(
    tmp_path: Path, ls_url: str = "http://127.0.0.1:9", **labeling: Any
) -> dict[str, Any]:
    return {
        "server": {"host": "127.0.0.1", "port": 0},
        "capture": {
            "spool_dir": str(tmp_path / "spool"),
            "segment_max_age_s": 0.2,
            "ingest_interval_s": 0.1,
        },
        "storage": {
            "database_url": f"sqlite:///{tmp_path / 'ds.db'}",
            "blob_url": f"file://{tmp_path / 'blobs'}",
        },
        "labeling": {"tool": "labelstudio", "url": ls_url, **labeling},
        "models": [
            {
                "name": "m",
                "version": "v1",
                "upstream": "http://127.0.0.1:9",
                "task": "regression",
                "schema": {"features": [{"name": "a"}, {"name": "b"}]},
                "labeling": {"sample_rate": 1.0},
            },
            {
                "name": "clf",
                "version": "v2",
                "upstream": "http://127.0.0.1:9",
                "task": "binary_classification",
                "schema": {"features": [{"name": "x"}], "classes": ["no", "yes"]},
                "labeling": {},
            },
        ],
    }


@pytest.fixture
def labeling_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DRIFTSCOPE_LABELING__API_TOKEN", "token-for-tests")
    monkeypatch.setenv("DRIFTSCOPE_LABELING__WEBHOOK_SECRET", SECRET)
    return Settings(**settings_doc(tmp_path))
