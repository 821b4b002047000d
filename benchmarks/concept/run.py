"""Streaming detectors on river's synthetic concept-drift streams: delay and false alarms.

A model is trained once on the first concept (as a deployed model is) and
kept fixed; each stream switches concept at a known position
(``river.datasets.synth.ConceptDriftStream``, abrupt or gradual). The fixed
model's per-record 0/1 error stream goes to each driftscope streaming
detector. Reported per stream x detector, over seeds:

- detection rate: share of runs with a detection at or after the drift start;
- delay: records from the drift start to the first detection after it (median, mean);
- false alarms per 10k records: detections before the drift start, per 10,000
  pre-drift records.

Run:  .venv/bin/python benchmarks/concept/run.py [--quick] [--out benchmarks/results/concept.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from river.datasets import synth
from sklearn.ensemble import HistGradientBoostingClassifier

from driftscope.monitoring.concept.streaming import DETECTORS, StreamingDetector

STREAMS: dict[str, Any] = {
    "sea_0_to_3": (
        lambda s: synth.SEA(variant=0, noise=0.1, seed=s),
        lambda s: synth.SEA(variant=3, noise=0.1, seed=s + 1000),
    ),
    "agrawal_0_to_2": (
        lambda s: synth.Agrawal(classification_function=0, seed=s),
        lambda s: synth.Agrawal(classification_function=2, seed=s + 1000),
    ),
    "agrawal_1_to_4": (
        lambda s: synth.Agrawal(classification_function=1, seed=s),
        lambda s: synth.Agrawal(classification_function=4, seed=s + 1000),
    ),
}


def _matrix(rows: list[dict[str, Any]]) -> np.ndarray:
    keys = sorted(rows[0])
    return np.array([[float(r[k]) for k in keys] for r in rows])


def drifting(old: Any, new: Any, n: int, position: int, width: int, seed: int) -> Any:
    """River's ``ConceptDriftStream`` mixing (sigmoid of ``-4 (i - position) / width``).

    Written out because river's own overflows in ``math.exp`` for an abrupt
    drift (``width=1``) far from the drift position.
    """
    rng = np.random.default_rng(seed)
    a, b = iter(old), iter(new)
    for i in range(n):
        z = float(np.clip(-4.0 * (i - position) / width, -700, 700))
        p_new = 1.0 / (1.0 + np.exp(z))
        yield next(b) if rng.random() < p_new else next(a)


def error_stream(name: str, seed: int, n: int, position: int, width: int) -> np.ndarray:
    """0/1 errors of a model fitted on the first concept, over a drifting stream."""
    first, second = STREAMS[name]
    train = list(itertools.islice(first(seed + 5000), 5000))
    model = HistGradientBoostingClassifier(random_state=0).fit(
        _matrix([x for x, _ in train]), [y for _, y in train]
    )
    rows = list(drifting(first(seed), second(seed), n, position, width, seed))
    pred = model.predict(_matrix([x for x, _ in rows]))
    return (pred != np.array([y for _, y in rows])).astype(float)


def evaluate(errors: np.ndarray, method: str, start: int) -> dict[str, Any]:
    hits = [h.index for h in StreamingDetector(method).run(errors)]
    before = [i for i in hits if i < start]
    after = [i for i in hits if i >= start]
    return {"false_alarms": len(before), "delay": (after[0] - start) if after else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2 seeds, shorter streams")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/concept.json"))
    args = ap.parse_args()
    seeds = 2 if args.quick else args.seeds
    n, position = (10_000, 5_000) if args.quick else (40_000, 20_000)
    results = []
    t0 = time.perf_counter()
    for name, width in itertools.product(STREAMS, (1, 2000)):
        runs: dict[str, list[dict[str, Any]]] = {m: [] for m in DETECTORS}
        base_err, drift_err = [], []
        for seed in range(seeds):
            errors = error_stream(name, seed, n, position, width)
            base_err.append(errors[:position].mean())
            drift_err.append(errors[position + width :].mean())
            for method in DETECTORS:
                runs[method].append(evaluate(errors, method, position - width // 2))
        for method, rs in runs.items():
            delays = [r["delay"] for r in rs if r["delay"] is not None]
            fa = sum(r["false_alarms"] for r in rs)
            results.append(
                {
                    "stream": name,
                    "width": width,
                    "detector": method,
                    "runs": len(rs),
                    "error_before": round(float(np.mean(base_err)), 4),
                    "error_after": round(float(np.mean(drift_err)), 4),
                    "detection_rate": len(delays) / len(rs),
                    "median_delay": float(np.median(delays)) if delays else None,
                    "mean_delay": float(np.mean(delays)) if delays else None,
                    "false_alarms_per_10k": round(
                        fa / (len(rs) * (position - width // 2)) * 1e4, 3
                    ),
                }
            )
    elapsed = time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "seeds": seeds,
                "n": n,
                "position": position,
                "elapsed_s": elapsed,
                "results": results,
            },
            indent=1,
        )
    )
    header = f"{'stream':16} {'width':>5} {'detector':13} {'err0':>6} {'err1':>6} {'det':>5} "
    print(header + f"{'med.delay':>9} {'FA/10k':>7}")
    for r in results:
        med = "-" if r["median_delay"] is None else f"{r['median_delay']:.0f}"
        print(
            f"{r['stream']:16} {r['width']:>5} {r['detector']:13} {r['error_before']:6.3f} "
            f"{r['error_after']:6.3f} {r['detection_rate']:5.2f} {med:>9} "
            f"{r['false_alarms_per_10k']:7.2f}"
        )
    print(f"elapsed {elapsed:.1f} s; written {args.out}")


if __name__ == "__main__":
    main()
