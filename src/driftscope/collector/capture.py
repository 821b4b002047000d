"""The capture side of a proxied request: request ids, header hygiene, the handed-off record.

Everything here runs only after the response was sent, except :func:`body_id`
and :class:`RequestIds` (needed for the sampling decision), which are kept to a
substring test, one ``orjson.loads`` of small bodies, and one random draw.

With a sink that has ``submit_deferred`` (the :class:`CaptureQueue`), the event
loop only queues a tuple of what it already holds (raw header lists, body
bytes); :func:`encode_sampled` (header filtering and decoding, the JSON meta)
runs on the spool writer thread. Other sinks get an :class:`Exchange` built on
the spot, with the same fields.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from driftscope.capture.exchange import SENSITIVE_HEADERS, Exchange
from driftscope.capture.sink import CaptureSink
from driftscope.capture.spool import encode_payload
from driftscope.collector.metrics import ProxyMetrics
from driftscope.collector.routing import Target

#: Bodies up to this size are scanned for an OIP ``id`` (bigger ones use the header).
ID_SCAN_MAX = 1 << 20
_SENSITIVE = frozenset(h.encode() for h in SENSITIVE_HEADERS)
_UUID4_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID4_SET = (0x4 << 76) | (0x2 << 62)


class RequestIds:
    """Random UUID4s as 32 hex digits, like ``uuid.uuid4().hex``, without a syscall each.

    Seeded from ``os.urandom`` per instance (so forked workers never share a stream);
    ids must be unique, not secret.
    """

    def __init__(self) -> None:
        self._bits = random.Random(os.urandom(32) + os.getpid().to_bytes(4, "big")).getrandbits

    def __call__(self) -> str:
        return f"{(self._bits(128) & _UUID4_CLEAR) | _UUID4_SET:032x}"


def body_id(body: bytes) -> str | None:
    """The top-level ``id`` string of a JSON object body, or None (never raises)."""
    if b'"id"' not in body or len(body) > ID_SCAN_MAX:
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    rid = doc.get("id") if isinstance(doc, dict) else None
    return rid if isinstance(rid, str) and rid else None


def stored_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-cased headers without the sensitive ones; repeated names joined by ', '."""
    out: dict[str, str] = {}
    names = _NAMES
    for raw_name, raw_value in headers:
        key = names.get(raw_name, _UNSEEN)
        if key is _UNSEEN:
            key = _stored_name(raw_name)
        if key is None:
            continue
        value = raw_value.decode("latin-1")
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


#: Raw header name -> stored name (None: sensitive, never stored); bounded by _NAMES_MAX.
_NAMES: dict[bytes, str | None] = {}
_NAMES_MAX = 512
_UNSEEN = ""  # no stored name is empty


def _stored_name(raw_name: bytes) -> str | None:
    name = raw_name.lower()
    key = None if name in _SENSITIVE else name.decode("latin-1")
    if len(_NAMES) < _NAMES_MAX:
        _NAMES[raw_name] = key
    return key


@dataclass(slots=True)
class Sampled:
    """What is kept of a sampled request until its answer is complete."""

    target: Target
    version: str | None  # named in the path
    method: str
    path: str  # with the query string
    received_at: float
    request_id: str
    forced: bool
    request_headers: list[tuple[bytes, bytes]]
    request_body: bytes

    def submit(
        self,
        sink: CaptureSink,
        metrics: ProxyMetrics | None,
        status: int,
        latency_ms: float,
        response_headers: Iterable[tuple[bytes, bytes]] = (),
        response_body: bytes = b"",
        error: str | None = None,
    ) -> bool:
        """Hand the exchange to ``sink`` (never blocks): deferred when the sink can."""
        deferred: Callable[[Callable[..., bytes], tuple[Any, ...]], bool] | None = getattr(
            sink, "submit_deferred", None
        )
        if deferred is not None:
            accepted = deferred(
                encode_sampled,
                (self, status, latency_ms, response_headers, response_body, error),
            )
        else:
            accepted = sink.submit(
                self.exchange(status, latency_ms, response_headers, response_body, error)
            )
        if metrics is not None:
            metrics.capture(self.target.model, accepted)
        return accepted

    def exchange(
        self,
        status: int,
        latency_ms: float,
        response_headers: Iterable[tuple[bytes, bytes]] = (),
        response_body: bytes = b"",
        error: str | None = None,
    ) -> Exchange:
        """The :class:`Exchange` of this request and its answer."""
        target = self.target
        return Exchange(
            model=target.model,
            protocol=target.protocol,
            request_id=self.request_id,
            method=self.method,
            path=self.path,
            received_at=self.received_at,
            latency_ms=latency_ms,
            status=status,
            model_version=self.version or target.version,
            request_headers=stored_headers(self.request_headers),
            request_body=self.request_body,
            response_headers=stored_headers(response_headers),
            response_body=response_body,
            forced=self.forced,
            error=error,
        )


def encode_sampled(
    s: Sampled,
    status: int,
    latency_ms: float,
    response_headers: Iterable[tuple[bytes, bytes]],
    response_body: bytes,
    error: str | None,
) -> bytes:
    """The spool payload of ``s.exchange(...)``, without building the Exchange (writer thread)."""
    target = s.target
    return encode_payload(
        {
            "model": target.model,
            "protocol": target.protocol,
            "request_id": s.request_id,
            "method": s.method,
            "path": s.path,
            "received_at": s.received_at,
            "latency_ms": latency_ms,
            "status": status,
            "model_version": s.version or target.version,
            "request_headers": stored_headers(s.request_headers),
            "response_headers": stored_headers(response_headers),
            "forced": s.forced,
            "error": error,
        },
        s.request_body,
        response_body,
    )
