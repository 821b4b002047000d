"""Score calibration for CBPE: a documented check, then isotonic regression when it helps.

CBPE reads a calibrated score as the probability that the row is positive, so
the scores must be calibrated on the reference before they are used. The
check, per class (one-vs-rest):

1. Scores outside [0, 1] are not probabilities: calibrate.
2. A class that is never or always present in the reference cannot be
   calibrated: keep its scores.
3. A goodness-of-fit test over ``n_bins`` equal-width score bins (the
   Hosmer-Lemeshow statistic ``sum (O - E)^2 / (E (1 - E / n))`` with one
   degree of freedom per non-empty bin, since nothing was fitted): when its
   p-value is at least ``alpha`` (0.01), the scores are consistent with
   being calibrated and are kept.
4. Otherwise, over ``folds`` stratified folds of the reference, fit isotonic
   regression on the other folds and compare the expected calibration error
   (same bins) of the held-out fold before and after. Calibrate only when the
   held-out error after calibration is lower on average (NannyML's rule, with
   k-fold instead of shuffle splits).

Step 3 exists because on calibrated scores step 4 alone is a coin toss
(isotonic wins about half of the time by noise); keeping such scores keeps
their full resolution.

Multiclass scores calibrated per class are renormalised to sum to one per row.

The isotonic fits are scikit-learn's pool-adjacent-violators
(:func:`sklearn.isotonic.isotonic_regression`) on the distinct scores, which
are sorted once per class and reused by every fold; prediction interpolates
linearly between the fitted points and clips outside them, as
``IsotonicRegression(out_of_bounds="clip")`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import chi2
from sklearn.isotonic import isotonic_regression
from sklearn.model_selection import StratifiedKFold

from driftscope.monitoring.performance.classification import calibration_error


@dataclass
class CalibrationCheck:
    """What the check saw for one class."""

    calibrate: bool
    reason: str
    ece_raw: float = float("nan")
    ece_calibrated: float = float("nan")


@dataclass(frozen=True)
class IsotonicCurve:
    """A fitted non-decreasing map: linear between ``x`` (ascending) and clipped outside."""

    x: np.ndarray
    y: np.ndarray

    def predict(self, score: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(score, dtype=np.float64), self.x, self.y)


def isotonic_sorted(score: np.ndarray, y: np.ndarray) -> IsotonicCurve:
    """Isotonic regression of ``y`` on ``score``, both ordered by ascending ``score``.

    Rows sharing a score are pooled (their mean, weighted by their count)
    before pool-adjacent-violators, with the fit bounded to [0, 1].
    """
    if not np.all(np.isfinite(score)):
        raise ValueError("isotonic calibration needs finite scores")
    starts = np.r_[0, np.flatnonzero(np.diff(score) > 0) + 1]
    counts = np.diff(np.r_[starts, len(score)]).astype(np.float64)
    means = np.add.reduceat(y.astype(np.float64), starts) / counts
    fitted = isotonic_regression(means, sample_weight=counts, y_min=0.0, y_max=1.0)
    return IsotonicCurve(score[starts].astype(np.float64), np.asarray(fitted, dtype=np.float64))


def fit_isotonic(score: np.ndarray, y: np.ndarray) -> IsotonicCurve:
    """Isotonic regression of ``y`` (in {0, 1}) on ``score``, in any order."""
    order = np.argsort(score, kind="stable")
    return isotonic_sorted(score[order], y[order])


def calibration_p_value(y: np.ndarray, score: np.ndarray, n_bins: int = 10) -> float:
    """p-value of the binned goodness-of-fit test of step 3."""
    bins = np.clip((score * n_bins).astype(np.int64), 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    expected = np.bincount(bins, weights=score, minlength=n_bins)
    observed = np.bincount(bins, weights=y.astype(np.float64), minlength=n_bins)
    var = expected * (1.0 - expected / np.where(count > 0, count, 1.0))
    ok = (count > 0) & (var > 0)
    stat = float(np.sum((observed[ok] - expected[ok]) ** 2 / var[ok]))
    return float(chi2.sf(stat, int(ok.sum()))) if ok.any() else 1.0


def needs_calibration(
    y: np.ndarray,
    score: np.ndarray,
    *,
    folds: int = 5,
    n_bins: int = 10,
    alpha: float = 0.01,
    seed: int = 0,
) -> CalibrationCheck:
    """Apply the check of the module docstring to one class (``y`` in {0, 1})."""
    if np.any(score < 0) or np.any(score > 1):
        return CalibrationCheck(True, "scores outside [0, 1]")
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        return CalibrationCheck(False, "class always or never present in the reference")
    n_splits = min(folds, n_pos, len(y) - n_pos)
    if n_splits < 2:
        return CalibrationCheck(False, "too few rows of one class to check")
    p_value = calibration_p_value(y, score, n_bins)
    if p_value >= alpha:
        return CalibrationCheck(
            False, f"scores are consistent with calibration (goodness-of-fit p={p_value:.3g})"
        )
    raw, cal = [], []
    order = np.argsort(score, kind="stable")
    sorted_score, sorted_y = score[order], y[order]
    in_train = np.empty(len(y), dtype=bool)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros((len(y), 1)), y):
        in_train[:] = False
        in_train[train] = True
        keep = in_train[order]
        iso = isotonic_sorted(sorted_score[keep], sorted_y[keep])
        raw.append(calibration_error(y[test].astype(float), score[test], n_bins))
        cal.append(calibration_error(y[test].astype(float), iso.predict(score[test]), n_bins))
    ece_raw, ece_cal = float(np.mean(raw)), float(np.mean(cal))
    if ece_cal < ece_raw:
        return CalibrationCheck(
            True, "held-out calibration error is lower after isotonic", ece_raw, ece_cal
        )
    return CalibrationCheck(
        False,
        "scores are calibrated: isotonic does not lower the held-out calibration error",
        ece_raw,
        ece_cal,
    )


@dataclass
class Calibrator:
    """Per-class isotonic calibration, fitted on the reference.

    Parameters
    ----------
    mode : ``"auto"`` (the check decides), ``"always"`` or ``"never"``.
    """

    mode: str = "auto"
    folds: int = 5
    n_bins: int = 10
    seed: int = 0
    checks: list[CalibrationCheck] = field(default_factory=list)
    _models: list[IsotonicCurve | None] = field(default_factory=list, repr=False)

    positive: int | None = None

    def fit(self, onehot: np.ndarray, proba: np.ndarray, positive: int | None = None) -> Calibrator:
        """Fit on reference one-hot labels (n, k) and scores (n, k).

        ``positive``: binary tasks check and calibrate this column only; the
        other column becomes its complement.
        """
        self.checks, self._models = [], []
        self.positive = positive
        columns = [positive] if positive is not None else range(proba.shape[1])
        for c in columns:
            y, s = onehot[:, c], proba[:, c]
            if self.mode == "never":
                check = CalibrationCheck(False, "calibration turned off")
            elif self.mode == "always" and 0 < y.sum() < len(y):
                check = CalibrationCheck(True, "calibration forced")
            else:
                check = needs_calibration(
                    y, s, folds=self.folds, n_bins=self.n_bins, seed=self.seed
                )
            self.checks.append(check)
            self._models.append(fit_isotonic(s, y) if check.calibrate else None)
        return self

    @property
    def calibrated(self) -> bool:
        return any(m is not None for m in self._models)

    def transform(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (n, k), rows summing to one when k > 2."""
        if not self.calibrated:
            return proba
        if self.positive is not None:
            model = self._models[0]
            if model is None:
                return proba
            out = np.empty_like(proba, dtype=np.float64)
            out[:, self.positive] = model.predict(proba[:, self.positive])
            out[:, 1 - self.positive] = 1.0 - out[:, self.positive]
            return out
        out = np.column_stack(
            [
                m.predict(proba[:, c]) if m is not None else proba[:, c]
                for c, m in enumerate(self._models)
            ]
        )
        total = out.sum(axis=1, keepdims=True)
        uniform = np.full_like(out, 1.0 / out.shape[1])
        return np.where(total > 0, out / np.where(total > 0, total, 1.0), uniform)

    def report(self, classes: Sequence[Any]) -> list[dict[str, Any]]:
        """One dict per checked class: class, calibrated, reason, ece_raw, ece_calibrated."""
        if self.positive is not None:
            classes = [classes[self.positive]]
        return [
            {
                "class": cls,
                "calibrated": ch.calibrate,
                "reason": ch.reason,
                "ece_raw": ch.ece_raw,
                "ece_calibrated": ch.ece_calibrated,
            }
            for cls, ch in zip(classes, self.checks, strict=True)
        ]
