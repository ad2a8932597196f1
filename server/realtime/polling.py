"""PollingGuard: a bad long-polling POST gets a 400 at once, never a hang or a 500.

python-engineio 4 closes a session when a POST carries a packet a client may not send (a
ping, a no-op, an unknown type) or a body over its size limit, and then waits for a
long-poll to drain the closed session: with none open, the POST never answers, and the
session's next request fails with a 500 (KeyError 'Session is disconnected'). The guard
answers such a POST 400 before python-engineio sees it, so the session stays usable, and
turns that KeyError, should it still come, into a 400. A message that is no Socket.IO
packet, or bad base64, gets a 400 too: python-engineio answered it 200 and logged a
traceback per message.
"""

from __future__ import annotations

import binascii
import io
import json
from collections.abc import Iterable
from typing import Any

from socketio.packet import Packet

#: What a client may send: close, pong, message, upgrade, and a binary message ("b…").
CLIENT_PACKETS = frozenset("1345b")
SEPARATOR = "\x1e"  # between the packets of one payload (Engine.IO 4)
#: Socket.IO packets a client may send: connect, disconnect, event, ack, binary event and ack.
CLIENT_MESSAGES = frozenset({0, 1, 2, 3, 5, 6})


class PollingGuard:
    """Checks long-polling POSTs before Flask-SocketIO's WSGI middleware handles them."""

    def __init__(self, middleware: Any) -> None:
        self.middleware = middleware  # Flask-SocketIO's: Socket.IO's paths, then Flask
        self.prefix = middleware.engineio_path  # "/socket.io/"
        self.max_bytes = middleware.engineio_app.eio.max_http_buffer_size

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Refuses a bad POST to Socket.IO; passes everything else on."""
        if not environ.get("PATH_INFO", "").startswith(self.prefix):
            return self.middleware(environ, start_response)  # type: ignore[no-any-return]
        if environ.get("REQUEST_METHOD") == "POST":
            refusal = self.refusal(environ)
            if refusal is not None:
                return bad_request(start_response, refusal)
        try:
            return self.middleware(environ, start_response)  # type: ignore[no-any-return]
        except KeyError:  # the session was closed while this request came in
            return bad_request(start_response, "Session is disconnected")

    def refusal(self, environ: dict[str, Any]) -> str | None:
        """Why a POST's body is refused, or None. A body that passes is put back to read."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return "Invalid Content-Length"
        if length > self.max_bytes:
            return "Payload too large"
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        packets = body.decode("utf-8", errors="replace").split(SEPARATOR)
        for packet in filter(None, packets):
            if packet[0] not in CLIENT_PACKETS or (packet[0] == "b" and not _base64(packet[1:])):
                return "Invalid packet"
            if packet[0] == "4" and not _message(packet[1:]):
                return "Invalid message"
        return None


def _base64(text: str) -> bool:
    """A binary packet's payload is strict base64."""
    try:
        binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except ValueError:  # binascii.Error, and UnicodeEncodeError for a non-ASCII character
        return False
    return True


def _message(text: str) -> bool:
    """A message packet holds a Socket.IO packet a client may send."""
    try:
        return Packet(encoded_packet=text).packet_type in CLIENT_MESSAGES
    except (ValueError, TypeError, IndexError):  # bad JSON, type or attachment count
        return False


def bad_request(start_response: Any, message: str) -> list[bytes]:
    """A 400 shaped as python-engineio shapes its own: a JSON string, as text."""
    body = json.dumps(message).encode()
    start_response(
        "400 BAD REQUEST",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]
