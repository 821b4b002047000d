"""End-to-end fixtures.

``backend`` is parametrised: every test using it runs on the embedded defaults
(SQLite + a local folder) and on production storage (PostgreSQL + SeaweedFS S3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import Backend, Collector, migrate, start_collector


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite+folder"),
        pytest.param("postgres", id="postgres+s3", marks=pytest.mark.services),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A migrated, empty database and an empty blob store of one kind."""
    if request.param == "sqlite":
        b = Backend(
            "sqlite", f"sqlite:///{tmp_path / 'driftscope.db'}", f"file://{tmp_path / 'blobs'}"
        )
    else:
        url = request.getfixturevalue("postgres_db_url")
        s3 = request.getfixturevalue("s3_env")  # AWS_* credentials in the environment
        b = Backend("postgres", url, request.getfixturevalue("s3_prefix"), s3)
    migrate(b.database_url)
    return b


@pytest.fixture
def collector_factory(tmp_path: Path) -> Iterator[Callable[..., Collector]]:
    """Start ``driftscope serve`` processes from config dicts; all stopped after the test."""
    started: list[Collector] = []

    def start(cfg: dict[str, Any], name: str = "collector") -> Collector:
        c = start_collector(cfg, tmp_path, name)
        started.append(c)
        return c

    yield start
    for c in started:
        c.process.stop(timeout_s=120)
