"""What the collector hands off: captured exchanges, the bounded queue and the on-disk spool.

This package is shared by the collector (which writes) and ingest (which reads);
it imports nothing else of driftscope but ``errors`` and ``types``.
"""
