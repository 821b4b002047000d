"""A scripted upstream on a raw socket: answers exactly the bytes a test gives it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from driftscope.collector.http1 import Pool

Script = Callable[[int, bytes], list[bytes] | None]  # (request number, raw request) -> writes


class Scripted:
    def __init__(self, script: Script, close_after: bool = False) -> None:
        self.script = script
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                raw = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(raw)
                writes = self.script(len(self.requests), raw)
                if writes is None:  # never answer
                    await asyncio.sleep(10)
                    return
                for part in writes:
                    writer.write(part)
                    await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def scripted(script: Script, **kw: bool) -> AsyncIterator[tuple[Pool, Scripted]]:
    srv = Scripted(script, **kw)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = Pool(f"http://127.0.0.1:{port}", connect_timeout_s=2, timeout_s=0.5, max_idle=8)
    try:
        yield pool, srv
    finally:
        pool.close()
        server.close()
        await server.wait_closed()
