"""The session's loopback guard (tests/loopback_guard.py): what it refuses, what it lets through."""

from __future__ import annotations

import socket
import threading

import pytest

from tests import loopback_guard


def test_a_name_lookup_other_than_localhost_is_refused_before_it_is_sent(monkeypatch):
    asked = []
    monkeypatch.setitem(loopback_guard._original, "getaddrinfo", lambda *args, **kwargs: asked.append(args) or [])
    with pytest.raises(socket.gaierror, match="tests stay on loopback"):
        socket.getaddrinfo("dc.services.visualstudio.com", 443)
    assert asked == []  # refused before the real resolver was called
    socket.getaddrinfo("localhost", 80)
    socket.getaddrinfo("192.0.2.7", 80)  # a literal resolves without a lookup
    assert [args[0] for args in asked] == ["localhost", "192.0.2.7"]


@pytest.mark.parametrize("address", [("192.0.2.7", 443), ("8.8.8.8", 53)])
def test_a_connection_other_than_loopback_is_refused(address):
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="tests stay on loopback"):
        sock.connect(address)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="tests stay on loopback"):
        sock.connect_ex(address)


def test_loopback_connections_work():
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as client:
        peer, _ = server.accept()
        client.sendall(b"x")
        assert peer.recv(1) == b"x"
        peer.close()


def test_allow_internet_is_for_the_thread_that_asked(monkeypatch):
    asked = []
    monkeypatch.setitem(loopback_guard._original, "getaddrinfo", lambda *args, **kwargs: asked.append(args) or [])
    refused_elsewhere = []

    def other_thread():
        try:
            socket.getaddrinfo("example.org", 443)
        except socket.gaierror:
            refused_elsewhere.append(True)

    with loopback_guard.allow_internet():
        socket.getaddrinfo("example.org", 443)
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert [args[0] for args in asked] == ["example.org"] and refused_elsewhere == [True]
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.org", 443)
