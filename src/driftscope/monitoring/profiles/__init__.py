"""Mergeable column profiles: exact counts plus sketches, computed in pieces and combined."""

from driftscope.monitoring.profiles.column import ColumnProfile, jensen_shannon, ks_statistic

__all__ = ["ColumnProfile", "jensen_shannon", "ks_statistic"]
