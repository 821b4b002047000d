"""Outliers: a detector fitted on the reference, outlier rate per chunk, per-row scores."""

from driftscope.monitoring.outliers.calculator import OutlierCalculator, outlier_detectors

__all__ = ["OutlierCalculator", "outlier_detectors"]
