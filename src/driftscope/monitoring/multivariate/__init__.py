"""Multivariate drift: PCA reconstruction error and a domain classifier."""

from driftscope.monitoring.multivariate.domain_classifier import DomainClassifierCalculator
from driftscope.monitoring.multivariate.pca import PCAReconstructionCalculator

__all__ = ["DomainClassifierCalculator", "PCAReconstructionCalculator"]
