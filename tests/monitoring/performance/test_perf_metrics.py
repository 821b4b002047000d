"""Realized metrics equal scikit-learn's on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from driftscope.errors import MonitoringError
from driftscope.monitoring.performance.classification import (
    classification_metrics,
    confusion_matrix,
)
from driftscope.monitoring.performance.regression import regression_metrics


def _binary(seed: int, n: int = 3000):
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 3, n)
    y = (rng.random(n) < p).astype(int)
    pred = (p > 0.4).astype(int)
    return y, pred, p


def _multiclass(seed: int, n: int = 3000, k: int = 4):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    classes = np.array(["a", "b", "c", "d"][:k])
    y = np.array([rng.choice(classes, p=row) for row in proba])
    pred = classes[proba.argmax(axis=1)]
    return y, pred, proba, list(classes)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_equal_sklearn(seed: int) -> None:
    y, pred, p = _binary(seed)
    names = [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "specificity",
        "roc_auc",
        "pr_auc",
        "log_loss",
        "f1_macro",
        "f1_micro",
        "f1_weighted",
        "precision_macro",
        "recall_weighted",
        "roc_auc_macro",
    ]
    got = classification_metrics(y, pred, p, classes=[0, 1], metrics=names)
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "f1": skm.f1_score(y, pred),
        "specificity": skm.recall_score(y, pred, pos_label=0),
        "roc_auc": skm.roc_auc_score(y, p),
        "pr_auc": skm.average_precision_score(y, p),
        "log_loss": skm.log_loss(y, p),
        "f1_macro": skm.f1_score(y, pred, average="macro"),
        "f1_micro": skm.f1_score(y, pred, average="micro"),
        "f1_weighted": skm.f1_score(y, pred, average="weighted"),
        "precision_macro": skm.precision_score(y, pred, average="macro"),
        "recall_weighted": skm.recall_score(y, pred, average="weighted"),
        "roc_auc_macro": skm.roc_auc_score(y, p, average="macro"),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_binary_positive_class_and_string_labels() -> None:
    y, pred, p = _binary(5)
    ys = np.where(y == 1, "yes", "no")
    ps = np.where(pred == 1, "yes", "no")
    got = classification_metrics(
        ys,
        ps,
        1 - p,
        classes=["yes", "no"],
        positive_class="no",
        metrics=["precision", "recall", "roc_auc"],
    )
    assert got["precision"] == pytest.approx(skm.precision_score(ys, ps, pos_label="no"))
    assert got["recall"] == pytest.approx(skm.recall_score(ys, ps, pos_label="no"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(ys == "no", 1 - p))


def test_roc_auc_with_ties_equals_sklearn() -> None:
    rng = np.random.default_rng(3)
    score = rng.integers(0, 5, 500) / 4
    y = (rng.random(500) < score * 0.8 + 0.1).astype(int)
    got = classification_metrics(
        y, (score > 0.5).astype(int), score, classes=[0, 1], metrics=["roc_auc", "pr_auc"]
    )
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, score), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_multiclass_metrics_equal_sklearn(seed: int) -> None:
    y, pred, proba, classes = _multiclass(seed)
    got = classification_metrics(
        y,
        pred,
        proba,
        classes=classes,
        metrics=[
            "accuracy",
            "f1",
            "f1_micro",
            "f1_weighted",
            "precision",
            "precision_weighted",
            "recall",
            "recall_micro",
            "roc_auc",
            "roc_auc_weighted",
            "log_loss",
            "specificity",
            "specificity_weighted",
            "specificity_micro",
            "pr_auc",
        ],
    )
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for avg, suffix in (("macro", ""), ("micro", "_micro"), ("weighted", "_weighted")):
        if f"f1{suffix}" in got:
            assert got[f"f1{suffix}"] == pytest.approx(skm.f1_score(y, pred, average=avg))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert got["precision_weighted"] == pytest.approx(
        skm.precision_score(y, pred, average="weighted")
    )
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert got["recall_micro"] == pytest.approx(skm.recall_score(y, pred, average="micro"))
    assert got["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
    )
    assert got["roc_auc_weighted"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=classes)
    )
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=classes))
    onehot = (np.asarray(y)[:, None] == np.asarray(classes)[None, :]).astype(int)
    assert got["pr_auc"] == pytest.approx(
        skm.average_precision_score(onehot, proba, average="macro")
    )
    mcm = skm.multilabel_confusion_matrix(y, pred, labels=classes)
    tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
    support = mcm[:, 1, 0] + mcm[:, 1, 1]
    spec = tn / (tn + fp)
    assert got["specificity"] == pytest.approx(spec.mean())
    assert got["specificity_weighted"] == pytest.approx((spec * support).sum() / support.sum())
    assert got["specificity_micro"] == pytest.approx(tn.sum() / (tn + fp).sum())


def test_confusion_matrix_equals_sklearn() -> None:
    y, pred, _, classes = _multiclass(4)
    np.testing.assert_array_equal(
        confusion_matrix(y, pred, classes), skm.confusion_matrix(y, pred, labels=classes)
    )


def test_binary_calibration_error_matches_calibration_curve() -> None:
    y, pred, p = _binary(7)
    got = classification_metrics(y, pred, p, classes=[0, 1], metrics=["calibration_error"])
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    counts = np.histogram(p, bins=np.linspace(0, 1, 11))[0]
    counts = counts[counts > 0]
    expected = float(np.sum(counts * np.abs(prob_true - prob_pred)) / len(y))
    assert got["calibration_error"] == pytest.approx(expected, abs=1e-12)


def test_zero_division_matches_sklearn_default_value() -> None:
    y = np.array([0, 0, 1, 1])
    pred = np.zeros(4, dtype=int)
    got = classification_metrics(y, pred, classes=[0, 1], metrics=["precision", "f1"])
    assert got == {"precision": 0.0, "f1": 0.0}
    assert skm.precision_score(y, pred, zero_division=0.0) == 0.0


def test_unknown_label_and_metric_raise() -> None:
    with pytest.raises(MonitoringError, match="not among the classes"):
        classification_metrics([0, 2], [0, 1], classes=[0, 1], metrics=["accuracy"])
    with pytest.raises(MonitoringError, match="unknown"):
        classification_metrics([0, 1], [0, 1], [0.2, 0.8], classes=[0, 1], metrics=["auc"])
    with pytest.raises(MonitoringError, match="need the model's scores"):
        classification_metrics([0, 1], [0, 1], classes=[0, 1], metrics=["roc_auc"])


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_metrics_equal_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(3, 2, 2000)
    y[:5] = 0.0  # MAPE guard against a zero target
    pred = y + rng.normal(0, 1, 2000)
    got = regression_metrics(y, pred)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, pred))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred))
    assert got["medae"] == pytest.approx(skm.median_absolute_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))


def test_regression_edge_cases() -> None:
    assert regression_metrics([2.0, 2.0], [2.0, 2.0], metrics=["r2"])["r2"] == 1.0
    assert regression_metrics([2.0, 2.0], [1.0, 2.0], metrics=["r2"])["r2"] == 0.0
    assert skm.r2_score([2.0, 2.0], [1.0, 2.0]) == 0.0
    assert np.isnan(regression_metrics([], [], metrics=["mae"])["mae"])


def test_single_class_chunk_gives_nan_auc_not_an_error() -> None:
    got = classification_metrics(
        [1, 1, 1],
        [1, 0, 1],
        [0.9, 0.4, 0.8],
        classes=[0, 1],
        metrics=["roc_auc", "pr_auc", "recall"],
    )
    assert np.isnan(got["roc_auc"])
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score([1, 1, 1], [0.9, 0.4, 0.8]))
    assert got["recall"] == pytest.approx(2 / 3)


def _sklearn_label_metric(base: str, avg: str, y, pred, classes) -> float:
    if base == "specificity":
        mcm = skm.multilabel_confusion_matrix(y, pred, labels=classes)
        tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
        support = mcm[:, 1, 0] + mcm[:, 1, 1]
        if avg == "micro":
            return float(tn.sum() / (tn + fp).sum())
        spec = tn / (tn + fp)
        return float(spec.mean() if avg == "macro" else (spec * support).sum() / support.sum())
    fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[base]
    return float(fn(y, pred, average=avg, labels=classes, zero_division=0.0))


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("avg", ["macro", "micro", "weighted"])
@pytest.mark.parametrize("base", ["precision", "recall", "f1", "specificity"])
def test_every_averaged_label_metric_equals_sklearn(base: str, avg: str, k: int) -> None:
    if k == 2:
        y, pred, _ = _binary(11)
        classes = [0, 1]
    else:
        y, pred, _, classes = _multiclass(12)
    name = f"{base}_{avg}"
    got = classification_metrics(y, pred, classes=classes, metrics=[name])[name]
    assert got == pytest.approx(_sklearn_label_metric(base, avg, y, pred, classes), abs=1e-12)


@pytest.mark.parametrize("avg", ["macro", "micro", "weighted"])
def test_multiclass_score_metric_averages_equal_sklearn(avg: str) -> None:
    y, pred, proba, classes = _multiclass(13)
    onehot = (np.asarray(y)[:, None] == np.asarray(classes)[None, :]).astype(int)
    got = classification_metrics(
        y, pred, proba, classes=classes, metrics=[f"roc_auc_{avg}", f"pr_auc_{avg}"]
    )
    assert got[f"roc_auc_{avg}"] == pytest.approx(
        skm.roc_auc_score(onehot, proba, average=avg), abs=1e-12
    )
    assert got[f"pr_auc_{avg}"] == pytest.approx(
        skm.average_precision_score(onehot, proba, average=avg), abs=1e-12
    )


def test_multiclass_calibration_error_is_top_label_ece() -> None:
    y, pred, proba, classes = _multiclass(14)
    got = classification_metrics(y, pred, proba, classes=classes, metrics=["calibration_error"])
    top = proba.max(axis=1)
    hit = (np.asarray(y) == pred).astype(int)
    prob_true, prob_pred = calibration_curve(hit, top, n_bins=10, strategy="uniform")
    counts = np.histogram(top, bins=np.linspace(0, 1, 11))[0]
    counts = counts[counts > 0]
    expected = float(np.sum(counts * np.abs(prob_true - prob_pred)) / len(y))
    assert got["calibration_error"] == pytest.approx(expected, abs=1e-12)
    assert got["calibration_error"] > 0


def test_binary_confusion_matrix_equals_sklearn_with_string_labels() -> None:
    y, pred, _ = _binary(15)
    ys, ps = np.where(y == 1, "pos", "neg"), np.where(pred == 1, "pos", "neg")
    np.testing.assert_array_equal(
        confusion_matrix(ys, ps, ["neg", "pos"]),
        skm.confusion_matrix(ys, ps, labels=["neg", "pos"]),
    )
