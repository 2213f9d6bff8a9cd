"""Bounds on connections, for uvicorn: how many are open at once, and how long and how large
the head of a request (its request line and headers) may be.

uvicorn bounds neither. Its keep-alive timeout runs only between requests and stops at the
first byte, and its `limit_concurrency` still accepts every connection (it answers 503 to
requests only), so a client that opens connections and sends nothing, or a header a byte
at a time, holds them as long as it likes. `guarded(protocol, limits)` is uvicorn's own
HTTP protocol class (httptools' or h11's) with those bounds added:

    connection opened    past `limits.connections` open: 503 and closed at once
    waiting for a head   not complete within `limits.head_seconds`: 408 and closed
                         over `limits.head_bytes` without completing: 431 and closed
    head complete        the body's own bounds apply (BodyLimit in errors.py)
    answer sent          waiting for the next head: the clock starts again

A connection "waits for a head" while it has no request in progress (uvicorn's `cycle`
is unset or its answer complete). `server_config` is the uvicorn configuration the command
serves with (and the tests' live servers too): this protocol, and a bounded wait at Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import logging

from word_predictor.server.limits import Limits

# How long Ctrl-C (or SIGTERM) waits for the answers in progress before cancelling them: uvicorn's
# default waits for every open connection however long it takes, so a slow request held the server.
SHUTDOWN_SECONDS = 3


class _QuietWhenCut(logging.Filter):
    """Drops uvicorn's traceback for a request cancelled because the server is stopping (its
    "Cancel N running task(s)" line already says so): cutting it is the point, not a bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


def server_config(app, limits: Limits, protocol: type[asyncio.Protocol] | None = None, **settings):
    """uvicorn.Config for `app` with `limits`' bounds on connections, on uvicorn's HTTP `protocol`
    class (default: httptools' where installed, else h11's); `settings` go to uvicorn (host, port...)."""
    import uvicorn
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, _QuietWhenCut) for existing in errors.filters):
        errors.addFilter(_QuietWhenCut())
    return uvicorn.Config(app, http=guarded(protocol or AutoHTTPProtocol, limits),
                          timeout_graceful_shutdown=SHUTDOWN_SECONDS, **settings)  # fmt: skip


def _answer(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP response that closes the connection, written before any request is read."""
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")  # fmt: skip
    return head.encode("ascii") + body


def guarded(protocol: type[asyncio.Protocol], limits: Limits) -> type[asyncio.Protocol]:
    """A subclass of uvicorn's HTTP `protocol` class that enforces `limits`' connection bounds."""
    return type(f"Guarded{protocol.__name__}", (_Guard, protocol), {"limits": limits})


class _Guard:
    """The connection bounds, mixed in before one of uvicorn's HTTP protocol classes (whose
    `server_state`, `transport`, `cycle` and `loop` it reads); `limits` is set by `guarded`."""

    limits: Limits
    refused = False
    head_timer: asyncio.TimerHandle | None = None
    head_bytes = 0

    def connection_made(self, transport) -> None:
        if len(self.server_state.connections) >= self.limits.connections:
            self.refused = True  # never counted among the connections, never read
            transport.write(_answer(503, "Service Unavailable", f"the server has {self.limits.connections} "
                                    "connections open, as many as it takes; try again shortly"))  # fmt: skip
            transport.close()
            return
        super().connection_made(transport)
        self._wait_for_head()

    def connection_lost(self, exc) -> None:
        if self.refused:
            return
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        super().data_received(data)
        if self.transport.is_closing() or not self._waiting_for_head():
            self.head_bytes = 0
            return
        self.head_bytes += len(data)  # all of it is still an unfinished head
        if self.head_bytes > self.limits.head_bytes:
            self._close(431, "Request Header Fields Too Large",
                        f"the request head is larger than {self.limits.head_bytes:,} bytes")  # fmt: skip

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._wait_for_head()

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _wait_for_head(self) -> None:
        self._stop_waiting()
        self.head_bytes = 0
        self.head_timer = self.loop.call_later(self.limits.head_seconds, self._head_overdue)

    def _stop_waiting(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_overdue(self) -> None:
        self.head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self._close(408, "Request Timeout", f"the request head did not arrive within {self.limits.head_seconds:g} s")

    def _close(self, status: int, reason: str, message: str) -> None:
        self._stop_waiting()
        self.transport.write(_answer(status, reason, message))
        self.transport.close()
