"""Synthetic reference and analysis tables: 20 continuous + 5 categorical columns.

The analysis table drifts in its second half: three continuous columns
shift (mean, scale, a mixture) and two categorical columns change shares;
the other columns keep the reference distribution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

N_CONTINUOUS, N_CATEGORICAL = 20, 5
CONTINUOUS = [f"num_{i:02d}" for i in range(N_CONTINUOUS)]
CATEGORICAL = [f"cat_{i}" for i in range(N_CATEGORICAL)]


def _table(n: int, rng: np.random.Generator, drift: bool) -> pd.DataFrame:
    cols: dict[str, np.ndarray] = {}
    late = np.arange(n) >= n // 2 if drift else np.zeros(n, dtype=bool)
    for i, name in enumerate(CONTINUOUS):
        if i % 3 == 0:
            x = rng.normal(10.0 * i, 1.0 + i / 10, n)
        elif i % 3 == 1:
            x = rng.gamma(2.0 + i / 5, 1.5, n)
        else:
            x = rng.lognormal(0.0, 0.5, n)
        if drift and i == 0:
            x[late] += 0.3
        if drift and i == 1:
            x[late] *= 1.2
        if drift and i == 2:
            x[late] = np.where(rng.random(late.sum()) < 0.2, x[late] + 2.0, x[late])
        x[rng.random(n) < 0.01] = np.nan
        cols[name] = x
    for j, name in enumerate(CATEGORICAL):
        k = 3 + 2 * j
        levels = np.array([f"{name}_v{v}" for v in range(k)])
        p = np.linspace(2.0, 1.0, k)
        p /= p.sum()
        values = rng.choice(levels, n, p=p)
        if drift and j < 2:
            q = p[::-1]
            values[late] = rng.choice(levels, late.sum(), p=q)
        cols[name] = values
    return pd.DataFrame(cols)


def generate(rows: int, out: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write ``reference.parquet`` and ``analysis.parquet`` of ``rows`` rows each under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    ref_path, new_path = out / "reference.parquet", out / "analysis.parquet"
    rng = np.random.default_rng(seed)
    _table(rows, rng, drift=False).to_parquet(ref_path, index=False)
    _table(rows, rng, drift=True).to_parquet(new_path, index=False)
    return ref_path, new_path
