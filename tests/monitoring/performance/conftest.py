"""Synthetic data whose ground truth is known by construction."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


def _binary_frame(
    rng: np.random.Generator, n: int, shift: float = 0.0, concept: bool = False
) -> pd.DataFrame:
    """Scores calibrated by construction: y ~ Bernoulli(sigmoid(1.5 x1 - x2))."""
    x1 = rng.normal(shift, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    score = 1.0 / (1.0 + np.exp(-(1.5 * x1 - x2)))
    # Concept shift: the outcome no longer follows the score the model gives.
    truth = 1.0 / (1.0 + np.exp(-(-0.3 * x1 - x2))) if concept else score
    y = (rng.random(n) < truth).astype(int)
    return pd.DataFrame(
        {"x1": x1, "x2": x2, "score": score, "pred": (score > 0.5).astype(int), "y": y}
    )


@pytest.fixture
def binary_data() -> Callable[..., pd.DataFrame]:
    def make(n: int, *, seed: int, shift: float = 0.0, concept: bool = False) -> pd.DataFrame:
        return _binary_frame(np.random.default_rng(seed), n, shift, concept)

    return make


@pytest.fixture
def multiclass_data() -> Callable[..., pd.DataFrame]:
    weights = np.array([[1.0, -0.5, 0.0], [0.0, 1.0, -1.0]])

    def make(n: int, *, seed: int, shift: float = 0.0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.normal(shift, 1.0, (n, 2))
        logits = x @ weights
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        classes = np.array(["a", "b", "c"])
        y = classes[(proba.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)]
        frame = pd.DataFrame(
            {"x1": x[:, 0], "x2": x[:, 1], "y": y, "pred": classes[proba.argmax(axis=1)]}
        )
        for j, c in enumerate(classes):
            frame[f"p_{c}"] = proba[:, j]
        return frame

    return make


@pytest.fixture
def regression_data() -> Callable[..., pd.DataFrame]:
    """y = 2 x1 + noise whose spread grows with |x2| and doubles in category "a"."""

    def make(n: int, *, seed: int, shift: float = 0.0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x1 = rng.normal(0.0, 1.0, n)
        x2 = rng.normal(shift, 1.0, n)
        cat = rng.choice(["a", "b", "c"], n)
        spread = (0.2 + np.abs(x2)) * np.where(cat == "a", 2.0, 1.0)
        y = 2.0 * x1 + 10.0 + rng.normal(0.0, 1.0, n) * spread
        return pd.DataFrame({"x1": x1, "x2": x2, "cat": cat, "pred": 2.0 * x1 + 10.0, "y": y})

    return make
