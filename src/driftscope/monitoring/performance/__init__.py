"""Model performance: realized with labels, estimated without them (CBPE, DLE).

Calculators (fit on a labeled reference, calculate on analysis data, one long
results table): :class:`RealizedPerformance` (method ``realized``),
:class:`CBPE` (``cbpe``, classification) and :class:`DLE` (``dle``,
regression). The array-level pieces are public too: metric functions equal to
scikit-learn's, sampling errors, the calibration check, and the estimators.
"""

from driftscope.monitoring.performance.cbpe import CBPE
from driftscope.monitoring.performance.classification import (
    classification_metrics,
    confusion_matrix,
)
from driftscope.monitoring.performance.dle import DLE
from driftscope.monitoring.performance.error_model import DLEEstimator
from driftscope.monitoring.performance.expected import CBPEEstimator
from driftscope.monitoring.performance.realized import RealizedPerformance
from driftscope.monitoring.performance.regression import regression_metrics
from driftscope.monitoring.performance.sampling_error import SamplingError
from driftscope.monitoring.performance.suite import estimated_vs_realized, performance_result

__all__ = [
    "CBPE",
    "DLE",
    "CBPEEstimator",
    "DLEEstimator",
    "RealizedPerformance",
    "SamplingError",
    "classification_metrics",
    "confusion_matrix",
    "estimated_vs_realized",
    "performance_result",
    "regression_metrics",
]
