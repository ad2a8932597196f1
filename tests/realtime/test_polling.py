"""Long-polling bodies a client may not send get a 400 at once, and the session goes on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import LiveServer
from tests.realtime.live import handshake, post_packets

# The guard sits in front of python-engineio, whatever the database.
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

#: Each refused by python-engineio by closing the session and hanging the request.
BAD_BODIES = {
    "a ping from the client": (b"2", "Invalid packet"),
    "a no-op from the client": (b"6", "Invalid packet"),
    "a bad packet after a good one": (b"3\x1e6", "Invalid packet"),
    "no packet type": (b"zz", "Invalid packet"),
    "a body over the limit": (b"4" + b"x" * 1_000_000, "Payload too large"),
}
#: Each answered 200 by python-engineio, with a traceback in the log for every one.
BAD_BODIES |= {
    "a message that is no Socket.IO packet": (b"4hello", "Invalid message"),
    "an event with bad JSON": (b'42/display,["x"', "Invalid message"),
    "a Socket.IO type no client sends": (b"44/display,", "Invalid message"),
    "an unknown Socket.IO type": (b"49", "Invalid message"),
    "bad base64": (b"b!!!", "Invalid packet"),
}


@pytest.fixture
def new_log(live_server: LiveServer) -> Callable[[], str]:
    """What the shared server logs from the start of the test on."""
    start = live_server.log_path.stat().st_size
    return lambda: live_server.log(start)


@pytest.mark.parametrize("body, message", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_bad_long_polling_body_gets_400_and_the_session_goes_on(
    live_server: LiveServer, new_log: Callable[[], str], body: bytes, message: str
) -> None:
    session = handshake(live_server, "127.0.0.1")
    assert post_packets(live_server, session, body) == (400, f'"{message}"'.encode())
    assert post_packets(live_server, session, b"3") == (200, b"OK")  # a pong: the session is alive
    assert "Traceback" not in new_log()


def test_good_long_polling_bodies_still_pass(
    live_server: LiveServer, new_log: Callable[[], str]
) -> None:
    session = handshake(live_server, "127.0.0.1")
    binary = b'451-/display,["x",{"_placeholder":true,"num":0}]\x1ebAAEC'  # an event, bytes
    goods = [b"", b"3", b"40/display,", '3\x1e42/display,["chào"]'.encode(), binary]
    for body in goods:
        assert post_packets(live_server, session, body) == (200, b"OK"), body
    assert "Traceback" not in new_log()
