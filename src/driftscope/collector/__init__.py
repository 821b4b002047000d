"""The collector: a transparent reverse proxy that hands sampled exchanges to a capture sink.

It never imports storage or ingest; what it captures goes to a
:class:`~driftscope.capture.sink.CaptureSink` (the bounded queue in front of the spool).
"""

from __future__ import annotations

from driftscope.collector.app import ProxyApp
from driftscope.collector.metrics import ProxyMetrics
from driftscope.collector.sampling import sampled

__all__ = ["ProxyApp", "ProxyMetrics", "sampled"]
