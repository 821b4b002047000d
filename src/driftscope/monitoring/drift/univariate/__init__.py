"""Univariate drift: one module per family, all registered in :data:`drift_methods`.

======================  ===========  ==========================================
name                    kinds        value
======================  ===========  ==========================================
ks                      continuous   KS statistic (p-value beside)
kuiper                  continuous   Kuiper V (p-value beside)
wasserstein             continuous   Wasserstein-1 distance
wasserstein_norm        continuous   Wasserstein-1 / reference IQR (or std)
energy                  continuous   energy distance
jensen_shannon          both         JS distance (binned / per category)
hellinger               both         Hellinger distance
psi                     both         population stability index
kl                      both         KL divergence, chunk from reference
l_infinity              both         max absolute proportion difference
tvd                     both         total variation distance
z_test, t_test          continuous   Welch statistic (normal / t p-value)
mann_whitney            continuous   U / (m n) (p-value beside)
anderson_darling        continuous   k-sample AD statistic (p-value beside)
cramer_von_mises        continuous   CvM statistic (p-value beside)
epps_singleton          continuous   ES statistic (p-value beside)
chi2, g_test            categorical  statistic (p-value beside)
fisher                  categorical  odds ratio on 2 x 2 tables (p-value beside)
two_proportion          categorical  z of the top reference category's share
======================  ===========  ==========================================
"""

from driftscope.monitoring.drift.univariate import (  # noqa: F401  (registration)
    binned,
    contingency,
    ecdf,
    moments,
    scipy_tests,
)
from driftscope.monitoring.drift.univariate.base import DriftMethod, drift_methods, make_method
from driftscope.monitoring.drift.univariate.calculator import (
    DEFAULT_METHODS,
    UnivariateDriftCalculator,
)
from driftscope.monitoring.drift.univariate.samples import CategoricalSample, ContinuousSample

__all__ = [
    "DEFAULT_METHODS",
    "CategoricalSample",
    "ContinuousSample",
    "DriftMethod",
    "UnivariateDriftCalculator",
    "drift_methods",
    "make_method",
]
