"""A worked example of a third-party driftscope plugin package."""

from driftscope_plugin_example.codec import CSVCodec
from driftscope_plugin_example.outliers import ZScoreDetector

__all__ = ["CSVCodec", "ZScoreDetector"]
