"""One captured request/response pair, exactly as it crossed the proxy."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Headers never stored (they are still forwarded to the upstream).
SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


@dataclass(slots=True)
class Exchange:
    """A sampled request and the upstream's response, kept for ingest.

    Bodies are the raw bytes as they crossed the wire (a gzip response stays
    gzip; ingest decodes by ``content-encoding``). Header names are lower case
    and never include :data:`SENSITIVE_HEADERS`.
    """

    model: str
    protocol: str  # driftscope.types.Protocol value
    request_id: str
    method: str
    path: str
    received_at: float  # unix seconds when the request arrived
    latency_ms: float  # upstream round trip as seen by the proxy
    status: int  # status sent to the client (502/504 for proxy errors)
    model_version: str | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: bytes = b""
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    forced: bool = False
    error: str | None = None  # proxy-side error (upstream down, timeout...)
