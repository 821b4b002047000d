"""driftscope's CBPE / DLE on the Parquet files the NannyML side wrote (main venv)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from driftscope.monitoring.performance import CBPE, DLE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import DATASETS  # noqa: E402


def run(name: str, data: Path, chunk_size: int) -> dict:
    spec = DATASETS[name]
    reference = pd.read_parquet(data / f"{name}_reference.parquet")
    analysis = pd.read_parquet(data / f"{name}_analysis.parquet").drop(columns=[spec["target"]])
    common = {
        "y_true": spec["target"],
        "y_pred": "y_pred",
        "metrics": spec["metrics"],
        "chunk_size": chunk_size,
    }
    t0 = time.perf_counter()
    if spec["task"] == "regression":
        calc: CBPE | DLE = DLE(features=spec["features"], **common)
    else:
        calc = CBPE(
            task=f"{spec['task']}_classification",
            y_score=spec["scores"],
            classes=spec["classes"],
            **common,
        )
    result = calc.fit(reference).calculate(analysis).data
    elapsed = time.perf_counter() - t0
    first = result[result.metric == spec["metrics"][0]].sort_values("chunk_index")
    # size chunks are keyed "[first_row:last_row]"
    chunks = [[int(v) for v in key.strip("[]").split(":")] for key in first.chunk_key]
    est = {
        m: result[result.metric == m].sort_values("chunk_index").value.tolist()
        for m in spec["metrics"]
    }
    se = {
        m: result[result.metric == m].sort_values("chunk_index").sampling_error.tolist()
        for m in spec["metrics"]
    }
    return {"seconds": elapsed, "chunks": chunks, "estimates": est, "sampling_error": se}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--result", type=Path, required=True)
    ap.add_argument("--chunk-size", type=int, default=5000)
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    args = ap.parse_args()
    out = {}
    for name in args.datasets:
        out[name] = run(name, args.data, args.chunk_size)
        print(f"driftscope {name}: {out[name]['seconds']:.3f} s", file=sys.stderr)
    args.result.write_text(json.dumps({"results": out}))


if __name__ == "__main__":
    main()
