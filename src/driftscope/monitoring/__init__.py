"""The monitoring engine: pure computation over tables (no I/O, no web).

Calculators follow scikit-learn's spirit: ``fit(reference)`` then
``calculate(analysis)`` returning a :class:`Result`, one long table.
:class:`Monitor` runs every family at once.
"""

from driftscope.monitoring.base import Calculator
from driftscope.monitoring.chunking import (
    Chunk,
    Chunker,
    CountChunker,
    PeriodChunker,
    SizeChunker,
    SmallChunkWarning,
    make_chunker,
)
from driftscope.monitoring.drift.univariate import (
    DriftMethod,
    UnivariateDriftCalculator,
    drift_methods,
)
from driftscope.monitoring.monitor import Monitor, MonitorConfig
from driftscope.monitoring.multivariate import (
    DomainClassifierCalculator,
    PCAReconstructionCalculator,
)
from driftscope.monitoring.outliers import OutlierCalculator
from driftscope.monitoring.profiles import ColumnProfile
from driftscope.monitoring.quality import DataQualityCalculator, check_schema
from driftscope.monitoring.result import RESULT_COLUMNS, Result
from driftscope.monitoring.thresholds import (
    ConstantThreshold,
    QuantileThreshold,
    StandardDeviationThreshold,
    Threshold,
    make_threshold,
)

__all__ = [
    "RESULT_COLUMNS",
    "Calculator",
    "Chunk",
    "Chunker",
    "ColumnProfile",
    "ConstantThreshold",
    "CountChunker",
    "DataQualityCalculator",
    "DomainClassifierCalculator",
    "DriftMethod",
    "Monitor",
    "MonitorConfig",
    "OutlierCalculator",
    "PCAReconstructionCalculator",
    "PeriodChunker",
    "QuantileThreshold",
    "Result",
    "SizeChunker",
    "SmallChunkWarning",
    "StandardDeviationThreshold",
    "Threshold",
    "UnivariateDriftCalculator",
    "check_schema",
    "drift_methods",
    "make_chunker",
    "make_threshold",
]
