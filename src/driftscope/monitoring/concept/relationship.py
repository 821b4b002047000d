"""Relationship change: which inputs now matter differently for the target.

Per labeled chunk, and once on the whole reference, two model-agnostic
figures per feature:

- ``importance``: permutation importance of a surrogate model
  (``HistGradientBoosting``, fitted on 70 % of the chunk's labeled rows,
  permuted on the other 30 %, ``n_repeats`` times), as a share of the total
  so chunks of different difficulty compare. The user's model is not needed.
- ``association``: feature-target association on the labeled rows: Spearman's
  rho (numeric feature, numeric or binary target), the correlation ratio eta
  (one side categorical, the other numeric) or Cramer's V (both categorical).

Rows are ``importance_shift`` and ``association_shift`` (chunk minus
reference, method ``relationship``). Bounds are learned from the reference's
own chunks (mean +/- ``threshold_std`` std of their shifts) unless the user
sets them. :func:`rank_features` orders features by how far their relation
moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, spearmanr
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.inspection import permutation_importance
from sklearn.model_selection import train_test_split

from driftscope.errors import ValidationError
from driftscope.monitoring.base import Calculator
from driftscope.monitoring.chunking import Chunk, chunker_from_options
from driftscope.monitoring.performance.base import make_row
from driftscope.monitoring.performance.error_model import FeatureEncoder
from driftscope.monitoring.result import Result
from driftscope.monitoring.thresholds import (
    ConstantThreshold,
    StandardDeviationThreshold,
    Threshold,
    make_threshold,
)

FIGURES = ("importance", "association")


def association(x: pd.Series, y: pd.Series, x_cat: bool, y_cat: bool) -> float:
    """Spearman's rho, correlation ratio or Cramer's V (see the module docstring)."""
    ok = x.notna() & y.notna()
    x, y = x[ok], y[ok]
    if len(x) < 3 or x.nunique() < 2 or y.nunique() < 2:
        return float("nan")
    if x_cat and y_cat:
        table_ = pd.crosstab(x.astype(str), y.astype(str)).to_numpy()
        stat = chi2_contingency(table_, correction=False)[0]
        k = min(table_.shape) - 1
        return float(np.sqrt(stat / (table_.sum() * k))) if k > 0 else float("nan")
    if x_cat or y_cat:
        groups, values = (x, y) if x_cat else (y, x)
        v = values.to_numpy(dtype=np.float64)
        total = ((v - v.mean()) ** 2).sum()
        means = pd.Series(v).groupby(groups.astype(str).to_numpy()).agg(["mean", "size"])
        between = float((means["size"] * (means["mean"] - v.mean()) ** 2).sum())
        return float(np.sqrt(between / total)) if total > 0 else float("nan")
    rho = spearmanr(x.to_numpy(dtype=np.float64), y.to_numpy(dtype=np.float64))[0]
    return float(rho)


class RelationshipChange(Calculator):
    """Permutation-importance and association shifts per labeled chunk.

    Parameters
    ----------
    task : ``binary_classification``, ``multiclass_classification`` or ``regression``.
    features, y_true : input and target columns.
    n_repeats : permutations per feature.
    max_rows : rows per chunk the surrogate uses (a seeded sample above it).
    min_rows : chunks with fewer labeled rows get NaN.
    chunker, timestamp_column, chunk_size, chunk_number, chunk_period : chunking.
    thresholds : ``{"importance_shift" | "association_shift": Threshold | dict |
        (lower, upper)}`` for every feature; default: mean +/- 3 std of the
        reference chunks' shifts.
    """

    method = "relationship"

    def __init__(
        self,
        *,
        task: str,
        features: Sequence[str],
        y_true: str,
        chunker: Any = None,
        timestamp_column: str | None = None,
        chunk_size: int | None = None,
        chunk_number: int | None = None,
        chunk_period: str | None = None,
        thresholds: dict[str, Any] | None = None,
        n_repeats: int = 3,
        max_rows: int = 5000,
        min_rows: int = 200,
        seed: int = 0,
    ) -> None:
        if chunker is None and (chunk_size or chunk_number or chunk_period):
            chunker = chunker_from_options(
                chunk_size=chunk_size,
                chunks=chunk_number,
                chunk_period=chunk_period,
                timestamp_column=timestamp_column,
            )
        super().__init__(chunker=chunker, timestamp_column=timestamp_column)
        if not features:
            raise ValidationError("relationship change needs feature columns")
        self.task, self.features, self.y_true = task, list(features), y_true
        self.thresholds: dict[str, Threshold] = {}
        for metric, spec in (thresholds or {}).items():
            if metric not in ("importance_shift", "association_shift"):
                raise ValidationError(
                    f"threshold for {metric!r}: use importance_shift or association_shift"
                )
            self.thresholds[metric] = (
                ConstantThreshold(*spec) if isinstance(spec, tuple) else make_threshold(spec)
            )
        self.n_repeats = n_repeats
        self.max_rows, self.min_rows, self.seed = max_rows, min_rows, seed
        self.reference_figures: dict[str, dict[str, float]] = {}
        self.bounds: dict[str, tuple[float | None, float | None]] = {}
        self._reference_rows: list[dict[str, Any]] = []

    def required_columns(self) -> list[str]:
        return [*self.features, self.y_true]

    def _figures(self, frame: pd.DataFrame) -> dict[str, dict[str, float]]:
        labeled = frame[frame[self.y_true].notna()]
        nan = {f: float("nan") for f in self.features}
        if len(labeled) < self.min_rows:
            return {"importance": dict(nan), "association": dict(nan)}
        if len(labeled) > self.max_rows:
            labeled = labeled.sample(self.max_rows, random_state=self.seed)
        x = self.encoder.transform(labeled[self.features])
        y = labeled[self.y_true].to_numpy()
        classify = self.task != "regression"
        mask = self.encoder.categorical_mask
        params: dict[str, Any] = {"max_iter": 60, "random_state": self.seed}
        if mask.any():
            params["categorical_features"] = mask
        model = (HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor)(
            **params
        )
        strat = y if classify and pd.Series(y).value_counts().min() >= 2 else None
        x_tr, x_te, y_tr, y_te = train_test_split(
            x, y, test_size=0.3, random_state=self.seed, stratify=strat
        )
        model.fit(x_tr, y_tr)
        imp = permutation_importance(
            model, x_te, y_te, n_repeats=self.n_repeats, random_state=self.seed
        ).importances_mean
        imp = np.clip(imp, 0.0, None)
        share = imp / imp.sum() if imp.sum() > 0 else np.zeros_like(imp)
        y_series = labeled[self.y_true]
        y_cat = self.task == "multiclass_classification"
        assoc = {
            f: association(labeled[f], y_series, bool(mask[j]), y_cat)
            for j, f in enumerate(self.features)
        }
        return {
            "importance": dict(zip(self.features, share.tolist(), strict=True)),
            "association": assoc,
        }

    def _fit(self, reference: pd.DataFrame) -> None:
        self.encoder = FeatureEncoder().fit(reference[self.features])
        self.reference_figures = self._figures(reference)
        chunks = self.chunker.split(reference)
        per_chunk = [self._figures(reference.iloc[c.positions]) for c in chunks]
        self.bounds = {}
        for fig in FIGURES:
            metric = f"{fig}_shift"
            threshold = self.thresholds.get(metric, StandardDeviationThreshold())
            for f in self.features:
                shifts = [p[fig][f] - self.reference_figures[fig][f] for p in per_chunk]
                self.bounds[f"{metric}:{f}"] = threshold.bounds(shifts)
        self._reference_rows = self._rows(reference, chunks, per_chunk)

    def _rows(
        self,
        frame: pd.DataFrame,
        chunks: list[Chunk],
        figures: list[dict[str, dict[str, float]]],
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for chunk, figs in zip(chunks, figures, strict=True):
            n_labeled = int(frame[self.y_true].iloc[chunk.positions].notna().sum())
            for fig in FIGURES:
                metric = f"{fig}_shift"
                for f in self.features:
                    rows.append(
                        make_row(
                            chunk,
                            column=f,
                            method=self.method,
                            metric=metric,
                            value=figs[fig][f] - self.reference_figures[fig][f],
                            bounds=self.bounds.get(f"{metric}:{f}", (None, None)),
                            n_labeled=n_labeled,
                            se=float("nan"),
                            z=0.0,
                        )
                    )
        return rows

    def _calculate(self, analysis: pd.DataFrame) -> Result:
        chunks = self.chunker.split(analysis)
        figures = [self._figures(analysis.iloc[c.positions]) for c in chunks]
        return Result(self._rows(analysis, chunks, figures), reference=self._reference_rows)


def rank_features(result: Result | pd.DataFrame) -> pd.DataFrame:
    """Features by alert count, then largest absolute importance shift."""
    data = result.data if isinstance(result, Result) else result
    rel = data[data.method == RelationshipChange.method].copy()
    rel["magnitude"] = rel["value"].abs()
    imp = rel[rel.metric == "importance_shift"].groupby("column")["magnitude"].max()
    out = pd.DataFrame(
        {
            "alerts": rel.groupby("column")["alert"].sum(),
            "max_importance_shift": imp,
            "max_association_shift": rel[rel.metric == "association_shift"]
            .groupby("column")["magnitude"]
            .max(),
        }
    ).fillna(0.0)
    return out.sort_values(["alerts", "max_importance_shift"], ascending=False)
