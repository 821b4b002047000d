"""The bounded in-memory capture queue in front of the spool.

``submit`` is a list append on the event loop (never blocks, never awaits);
a flusher task hands everything queued to the :class:`SpoolWriter` every
``flush_interval_s`` in one batched write, on a dedicated thread so a slow
disk or an fsync at segment rotation never stalls request handling.

What a kill -9 can lose: the exchanges still in memory, i.e. at most
``maxsize`` (the bound counts both the exchanges waiting and the batch being
written), which in practice is what arrived during the last flush interval
(``flush_interval_s``, 50 ms by default). Written frames are in the OS page
cache and survive the process; a frame cut in half is dropped by the reader.
SIGTERM (``stop()``) loses nothing: it drains the queue into the spool and
closes the open segment.

``submit_deferred(encode, args)`` is the hot path of the proxy: it queues a
plain tuple, and ``encode(*args)`` (which builds the frame payload, header
filtering included) runs on the writer thread in the next flush, so the event
loop never builds an :class:`Exchange`. A payload that fails to encode is
logged and counted in ``dropped``; the rest of its batch is written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from driftscope.capture.exchange import Exchange
from driftscope.capture.spool import SpoolWriter, encode_exchange

log = logging.getLogger(__name__)

#: A queued capture: an Exchange, or (encode, args) with ``encode(*args)`` the frame payload.
Item = Exchange | tuple[Callable[..., bytes], tuple[Any, ...]]


class CaptureQueue:
    """A :class:`~driftscope.capture.sink.CaptureSink` that batches into a spool writer."""

    def __init__(self, writer: SpoolWriter, maxsize: int, flush_interval_s: float) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.writer = writer
        self.maxsize = maxsize
        self.flush_interval_s = flush_interval_s
        self.submitted = 0  # accepted into the queue
        self.dropped = 0  # refused because the queue was full, or lost to a failed write
        self.written = 0  # appended to the spool
        self._items: list[Item] = []
        self._inflight = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._executor: ThreadPoolExecutor | None = None

    def __len__(self) -> int:
        return len(self._items) + self._inflight

    def submit(self, exchange: Exchange) -> bool:
        """Queue ``exchange``; False (and counted in ``dropped``) when the queue is full."""
        if len(self._items) + self._inflight >= self.maxsize or self._stopping:
            self.dropped += 1
            return False
        self._items.append(exchange)
        self.submitted += 1
        return True

    def submit_deferred(self, encode: Callable[..., bytes], args: tuple[Any, ...]) -> bool:
        """Queue a capture whose payload ``encode(*args)`` builds on the writer thread.

        Same bound and counting as :meth:`submit`; ``args`` must not change afterwards.
        """
        if len(self._items) + self._inflight >= self.maxsize or self._stopping:
            self.dropped += 1
            return False
        self._items.append((encode, args))
        self.submitted += 1
        return True

    async def start(self) -> None:
        """Start the periodic flusher (on the running event loop)."""
        if self._task is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftscope-spool")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="capture-flusher")

    async def stop(self) -> None:
        """Write everything queued to the spool and close it (the SIGTERM path)."""
        if self._stopping:
            return
        self._stopping = True
        if self._task is not None:
            self._wake.set()
            await self._task
            self._task = None
        # whatever the flusher did not get to (or all of it when never started)
        batch = self._take()
        self._count(batch, self._write_batch(batch))
        self.writer.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def flush(self) -> None:
        """Write what is queued now (the flusher does this every interval)."""
        batch = self._take()
        loop = asyncio.get_running_loop()
        written = 0
        try:
            written = await loop.run_in_executor(self._executor, self._write_batch, batch)
        finally:
            self._count(batch, written)

    def _count(self, batch: list[Item], written: int) -> None:
        # counters change on the event loop only (the writer thread just reports)
        self._inflight = 0
        self.written += written
        self.dropped += len(batch) - written

    def _take(self) -> list[Item]:
        batch, self._items = self._items, []
        self._inflight = len(batch)
        return batch

    def _write_batch(self, batch: list[Item]) -> int:
        """Encode and write ``batch``; the number of exchanges written."""
        payloads: list[bytes] = []
        for item in batch:
            try:
                if type(item) is tuple:
                    encode, args = item
                    payloads.append(encode(*args))
                else:
                    payloads.append(encode_exchange(item))  # type: ignore[arg-type]
            except Exception:
                log.exception("captured exchange could not be encoded: dropped")
        try:
            if payloads:
                self.writer.append_payloads(payloads)
            self.writer.maybe_rotate()
        except Exception:
            # disk full, permissions...: these are lost; say so (they are counted as dropped)
            log.exception("spool write failed: %d captured exchange(s) lost", len(payloads))
            return 0
        return len(payloads)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            except TimeoutError:
                pass
            if self._stopping:
                return
            await self.flush()
