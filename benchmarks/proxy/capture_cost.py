"""In-process CPU cost of capturing one exchange and of counting one request (min of repeats).

    .venv/bin/python benchmarks/proxy/capture_cost.py            # this tree
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/proxy/capture_cost.py

Steadier than the proxy benchmark on a shared machine (the minimum over
repeats drops the time other processes took). "loop" is what the event loop
spends per sampled exchange after the response is sent (``Sampled.submit`` to
a ``CaptureQueue``, metrics included); "writer" is the writer thread's share
(encode, frame, CRC; the ``os.write`` itself not included), per exchange in a
batch of 750; "request metrics" is ``ProxyMetrics.request`` (every request).
"""

from __future__ import annotations

import time
import timeit

from prometheus_client import CollectorRegistry

from driftscope.capture.queue import CaptureQueue
from driftscope.capture.spool import SpoolWriter
from driftscope.collector.capture import Sampled
from driftscope.collector.metrics import ProxyMetrics
from driftscope.collector.routing import Target

REQ_HEADERS = [
    (b"host", b"127.0.0.1:5000"),
    (b"content-type", b"application/json"),
    (b"content-length", b"92"),
]
RESP_HEADERS = [
    (b"Server", b"nginx/1.22.1"),
    (b"Date", b"Tue, 01 Dec 2026 19:05:15 GMT"),
    (b"Content-Type", b"application/json"),
    (b"Content-Length", b"196"),
    (b"Connection", b"keep-alive"),
]
REQ_BODY = b'{"inputs":[{"name":"input-0","datatype":"FP64","shape":[1,4],"data":[0.1,1.5]}]}'
RESP_BODY = b"x" * 196
BATCH = 750


class _NullWriter(SpoolWriter):
    """Encodes and frames like the real writer; drops the bytes instead of writing them."""

    def __init__(self) -> None:
        self.closed = False

    def append_payloads(self, payloads):  # type: ignore[no-untyped-def]
        from driftscope.capture.spool import frames

        frames(payloads)

    def append(self, exchanges):  # type: ignore[no-untyped-def]  # older trees
        from driftscope.capture.spool import encode_exchange, frame

        b"".join([frame(encode_exchange(ex)) for ex in exchanges])

    def maybe_rotate(self) -> None:
        pass


def best(fn, number: int, repeat: int = 15) -> float:  # type: ignore[no-untyped-def]
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    target = Target("bench", "http://u", True, "oip_v2", 1.0, None)
    metrics = ProxyMetrics(CollectorRegistry())
    queue = CaptureQueue(_NullWriter(), maxsize=10**9, flush_interval_s=1.0)
    rid = "0123456789abcdef0123456789abcdef"

    def one() -> None:
        s = Sampled(
            target, None, "POST", "/v2/models/bench/infer", 1.7e9, rid, False, REQ_HEADERS, REQ_BODY
        )
        s.submit(queue, metrics, 200, 1.234, RESP_HEADERS, RESP_BODY, None)

    loop_us = best(lambda: [one() for _ in range(BATCH)] and queue._take(), 1) / BATCH

    writer_runs = []
    for _ in range(15):
        for _ in range(BATCH):
            one()
        items = queue._take()
        started = time.perf_counter()
        queue._write_batch(items)
        writer_runs.append(time.perf_counter() - started)
    writer_us = min(writer_runs) / BATCH * 1e6
    total_us = loop_us + writer_us
    req_us = best(lambda: metrics.request("bench", 200, 0.00123), 20_000)
    print(
        f"loop {loop_us:.2f} us  writer {writer_us:.2f} us  "
        f"capture total {total_us:.2f} us  request metrics {req_us:.2f} us"
    )


if __name__ == "__main__":
    main()
