"""A/B: the ingest benchmark's tabular measurement for two source trees, alternated.

    .venv/bin/python benchmarks/ingest/ab.py --base /tmp/base-src [--rounds 3] [--rows 1,32]
    .venv/bin/python benchmarks/ingest/ab.py --old-options '{"typed_features": false}'

``--base`` is the ``src`` folder of a baseline checkout (for example
``git archive <commit> src | tar -x -C /tmp/base``). Each round runs the same
measurement (``run.py --child``, a fresh process each) once with the baseline
on ``PYTHONPATH`` and once with this tree, in alternating order, so both see
the same load (without ``--base`` both sides are this tree, and ``--old-options`` /
``--new-options`` give each side its own record-store options, e.g. JSON features
against typed ones); the ratio new / old is reported per round and as a median.
On a shared machine the ratio is the figure to trust, not the absolutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", help="baseline tree's src folder (default: this tree)")
    ap.add_argument("--old-options", default="{}", help="store options (JSON), old side")
    ap.add_argument("--new-options", default="{}", help="store options (JSON), new side")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows", default="1,32")
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url")
    args = ap.parse_args()
    args.no_s3 = True
    backends = args.backends.split(",")
    make_pg, stop_pg = (
        bench._pg_databases(args) if "postgresql" in backends else (None, lambda: None)
    )
    base = Path(args.base).resolve() if args.base else bench.ROOT / "src"
    base_env = {"PYTHONPATH": str(base)}
    options = {"old": json.loads(args.old_options), "new": json.loads(args.new_options)}
    new_env = {"PYTHONPATH": str(bench.ROOT / "src")}
    try:
        for backend in backends:
            for rows in [int(r) for r in args.rows.split(",")]:
                ratios, dec_ratios = [], []
                for rnd in range(args.rounds):
                    got = {}
                    order = ("old", "new") if rnd % 2 == 0 else ("new", "old")
                    for side in order:
                        db = "sqlite:///{work}/bench.db" if backend == "sqlite" else make_pg()
                        spec = {
                            "workload": "tabular",
                            "rows_per_request": rows,
                            "backend": backend,
                            "batch_size": args.batch,
                            "records": args.records,
                            "db_url": db,
                            "store_options": options[side],
                        }
                        env = base_env if side == "old" else new_env
                        got[side] = bench._run_child(spec, env)
                    old, new = got["old"], got["new"]
                    ratios.append(new["records_per_s"] / old["records_per_s"])
                    dec_ratios.append(
                        new["decode_only_records_per_s"] / old["decode_only_records_per_s"]
                    )
                    print(
                        f"{backend:10s} rows={rows:2d} round {rnd}: "
                        f"old {old['records_per_s']:8,.0f}/s new {new['records_per_s']:8,.0f}/s "
                        f"x{ratios[-1]:.2f} | decode-only old "
                        f"{old['decode_only_records_per_s']:8,.0f}/s new "
                        f"{new['decode_only_records_per_s']:8,.0f}/s x{dec_ratios[-1]:.2f}",
                        flush=True,
                    )
                print(
                    f"{backend:10s} rows={rows:2d} median ratio new/old: end to end "
                    f"x{statistics.median(ratios):.2f}, decode-only "
                    f"x{statistics.median(dec_ratios):.2f}",
                    flush=True,
                )
    finally:
        stop_pg()


if __name__ == "__main__":
    main()
