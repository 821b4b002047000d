"""Read-back A/B: ``records_frame`` and ``query_records`` of typed vs JSON feature rows.

    .venv/bin/python benchmarks/ingest/read.py [--records 20000] [--rounds 5] [--pg-url URL]

Stores the benchmark's tabular records (25 FP64 features, 32 rows per request) twice
in one database, once typed (the default) and once as JSON (``typed_features=False``)
under another model name, then times reading each back, alternating, and checks
both give the same frame. Prints the median seconds per side and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402

from driftscope.codecs import get_codec  # noqa: E402
from driftscope.storage import open_store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    settings = bench._settings(2000)
    model = settings.model("tab")
    assert model is not None
    codec = get_codec("oip_v2")
    exchanges = [bench._tabular_exchange(i, 32, rng) for i in range(args.records // 32)]
    recs = [r for ex in exchanges for r in codec.decode(ex, model)]
    make_pg, stop_pg = (
        bench._pg_databases(args) if "postgresql" in args.backends else (None, lambda: None)
    )
    work = Path(tempfile.mkdtemp(prefix="ds-read-bench-"))
    try:
        for backend in args.backends.split(","):
            url = f"sqlite:///{work / 'read.db'}" if backend == "sqlite" else make_pg()
            typed = open_store(url)
            typed.upgrade()
            plain = open_store(url, typed_features=False)
            for i in range(0, len(recs), 2000):
                typed.add_records(recs[i : i + 2000])
                plain.add_records([replace(r, model="json") for r in recs[i : i + 2000]])
            a, b = typed.records_frame("tab"), plain.records_frame("json")
            pd.testing.assert_frame_equal(a, b)
            for what, fn in (
                ("records_frame", lambda s, m: s.records_frame(m)),
                ("query_records", lambda s, m: s.query_records(m, limit=len(recs))),
            ):
                got: dict[str, list[float]] = {"typed": [], "json": []}
                for rnd in range(args.rounds):
                    order = ("typed", "json") if rnd % 2 == 0 else ("json", "typed")
                    for side in order:
                        store, m = (typed, "tab") if side == "typed" else (plain, "json")
                        t0 = time.perf_counter()
                        fn(store, m)
                        got[side].append(time.perf_counter() - t0)
                t, j = statistics.median(got["typed"]), statistics.median(got["json"])
                print(
                    f"{backend:10s} {what}: typed {t:.3f}s json {j:.3f}s "
                    f"({len(recs)} records) -> typed is x{j / t:.2f} as fast",
                    flush=True,
                )
            typed.close()
            plain.close()
    finally:
        stop_pg()


if __name__ == "__main__":
    main()
