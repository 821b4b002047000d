"""The capture side of a proxied request: request ids, header hygiene, the handed-off record.

Everything here runs only after the response was sent, except :func:`body_id`
and :class:`RequestIds` (needed for the sampling decision), which are kept to a
substring test, one ``orjson.loads`` of small bodies, and one random draw.

With a sink that has ``submit_deferred`` (the :class:`CaptureQueue`), the event
loop filters the headers (str-only dicts) and queues one tuple of atoms;
:func:`encode_sampled` (the JSON meta, the payload) runs on the spool writer
thread. Holding raw header lists instead would keep a dozen GC-tracked
objects alive per capture until the flush, and the extra collections cost
more than the filtering. Other sinks get an :class:`Exchange` built on
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
            # only atoms (str, bytes, numbers, str-only dicts) stay queued: the args tuple is
            # untracked by the garbage collector after its first pass, so holding a flush
            # interval's worth of captures adds almost nothing to collections
            target = self.target
            accepted = deferred(
                encode_sampled,
                (
                    target.model,
                    target.protocol,
                    self.request_id,
                    self.method,
                    self.path,
                    self.received_at,
                    latency_ms,
                    status,
                    self.version or target.version,
                    stored_headers(self.request_headers),
                    self.request_body,
                    stored_headers(response_headers),
                    response_body,
                    self.forced,
                    error,
                ),
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
    model: str,
    protocol: str,
    request_id: str,
    method: str,
    path: str,
    received_at: float,
    latency_ms: float,
    status: int,
    model_version: str | None,
    request_headers: dict[str, str],
    request_body: bytes,
    response_headers: dict[str, str],
    response_body: bytes,
    forced: bool,
    error: str | None,
) -> bytes:
    """The spool payload of an exchange, without building the Exchange (writer thread)."""
    return encode_payload(
        {
            "model": model,
            "protocol": protocol,
            "request_id": request_id,
            "method": method,
            "path": path,
            "received_at": received_at,
            "latency_ms": latency_ms,
            "status": status,
            "model_version": model_version,
            "request_headers": request_headers,
            "response_headers": response_headers,
            "forced": forced,
            "error": error,
        },
        request_body,
        response_body,
    )
