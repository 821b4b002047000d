"""Drift detection: univariate (per column) and multivariate."""
