"""CBPE / DLE: driftscope vs NannyML on NannyML's synthetic datasets, in one run.

Each side runs in a fresh process in its own environment (NannyML in
benchmarks/.venv-peers, which needs pandas < 3 and statsmodels; driftscope in
.venv). Both see the same rows and the same consecutive chunks. Realized
performance per chunk is computed here with scikit-learn from the analysis
targets; the figure reported is the mean absolute error between estimated
and realized per chunk, beside each side's fit + estimate wall time.

Run:  .venv/bin/python benchmarks/estimation/run.py [--quick] [--chunk-size 5000]
Set up the peers' environment once:
    python3 -m venv benchmarks/.venv-peers
    benchmarks/.venv-peers/bin/pip install nannyml 'pandas<3' statsmodels
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import DATASETS  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PEERS = ROOT / "benchmarks" / ".venv-peers" / "bin" / "python"


def realized(name: str, frame: pd.DataFrame, metric: str) -> float:
    spec = DATASETS[name]
    y, pred = frame[spec["target"]].to_numpy(), frame["y_pred"].to_numpy()
    if spec["task"] == "regression":
        fn = {
            "mae": skm.mean_absolute_error,
            "mse": skm.mean_squared_error,
            "rmse": skm.root_mean_squared_error,
            "mape": skm.mean_absolute_percentage_error,
        }[metric]
        return float(fn(y, pred))
    binary = spec["task"] == "binary"
    avg = "binary" if binary else "macro"
    if metric == "roc_auc":
        if binary:
            return float(skm.roc_auc_score(y, frame[spec["scores"]]))
        labels = sorted(spec["classes"])  # scikit-learn wants them ordered
        proba = frame[[spec["scores"][c] for c in labels]].to_numpy()
        return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels))
    if metric == "accuracy":
        return float(skm.accuracy_score(y, pred))
    if metric == "specificity":
        mcm = skm.multilabel_confusion_matrix(y, pred, labels=spec["classes"])
        spec_c = mcm[:, 0, 0] / (mcm[:, 0, 0] + mcm[:, 0, 1])
        return float(spec_c[1] if binary else spec_c.mean())
    fn = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score}[metric]
    return float(fn(y, pred, average=avg, zero_division=0.0))


def side(cmd: list[str], result: Path) -> dict:
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1"}
    done = subprocess.run(
        [*cmd, "--result", str(result)], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{cmd[1]} failed:\n{done.stderr[-3000:]}")
    sys.stderr.write(done.stderr)
    return json.loads(result.read_text())["results"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunk-size", type=int, default=5000)
    ap.add_argument("--quick", action="store_true", help="car_loan and car_price only")
    ap.add_argument("--datasets", nargs="*", choices=list(DATASETS), default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/estimation.json")
    args = ap.parse_args()
    names = ["car_loan", "car_price"] if args.quick else list(DATASETS)
    if args.datasets:
        names = args.datasets
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        common = ["--data", str(data), "--chunk-size", str(args.chunk_size), "--datasets", *names]
        nml = side([str(PEERS), str(HERE / "nannyml_side.py"), *common], data / "nml.json")
        ds = side([sys.executable, str(HERE / "driftscope_side.py"), *common], data / "ds.json")
        report = {}
        for name in names:
            analysis = pd.read_parquet(data / f"{name}_analysis.parquet")
            chunks = ds[name]["chunks"]
            if chunks != nml[name]["chunks"]:
                raise SystemExit(f"{name}: the two sides chunked differently")
            row = {
                "nannyml_s": nml[name]["seconds"],
                "driftscope_s": ds[name]["seconds"],
                "chunks": len(chunks),
                "metrics": {},
            }
            for m in DATASETS[name]["metrics"]:
                real = np.array([realized(name, analysis.iloc[s : e + 1], m) for s, e in chunks])
                mae_n = float(np.mean(np.abs(np.array(nml[name]["estimates"][m]) - real)))
                mae_d = float(np.mean(np.abs(np.array(ds[name]["estimates"][m]) - real)))
                row["metrics"][m] = {"nannyml_mae": mae_n, "driftscope_mae": mae_d}
            report[name] = row
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"chunk_size": args.chunk_size, "results": report}, indent=1))
    print(f"chunk size {args.chunk_size}; MAE |estimated - realized| per chunk")
    print(f"{'dataset':11} {'metric':12} {'NannyML':>9} {'driftscope':>10}")
    for name, row in report.items():
        for m, v in row["metrics"].items():
            print(f"{name:11} {m:12} {v['nannyml_mae']:9.4f} {v['driftscope_mae']:10.4f}")
        speed = row["nannyml_s"] / row["driftscope_s"]
        print(
            f"{name:11} {'wall time':12} {row['nannyml_s']:8.2f}s {row['driftscope_s']:9.3f}s"
            f"  ({speed:.1f}x)"
        )


if __name__ == "__main__":
    main()
