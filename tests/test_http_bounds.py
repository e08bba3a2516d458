"""The bounds of opml's HTTP servers, against a real uvicorn server on loopback with raw sockets as clients:
silent, slow and short clients are disconnected on time, a flood of connections is capped, and a client that
sends its request at once is served while idle connections crowd the server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from opml.httpserver import BodyError, Bounds, raise_file_limit, read_body, server_config
from tests.helpers import free_port, wait_until

BOUNDS = Bounds(
    max_connections=40, busy_connections=20, head_timeout=1.5, busy_head_timeout=0.3, body_timeout=1.0, keep_alive=1.0
)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, list[str]]]:
    """(port, what the app saw of each request body: "ok" or "disconnected")."""
    seen: list[str] = []

    async def echo(request: Request) -> PlainTextResponse:
        try:
            body = await request.body()
        except ClientDisconnect:
            seen.append("disconnected")
            raise
        seen.append("ok")
        return PlainTextResponse(f"got {len(body)}")

    async def bounded(request: Request) -> PlainTextResponse:
        try:
            body = await read_body(request, 10_000)
        except BodyError as exc:
            return PlainTextResponse(exc.message, status_code=exc.status)
        return PlainTextResponse(f"got {len(body)}")

    app = Starlette(routes=[Route("/", echo, methods=["GET", "POST"]), Route("/bounded", bounded, methods=["POST"])])
    port = free_port()
    instance = uvicorn.Server(server_config(app, host="127.0.0.1", port=port, bounds=BOUNDS))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    wait_until(lambda: instance.started, timeout=10, what="the server")
    yield port, seen
    instance.should_exit = True
    thread.join(timeout=10)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closed ``sock`` (reads until EOF or reset); fails after ``seconds``."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for more than {seconds} s")
    return time.monotonic() - started


def _get(port: int) -> bytes:
    with _connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        return answer


def test_a_silent_connection_is_closed_after_the_head_timeout(server):
    port, _ = server
    with _connect(port) as sock:
        assert 1.2 < _closed_within(sock, 5) < 3


def test_a_head_sent_one_byte_at_a_time_does_not_extend_the_deadline(server):
    port, _ = server
    with _connect(port) as sock:
        started = time.monotonic()
        try:
            for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        _closed_within(sock, 5)
        assert time.monotonic() - started < 3


def test_a_body_shorter_than_declared_is_given_up_on(server):
    port, seen = server
    with _connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
        assert _closed_within(sock, 5) < 2.5
    wait_until(lambda: "disconnected" in seen, timeout=5, what="the app to see the disconnect")


def test_an_idle_keep_alive_connection_is_closed(server):
    port, _ = server
    with _connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert _closed_within(sock, 5) < 2.5


def test_a_flood_of_connections_is_capped_and_a_prompt_request_is_served(server):
    port, _ = server
    idle = [_connect(port) for _ in range(BOUNDS.max_connections + 20)]
    try:
        # At the cap each new connection takes the place of the oldest one still without a request, so
        # the first ones are closed at once; a request sent at once is answered all the same.
        for sock in idle[:10]:
            assert _closed_within(sock, 2) < 1
        answer = _get(port)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"got 0")
    finally:
        for sock in idle:
            sock.close()


def test_while_busy_idle_connections_are_reaped_sooner(server):
    port, _ = server
    crowd = [_connect(port) for _ in range(BOUNDS.busy_connections + 5)]
    try:
        assert _closed_within(crowd[-1], 3) < BOUNDS.head_timeout - 0.5  # the busy deadline, not the usual one
    finally:
        for sock in crowd:
            sock.close()


def test_the_open_file_limit_is_raised_to_the_hard_limit():
    import resource

    assert raise_file_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def test_the_pipeline_gateway_is_served_with_the_bounds():
    from opml.agent.gateway import Gateway
    from opml.httpserver import GATEWAY_BOUNDS

    config = Gateway(None, "127.0.0.1", free_port()).server.config
    assert config.http.__name__ == "BoundedH11Protocol" and config.timeout_keep_alive == GATEWAY_BOUNDS.keep_alive


def test_bodies_held_at_once_are_bounded_across_requests(server, monkeypatch):
    """Slow senders of large bodies (each under the per-request limit) cannot make the process hold more than
    its budget: past it, a request gets a 503 to retry, and the budget frees as bodies complete."""
    import opml.httpserver

    port, _ = server
    monkeypatch.setattr(opml.httpserver, "BODY_BUDGET", 6_000)
    held = _connect(port)
    held.sendall(b"POST /bounded HTTP/1.1\r\nHost: x\r\nContent-Length: 5500\r\n\r\n" + b"a" * 5_000)
    time.sleep(0.2)  # the server holds those 5,000 bytes, waiting for the rest
    with _connect(port) as second:
        second.sendall(b"POST /bounded HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n")
        second.sendall(b"b" * 2_000)
        answer = second.recv(4096)
    assert answer.startswith(b"HTTP/1.1 503") and b"too many large requests" in answer
    held.sendall(b"a" * 500)
    assert held.recv(4096).startswith(b"HTTP/1.1 200")
    held.close()
    with _connect(port) as third:
        third.sendall(b"POST /bounded HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n")
        third.sendall(b"c" * 2_000)
        assert third.recv(4096).startswith(b"HTTP/1.1 200")  # the budget was given back
