"""Data quality: schema against the reference, missing values, ranges, summary statistics."""

from driftscope.monitoring.quality.calculator import DataQualityCalculator
from driftscope.monitoring.quality.schema import SchemaIssue, check_schema

__all__ = ["DataQualityCalculator", "SchemaIssue", "check_schema"]
