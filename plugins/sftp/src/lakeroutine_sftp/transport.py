"""A TCP connection for asyncssh whose writes are gathered into one socket send per turn of
the event loop.

asyncssh writes every SSH packet (and the empty ``MSG_IGNORE`` it puts before each one) to
its transport at once: one ``send`` system call per packet, two per SFTP request. With many
requests in flight that is most of the client's CPU. Here the packets written during one
turn of the loop go out together, in order, at the start of the next turn; nothing waits on
a timer. Given to ``asyncssh.connect`` as its ``tunnel`` (any object with
``create_connection``), so asyncssh itself is untouched.
"""

from __future__ import annotations

import asyncio
from typing import Any


class GatheredWrites:
    """A transport that buffers ``write`` and flushes once per loop turn; everything else
    is the real transport's."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._chunks: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes) -> None:
        """Queue ``data``; the first write of a turn schedules the flush."""
        if not self._chunks:
            self._loop.call_soon(self.flush)
        self._chunks.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for data in chunks:
            self.write(data)

    def flush(self) -> None:
        """Send what was queued, as one write."""
        if self._chunks:
            data = b"".join(self._chunks)
            self._chunks.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(c) for c in self._chunks)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Relay(asyncio.Protocol):
    """The socket's protocol: hands asyncssh's connection the gathering transport and
    passes every event on to it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(GatheredWrites(transport))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class GatheringConnector:
    """asyncssh's ``tunnel``: opens a plain TCP connection whose writes are gathered."""

    async def create_connection(self, session_factory: Any, host: str, port: int) -> Any:
        """Connect to ``host:port``; returns ``(transport, session)`` as asyncssh expects."""
        loop = asyncio.get_running_loop()
        session = session_factory()
        transport, _ = await loop.create_connection(lambda: _Relay(session), host, port)
        return transport, session
