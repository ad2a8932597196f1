"""server.sticky: the kernel hands each client address's connections to one socket of a port."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import pytest

from server import sticky


@pytest.fixture
def group() -> Iterator[list[socket.socket]]:
    """Three listening sockets sharing one port with SO_REUSEPORT, picked by client address."""
    sockets: list[socket.socket] = []
    port = 0
    for _ in range(3):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        port = sock.getsockname()[1]
        sock.listen()
        sockets.append(sock)
    sticky.attach(sockets[0], len(sockets))
    yield sockets
    for sock in sockets:
        sock.close()


def reached(sockets: list[socket.socket], address: str) -> int:
    """Connects from `address`; returns the index of the socket that got the connection."""
    with socket.socket() as client:
        client.bind((address, 0))
        client.connect(sockets[0].getsockname())
        ready, _, _ = select.select(sockets, [], [], 5)
        assert len(ready) == 1, ready
        accepted, _ = ready[0].accept()
        accepted.close()
        return sockets.index(ready[0])


def test_each_address_always_reaches_the_same_socket_and_all_sockets_get_some(group) -> None:
    addresses = [f"127.0.0.{n}" for n in range(2, 14)]
    first = {address: reached(group, address) for address in addresses}
    for _ in range(4):  # new connections, new source ports: the same socket every time
        assert {address: reached(group, address) for address in addresses} == first
    assert set(first.values()) == {0, 1, 2}
