"""``driftscope serve`` as a real subprocess: load, SIGTERM, database faults."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from driftscope.capture.spool import SpoolReader
from driftscope.collector.sampling import sampled

from .conftest import settings_doc
from .proc import ServeProcess, wait_for
from .upstream import make_upstream, serve_in_thread

pytestmark = pytest.mark.slow


@pytest.fixture
def upstream() -> Iterator[str]:
    with serve_in_thread(make_upstream(delay_s=0.002)) as url:
        yield url


def _body(request_id: str) -> dict[str, object]:
    return {
        "id": request_id,
        "inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [1.0, 2.0]}],
    }


def _stored_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT request_id FROM records")]


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=0.2) as conn:
            return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])
    except sqlite3.OperationalError:
        return -1


async def _send(
    url: str, ids: list[str], concurrency: int = 8, status: dict[str, int] | None = None
) -> dict[str, int]:
    """Send one request per id; the status per id (0 when the connection failed)."""
    status = {} if status is None else status
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in ids:
        queue.put_nowait(i)
    async with httpx.AsyncClient(timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                rid = queue.get_nowait()
                try:
                    r = await client.post(f"{url}/v2/models/m/infer", json=_body(rid))
                    status[rid] = r.status_code
                except httpx.HTTPError:
                    status[rid] = 0

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return status


def test_sigterm_during_load_stores_exactly_the_sampled(tmp_path: Path, upstream: str) -> None:
    rate = 0.5
    token = {"DRIFTSCOPE_SERVER__TOKEN": "tok"}
    serve = ServeProcess(
        settings_doc(tmp_path, upstream, rate), tmp_path, "--workers", "2", env=token
    )
    try:
        url = serve.url()
        result = asyncio.run(_send(url, [f"warm-{i}" for i in range(20)]))
        assert set(result.values()) == {200}
        assert httpx.get(f"{url}/metrics").status_code == 401
        auth = {"Authorization": "Bearer tok"}
        # both workers' counters (multiprocess mode) and the scrape-time gauges
        wait_for(
            lambda: (
                'driftscope_records_stored{model="m"}'
                in httpx.get(f"{url}/metrics", headers=auth).text
            ),
            what="stored records gauge",
        )
        text = httpx.get(f"{url}/metrics", headers=auth).text
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("driftscope_requests_total{")
        )
        assert total == 20, text
        assert "driftscope_spool_segments" in text
        ids = [f"load-{i}" for i in range(1000)]
        thread = threading.Thread(target=lambda: asyncio.run(_send(url, ids, status=result)))
        thread.start()
        # stop while requests are in flight (if the load is over by then, the check still holds)
        wait_for(lambda: _count(tmp_path / "ds.db") > 20, what="records to land")
        code = serve.terminate()
        thread.join(60)
    finally:
        serve.kill()
    assert code == 0, serve.output
    ok = [rid for rid, s in result.items() if s == 200]
    assert ok, "no request was answered"
    assert all(s in (200, 0) for s in result.values()), result
    expected = sorted(rid for rid in ok if sampled(rid, rate))
    stored = _stored_ids(tmp_path / "ds.db")
    assert sorted(stored) == expected  # nothing lost, nothing stored twice
    assert SpoolReader(tmp_path / "spool").depth()[0] == 0


def test_database_locked_then_removed_mid_load(tmp_path: Path, upstream: str) -> None:
    db = tmp_path / "ds.db"
    serve = ServeProcess(settings_doc(tmp_path, upstream), tmp_path)
    try:
        url = serve.url()
        assert set(asyncio.run(_send(url, [f"a-{i}" for i in range(20)])).values()) == {200}
        wait_for(lambda: _count(db) == 20, what="first batch to land")

        # phase 1: another process holds an exclusive lock on the database
        lock = sqlite3.connect(db, timeout=5)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            status = asyncio.run(_send(url, [f"b-{i}" for i in range(30)]))
            assert set(status.values()) == {200}  # traffic unaffected
            wait_for(lambda: SpoolReader(tmp_path / "spool").depth()[0] > 0, what="spool to hold")
            assert lock.execute("SELECT count(*) FROM records").fetchone()[0] == 20
        finally:
            lock.rollback()
            lock.close()
        wait_for(lambda: _count(db) == 50, timeout_s=60, what="locked batch to land")

        # phase 2: the database file disappears, then comes back
        moved = tmp_path / "moved.db"
        db.rename(moved)
        try:
            status = asyncio.run(_send(url, [f"c-{i}" for i in range(30)]))
            assert set(status.values()) == {200}
            wait_for(lambda: SpoolReader(tmp_path / "spool").depth()[0] > 0, what="spool to hold")
            assert not db.exists()
        finally:
            moved.rename(db)
        wait_for(lambda: _count(db) == 80, timeout_s=60, what="removed batch to land")
        code = serve.terminate()
    finally:
        serve.kill()
    assert code == 0, serve.output
    ids = _stored_ids(db)
    assert len(ids) == len(set(ids)) == 80
