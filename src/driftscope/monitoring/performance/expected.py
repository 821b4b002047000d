"""Confidence-based performance estimation (CBPE) over arrays.

Once the scores are calibrated, a row whose calibrated probability of class
``c`` is ``p_c`` counts as ``p_c`` of a row of true class ``c``. Summing over
a chunk gives an *expected* confusion matrix, ``E[C[c, j]] = sum of p_c over
the rows predicted j``, and every label metric follows from it with the same
code as realized performance. ROC-AUC and PR-AUC come from the expected
curves (rows ranked by the model's own score, weighted by the calibrated
probabilities); log-loss is the expected cross-entropy of the raw scores.

The estimate is an expectation under the reference's relation between
scores and outcomes: it follows covariate shift (the scores move with the
inputs) but it cannot see concept shift, where ``P(y | x)`` changes and the
scores do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftscope.errors import MonitoringError
from driftscope.monitoring.performance.calibration import Calibrator
from driftscope.monitoring.performance.classification import (
    LABEL_METRICS,
    classification_metrics,
    label_indices,
    metrics_from_confusion,
    proba_matrix,
    score_metrics,
    split_metric,
)
from driftscope.monitoring.performance.sampling_error import (
    SamplingError,
    classification_sampling_error,
)

CBPE_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "specificity",
    "roc_auc",
    "pr_auc",
    "log_loss",
)


def expected_confusion(proba: np.ndarray, pred_idx: np.ndarray) -> np.ndarray:
    """Expected confusion matrix (true classes in rows) from calibrated probabilities."""
    k = proba.shape[1]
    cm = np.zeros((k, k), dtype=np.float64)
    for j in range(k):
        rows = pred_idx == j
        if rows.any():
            cm[:, j] = proba[rows].sum(axis=0)
    return cm


def estimate_metrics(
    calibrated: np.ndarray,
    raw: np.ndarray,
    pred_idx: np.ndarray,
    metrics: Sequence[str],
    *,
    positive: int | None,
    zero_division: float = 0.0,
) -> dict[str, float]:
    """Estimated metrics for one chunk from calibrated and raw (n, k) scores."""
    label = [m for m in metrics if split_metric(m)[0] in LABEL_METRICS]
    other = [m for m in metrics if split_metric(m)[0] not in LABEL_METRICS]
    out: dict[str, float] = {}
    if len(pred_idx) == 0:
        return {m: float("nan") for m in metrics}
    if label:
        cm = expected_confusion(calibrated, pred_idx)
        out.update(
            metrics_from_confusion(cm, label, positive=positive, zero_division=zero_division)
        )
    if other:
        out.update(score_metrics(calibrated, raw, other, positive=positive, rank_score=raw))
    return {m: out[m] for m in metrics}


@dataclass
class CBPEEstimator:
    """CBPE over arrays: fit on reference labels and scores, estimate from scores alone.

    Parameters
    ----------
    classes : every class, in the order of the score columns.
    metrics : metric names (see :mod:`driftscope.monitoring.performance.classification`);
        ``calibration_error`` cannot be estimated.
    positive_class : binary tasks: the class the bare metric names refer to.
    calibration : ``"auto"`` (see :mod:`.calibration`), ``"always"`` or ``"never"``.
    """

    classes: Sequence[Any]
    metrics: Sequence[str] = ("roc_auc", "f1", "accuracy")
    positive_class: Any = None
    calibration: str = "auto"
    zero_division: float = 0.0
    seed: int = 0
    calibrator: Calibrator = field(init=False, repr=False)
    sampling_error: SamplingError = field(init=False, repr=False)
    reference_values: dict[str, float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.classes = list(self.classes)
        if len(self.classes) < 2:
            raise MonitoringError("CBPE needs at least two classes")
        bad = [m for m in self.metrics if split_metric(m)[0] not in CBPE_METRICS]
        if bad:
            raise MonitoringError(f"CBPE cannot estimate {bad}; valid: {CBPE_METRICS}")
        if self.calibration not in ("auto", "always", "never"):
            raise MonitoringError(
                f"calibration must be auto, always or never, not {self.calibration!r}"
            )
        self.positive = None
        if len(self.classes) == 2:
            pc = self.positive_class
            self.positive = self.classes.index(pc) if pc is not None else 1

    def fit(self, y_true: Any, y_pred: Any, y_score: Any) -> CBPEEstimator:
        k = len(self.classes)
        proba = proba_matrix(y_score, k)
        onehot = np.eye(k)[label_indices(y_true, self.classes)]
        self.calibrator = Calibrator(mode=self.calibration, seed=self.seed).fit(
            onehot, proba, positive=self.positive
        )
        self.sampling_error = classification_sampling_error(
            y_true,
            y_pred,
            proba,
            classes=self.classes,
            metrics=self.metrics,
            positive_class=self.positive_class,
            seed=self.seed,
        )
        self.reference_values = classification_metrics(
            y_true,
            y_pred,
            proba,
            classes=self.classes,
            metrics=self.metrics,
            positive_class=self.positive_class,
            zero_division=self.zero_division,
        )
        return self

    def estimate(self, y_pred: Any, y_score: Any) -> dict[str, float]:
        """Estimated metrics for one chunk of predictions and scores."""
        return self.estimate_prepared(*self.prepare(y_pred, y_score))

    def prepare(self, y_pred: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated scores, raw scores and predicted-class indices of a whole frame.

        Row-wise, so a chunk's estimate is :meth:`estimate_prepared` on the
        chunk's rows of these arrays: calibrating once serves every chunk.
        """
        raw = proba_matrix(y_score, len(self.classes))
        return self.calibrator.transform(raw), raw, label_indices(y_pred, self.classes)

    def estimate_prepared(
        self, calibrated: np.ndarray, raw: np.ndarray, pred_idx: np.ndarray
    ) -> dict[str, float]:
        """Estimated metrics from the rows of :meth:`prepare`'s arrays."""
        return estimate_metrics(
            calibrated,
            raw,
            pred_idx,
            self.metrics,
            positive=self.positive,
            zero_division=self.zero_division,
        )

    def expected_confusion(self, y_pred: Any, y_score: Any) -> np.ndarray:
        """Expected confusion matrix of one chunk (true classes in rows)."""
        raw = proba_matrix(y_score, len(self.classes))
        return expected_confusion(
            self.calibrator.transform(raw), label_indices(y_pred, self.classes)
        )
