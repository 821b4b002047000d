"""The demo's data: a credit-risk-like binary task whose inputs drift slowly.

Eight features, in the order of the model's input tensor columns:

========================  ===========  ==============================================
feature                   type         drift (``drift`` goes from 0 to 1 and back)
========================  ===========  ==============================================
``age``                   continuous   none
``income``                continuous   median falls by a third (k$ per year)
``debt_ratio``            continuous   rises by 0.15 on average
``credit_score``          continuous   none
``loan_amount``           continuous   none
``employment_years``      continuous   none
``home_ownership``        categorical  share of 0 = rent grows from 35 % to 60 %
``purpose``               categorical  none
========================  ===========  ==============================================

Categories are encoded as small integers: ``home_ownership`` 0 = rent,
1 = mortgage, 2 = own; ``purpose`` 0 = car, 1 = home, 2 = education,
3 = business. The label (1 = default) is drawn from a fixed logistic function
of the features, so the relation between inputs and label does not change:
only the input distribution moves (covariate shift), and the default rate
rises with it.
"""

from __future__ import annotations

import math

import numpy as np

FEATURES = [
    "age",
    "income",
    "debt_ratio",
    "credit_score",
    "loan_amount",
    "employment_years",
    "home_ownership",
    "purpose",
]
CATEGORICAL = ["home_ownership", "purpose"]
#: Features whose distribution moves with ``drift``.
DRIFTING = ["income", "debt_ratio", "home_ownership"]
CLASSES = ["0", "1"]

_HOME_START = np.array([0.35, 0.40, 0.25])
_HOME_END = np.array([0.60, 0.25, 0.15])
_PURPOSE = np.array([0.35, 0.25, 0.20, 0.20])


def drift_at(elapsed_s: float, period_s: float) -> float:
    """Drift level in [0, 1] after ``elapsed_s``: a slow cosine wave, 0 at the start.

    It peaks at half the period and comes back to 0 at the end of it, so a long
    demo shows drift and recovery.
    """
    if period_s <= 0:
        return 0.0
    return (1.0 - math.cos(2.0 * math.pi * elapsed_s / period_s)) / 2.0


def sample_features(n: int, rng: np.random.Generator, drift: float = 0.0) -> np.ndarray:
    """``n`` rows of the eight features (float64, categories as integer codes)."""
    drift = float(min(max(drift, 0.0), 1.0))
    age = np.clip(rng.normal(42.0, 12.0, n), 18.0, 90.0).round()
    income = np.exp(rng.normal(math.log(55.0) + math.log(2.0 / 3.0) * drift, 0.45, n)).round(1)
    debt_ratio = np.clip(rng.beta(2.0, 5.0, n) + 0.15 * drift, 0.0, 1.5).round(3)
    credit_score = np.clip(rng.normal(680.0, 60.0, n), 300.0, 850.0).round()
    loan_amount = np.exp(rng.normal(math.log(15.0), 0.6, n)).round(1)
    employment_years = np.clip(rng.exponential(6.0, n), 0.0, 45.0).round(1)
    home_p = _HOME_START + (_HOME_END - _HOME_START) * drift
    home = rng.choice(3, size=n, p=home_p / home_p.sum())
    purpose = rng.choice(4, size=n, p=_PURPOSE)
    return np.column_stack(
        [age, income, debt_ratio, credit_score, loan_amount, employment_years, home, purpose]
    ).astype(np.float64)


def default_probability(x: np.ndarray) -> np.ndarray:
    """The true probability of default for rows of :func:`sample_features`."""
    age, income, debt, score, loan, years, home, purpose = x.T
    z = (
        -1.3
        + 4.0 * (debt - 0.29)
        - 0.012 * (score - 680.0)
        - 0.8 * np.log(income / 55.0)
        + 0.6 * np.log(loan / 15.0)
        - 0.03 * (years - 6.0)
        - 0.01 * (age - 42.0)
        + 0.4 * (home == 0)
        + 0.3 * (purpose == 3)
    )
    return 1.0 / (1.0 + np.exp(-z))


def sample_labels(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Outcomes (0/1) drawn from :func:`default_probability`."""
    return (rng.random(len(x)) < default_probability(x)).astype(np.int64)
