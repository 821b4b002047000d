"""Where one tabular drain spends its time: one in-process drain, timed or profiled.

    .venv/bin/python benchmarks/ingest/where.py                    # PostgreSQL, 32 rows
    .venv/bin/python benchmarks/ingest/where.py --backend sqlite --rows 1
    .venv/bin/python benchmarks/ingest/where.py --cprofile         # top functions
    .venv/bin/python benchmarks/ingest/where.py --parts            # decode / params / store

Writes a spool of ``--records`` tabular records (as ``run.py`` does), drains it with
the real ``Ingestor`` and prints records/s (``--repeat`` drains of fresh spools into
the same database server, one fresh database each). ``--parts`` times the codec, the
driver rows and ``add_records`` separately on the same exchanges (no drain).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402

from driftscope.capture.spool import SpoolReader  # noqa: E402
from driftscope.codecs import get_codec  # noqa: E402
from driftscope.ingest.worker import Ingestor  # noqa: E402
from driftscope.storage import open_blob_store, open_store  # noqa: E402


def _postgres_cpu_s() -> float:
    """CPU seconds used so far by every process named postgres (this machine's server)."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
        if name == "postgres":
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _best(fn: Any, n: int, rounds: int = 5) -> float:
    """Microseconds per record of ``fn()``, the best of ``rounds`` (GC on, as in ingest)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / n


def _parts(args: argparse.Namespace, store: Any, settings: Any, exchanges: Any, work: Path) -> None:
    """Per-record cost of each main-thread part, on the same exchanges (best of 5)."""
    codec, model = get_codec("oip_v2"), settings.model("tab")
    spool = work / "spool"
    bench._write_spool(spool, exchanges)
    reader = SpoolReader(spool)
    segments = reader.ready_segments()
    records = [r for ex in exchanges for r in codec.decode(ex, model)]
    n = len(records)
    batches = [records[i : i + args.batch] for i in range(0, n, args.batch)]
    read = _best(lambda: [reader.read(seg) for seg in segments], n)
    decode = _best(lambda: [len(codec.decode(ex, model)) for ex in exchanges], n)
    prepare = _best(lambda: [store.prepare_records(b) for b in batches], n)
    prepared = [store.prepare_records(b) for b in batches]
    t0 = time.perf_counter()
    for p in prepared:
        store.write_prepared(p)
    write = 1e6 * (time.perf_counter() - t0) / n
    print(
        f"per record: spool read {read:.2f} us, decode {decode:.2f} us, "
        f"prepare {prepare:.2f} us, write (once) {write:.2f} us"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="postgresql")
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--records", type=int, default=40_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cprofile", action="store_true")
    ap.add_argument("--parts", action="store_true")
    ap.add_argument("--pg-url")
    ap.add_argument(
        "--drop-index",
        help="an index on records: each repeat drains twice, with it and without it "
        "(dropped after the upgrade), in alternating order (a paired A/B)",
    )
    ap.add_argument(
        "--alter",
        help="SQL run after the upgrade on one side of the same paired A/B (a schema "
        "variant, e.g. 'ALTER TABLE records ALTER scores TYPE text')",
    )
    args = ap.parse_args()
    if args.drop_index:
        args.alter = f"DROP INDEX {args.drop_index}"
    args.no_s3 = True
    make_pg, stop_pg = (
        bench._pg_databases(args) if args.backend == "postgresql" else (None, lambda: None)
    )
    try:
        for i in range(args.repeat):
            sides: list[str | None] = [None]
            if args.alter:
                sides = [None, args.alter] if i % 2 == 0 else [args.alter, None]
            for drop in sides:
                work = Path(tempfile.mkdtemp(prefix="ds-ingest-prof-"))
                try:
                    url = f"sqlite:///{work}/bench.db" if make_pg is None else make_pg()
                    _one(args, url, work, drop)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    finally:
        stop_pg()


def _one(args: argparse.Namespace, url: str, work: Path, alter: str | None = None) -> None:
    rng = np.random.default_rng(0)
    settings = bench._settings(args.batch)
    store: Any = open_store(url)
    store.upgrade()
    if alter is not None:
        with store.engine.begin() as conn:
            conn.exec_driver_sql(alter)
    blobs = open_blob_store(f"file://{work / 'blobs'}")
    n_req = max(1, args.records // args.rows)
    exchanges = [bench._tabular_exchange(i, args.rows, rng) for i in range(n_req)]
    if args.parts:
        _parts(args, store, settings, exchanges, work)
        store.close()
        return
    spool = work / "spool"
    bench._write_spool(spool, exchanges)
    del exchanges
    ingestor = Ingestor(settings, store, blobs, SpoolReader(spool))
    prof = cProfile.Profile() if args.cprofile else None
    c0, s0, m0 = time.process_time(), _postgres_cpu_s(), time.thread_time()
    t0 = time.perf_counter()
    if prof is not None:
        prof.enable()
    stats = ingestor.drain()
    if prof is not None:
        prof.disable()
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    main_cpu = time.thread_time() - m0
    server_cpu = _postgres_cpu_s() - s0
    print(
        f"{args.backend} rows={args.rows} batch={args.batch}"
        f"{f' after {alter!r}' if alter else ''}: {stats.records} records, "
        f"{stats.records / elapsed:,.0f} records/s ({1e6 * elapsed / stats.records:.2f} us each)"
        f"  [cpu per record: client {1e6 * cpu / stats.records:.1f} us "
        f"(main thread {1e6 * main_cpu / stats.records:.1f}), "
        f"postgres {1e6 * server_cpu / stats.records:.1f} us]",
        flush=True,
    )
    if stats.records != n_req * args.rows or stats.retry:
        raise SystemExit(f"stored {stats.records} of {n_req * args.rows}: {stats}")
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    store.close()


if __name__ == "__main__":
    main()
