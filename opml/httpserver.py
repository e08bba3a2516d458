"""The bounds every HTTP server opml starts (scoring services, the pipeline gateway) puts on its clients.

uvicorn's h11 protocol with three additions:

- a request's head must arrive within ``head_timeout`` of the connection opening (or of the previous
  response), and its body within ``body_timeout`` of its head; a slow or silent client is disconnected
  (a byte every few seconds does not extend the deadline);
- above ``busy_connections`` open connections the head deadline shrinks to ``busy_head_timeout``: idle
  connections are reaped fast, while a client that sends its request at once (a health probe) is served;
- at ``max_connections`` a new connection takes the place of the one that has waited longest for its
  request head (or is closed at once when every connection is busy with a request), so a flood of sockets
  can take neither the process's file descriptors nor the place of a client that sends its request.

Body size limits are the app's (it reads the body in chunks and stops at its limit). HTTP/1.1 serves one
request at a time per connection, so ``max_connections`` also bounds the requests in flight.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from starlette.requests import ClientDisconnect, Request
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("opml.http")


@dataclass(frozen=True)
class Bounds:
    max_connections: int
    busy_connections: int
    head_timeout: float = 10.0
    busy_head_timeout: float = 1.0
    body_timeout: float = 20.0
    keep_alive: float = 5.0


SCORING_BOUNDS = Bounds(max_connections=4096, busy_connections=512)
GATEWAY_BOUNDS = Bounds(max_connections=512, busy_connections=64)


def bounded_protocol(bounds: Bounds) -> type[asyncio.Protocol]:
    """An h11 protocol class that enforces ``bounds`` (uvicorn builds one instance per connection)."""

    waiting_for_head: dict[H11Protocol, None] = {}  # this server's connections without a request, oldest first

    class BoundedH11Protocol(H11Protocol):
        _admitted = False
        _deadline: asyncio.TimerHandle | None = None
        _waiting_for: str | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(self.connections) >= bounds.max_connections:
                if not waiting_for_head:
                    transport.abort()
                    return
                oldest = next(iter(waiting_for_head))
                oldest._disarm()
                oldest.transport.abort()
            self._admitted = True
            super().connection_made(transport)
            self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            if not self._admitted:
                return
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow_request()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport.is_closing():
                return
            if self.conn.their_state is h11.IDLE:
                self._arm_head_deadline()
            else:  # a pipelined request already under way
                self._follow_request()

        def _follow_request(self) -> None:
            """Re-arm the deadline as the request moves on: its head is in (wait for the body), or all of
            it is (the app answers; no deadline here)."""
            state = self.conn.their_state
            if state is h11.SEND_BODY and self._waiting_for != "body":
                self._arm(bounds.body_timeout, "body")
            elif state is not h11.IDLE and state is not h11.SEND_BODY:
                self._disarm()

        def _arm_head_deadline(self) -> None:
            busy = len(self.connections) > bounds.busy_connections
            self._arm(bounds.busy_head_timeout if busy else bounds.head_timeout, "head")

        def _arm(self, seconds: float, waiting_for: str) -> None:
            self._disarm()
            self._waiting_for = waiting_for
            self._deadline = self.loop.call_later(seconds, self._too_slow)
            if waiting_for == "head":
                waiting_for_head[self] = None

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            self._waiting_for = None
            waiting_for_head.pop(self, None)

        def _too_slow(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self.transport.abort()  # the app, if it waits for the body, sees a disconnect

    return BoundedH11Protocol


def raise_file_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit; returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d to %d", soft, hard)
    return soft


def server_config(app: Any, *, host: str, port: int, bounds: Bounds, **options: Any) -> uvicorn.Config:
    """A uvicorn config for ``app`` with ``bounds`` applied."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=bounded_protocol(bounds),
        timeout_keep_alive=bounds.keep_alive,
        log_level="warning",
        access_log=False,
        **options,
    )


class BodyError(Exception):
    """A request body that cannot be read: too large (413) or cut short by its client (400)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


BODY_BUDGET = 256 << 20  # bytes of request bodies a process holds at once, all requests together
_held = 0  # bytes held now (read_body runs on the event loop: one thread, no lock needed)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes (declared or read), or with a 503 when
    the bodies held by all requests would pass ``BODY_BUDGET`` (many slow senders of large bodies would
    otherwise exhaust memory). Raises BodyError."""
    global _held
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyError(413, f"the request body is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            _held += len(chunk)
            if size > limit:
                raise BodyError(413, f"the request body is over the {limit:,}-byte limit")
            if _held > BODY_BUDGET:
                raise BodyError(503, "the service is receiving too many large requests at once; retry shortly")
            chunks.append(chunk)
    except ClientDisconnect:  # nobody reads the answer, but the request still gets its one log line
        raise BodyError(400, "the client disconnected before sending the whole body") from None
    finally:
        _held -= size
    return b"".join(chunks)
