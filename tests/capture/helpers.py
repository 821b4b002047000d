"""Exchanges to write and a child process that writes then waits to be killed."""

from __future__ import annotations

from driftscope.capture.exchange import Exchange


def exchange(i: int, size: int = 64) -> Exchange:
    return Exchange(
        model="m",
        protocol="oip_v2",
        request_id=f"r-{i}",
        method="POST",
        path="/v2/models/m/infer",
        received_at=1_700_000_000.0 + i,
        latency_ms=1.5,
        status=200,
        model_version="v1",
        request_headers={"content-type": "application/json", "x-i": str(i)},
        request_body=b'{"id": "r-%d"}' % i + bytes(range(256))[: size % 256],
        response_headers={"content-encoding": "gzip"},
        response_body=b"\x1f\x8b\x00\xff" * (size // 4),
        forced=i % 2 == 0,
        error=None if i % 3 else "upstream unavailable: boom",
    )


#: Run in a child: append N exchanges, say "ready", then sleep until killed.
CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from capture.helpers import exchange
from driftscope.capture.spool import SpoolWriter
w = SpoolWriter(Path({root!r}), segment_max_bytes=1 << 30, segment_max_age_s=3600)
w.append([exchange(i) for i in range({n})])
print(w.segment, flush=True)
time.sleep(120)
"""
