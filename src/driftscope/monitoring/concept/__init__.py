"""Concept drift: output and label drift, relationship change, streaming detectors.

Prediction drift and label drift are the engine's univariate methods on the
prediction, score and target columns (:mod:`.outputs`); performance drift is
realized or estimated performance (``driftscope.monitoring.performance``)
leaving its bounds; relationship change compares per-chunk permutation
importance and feature-target association with the reference; streaming
detectors watch the per-record error stream.
"""

from driftscope.monitoring.concept.outputs import LabelDrift, PredictionDrift
from driftscope.monitoring.concept.relationship import RelationshipChange, rank_features
from driftscope.monitoring.concept.streaming import (
    DETECTORS,
    Detection,
    StreamingDetector,
    error_stream,
)

__all__ = [
    "DETECTORS",
    "Detection",
    "LabelDrift",
    "PredictionDrift",
    "RelationshipChange",
    "StreamingDetector",
    "error_stream",
    "rank_features",
]
