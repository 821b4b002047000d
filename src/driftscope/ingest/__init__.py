"""Ingest: spool segments -> codec -> record store, exactly once per record."""

from driftscope.ingest.worker import Ingestor, IngestStats, SegmentReader

__all__ = ["IngestStats", "Ingestor", "SegmentReader"]
