"""Where the proxy hands captured exchanges: anything with a non-blocking ``submit``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from driftscope.capture.exchange import Exchange


@runtime_checkable
class CaptureSink(Protocol):
    """Accepts a captured exchange without ever blocking the caller."""

    def submit(self, exchange: Exchange) -> bool:
        """Take ``exchange``; return False when it was dropped (full queue), never block."""
        ...


class ListSink:
    """Keeps every exchange in a list (tests, notebooks); optionally bounded."""

    def __init__(self, maxsize: int | None = None) -> None:
        self.maxsize = maxsize
        self.items: list[Exchange] = []
        self.dropped = 0

    def submit(self, exchange: Exchange) -> bool:
        if self.maxsize is not None and len(self.items) >= self.maxsize:
            self.dropped += 1
            return False
        self.items.append(exchange)
        return True
