"""Flask extensions, created unbound here and bound in create_app.

Flask-SocketIO is the exception: one SocketIO object holds one server, so create_app makes
one per app (tests build many apps in one process).
"""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, storage_uri="memory://", default_limits=[])
