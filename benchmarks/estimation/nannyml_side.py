"""NannyML's CBPE / DLE on its own synthetic datasets (run in benchmarks/.venv-peers).

Also writes the datasets (reference; analysis joined with its targets) as
Parquet for the driftscope side, so both read the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

import nannyml as nml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import DATASETS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--result", type=Path, required=True)
    ap.add_argument("--chunk-size", type=int, default=5000)
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--rows", type=int, default=0, help="keep only the first N rows of each part")
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in args.datasets:
        spec = DATASETS[name]
        reference, analysis, targets = getattr(nml, spec["loader"])()
        analysis = analysis.merge(targets, on="id", how="left")
        if args.rows:
            reference, analysis = reference.head(args.rows), analysis.head(args.rows)
        reference.to_parquet(args.data / f"{name}_reference.parquet")
        analysis.to_parquet(args.data / f"{name}_analysis.parquet")
        unlabeled = analysis.drop(columns=[spec["target"]])
        if spec["task"] == "regression":
            est = nml.DLE(
                feature_column_names=spec["features"],
                y_pred="y_pred",
                y_true=spec["target"],
                metrics=spec["metrics"],
                chunk_size=args.chunk_size,
            )
        else:
            est = nml.CBPE(
                problem_type=f"classification_{spec['task']}",
                y_pred_proba=spec["scores"],
                y_pred="y_pred",
                y_true=spec["target"],
                metrics=spec["metrics"],
                chunk_size=args.chunk_size,
            )
        t0 = time.perf_counter()
        est.fit(reference)
        result = est.estimate(unlabeled)
        elapsed = time.perf_counter() - t0
        df = result.filter(period="analysis").to_df()
        out[name] = {
            "seconds": elapsed,
            "chunks": [
                [int(s), int(e)]
                for s, e in zip(
                    df[("chunk", "start_index")], df[("chunk", "end_index")], strict=True
                )
            ],
            "estimates": {m: [float(v) for v in df[(m, "value")]] for m in spec["metrics"]},
            "sampling_error": {
                m: [float(v) for v in df[(m, "sampling_error")]] for m in spec["metrics"]
            },
        }
        print(f"nannyml {name}: {elapsed:.2f} s", file=sys.stderr)
    args.result.write_text(json.dumps({"version": nml.__version__, "results": out}))


if __name__ == "__main__":
    main()
