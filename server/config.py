"""Config from LUOT_* environment variables: one table of settings, each with its help."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variable, default, parser and help text."""

    env: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


def _at_least_one(value: str) -> int:
    """A whole number of 1 or more."""
    number = int(value)
    if number < 1:
        raise ValueError(f"must be 1 or more, not {number}")
    return number


def _optional(value: str) -> str | None:
    """An empty value means unset."""
    return value or None


def _ordering(value: str) -> str:
    """oldest (default) or strict."""
    if value not in ("oldest", "strict"):
        raise ValueError("LUOT_ORDERING must be 'oldest' or 'strict'")
    return value


SETTINGS: list[Setting] = [
    Setting(
        "LUOT_DATABASE_URL",
        "sqlite:///var/luot.db",
        "Database URL: sqlite:///path (WAL, the default) or postgresql://user@host/db.",
    ),
    Setting(
        "LUOT_SECRET_KEY",
        None,
        "Key that signs session cookies; when unset one is made and kept in var/secret_key.",
        _optional,
    ),
    Setting(
        "LUOT_TIMEZONE",
        "Asia/Ho_Chi_Minh",
        "Time zone of the site's day (numbers restart at local midnight).",
    ),
    Setting(
        "LUOT_PUBLIC_URL",
        None,
        "Base of lookup_url, the address a citizen's phone opens from the QR; "
        "when unset, the address the request came in on.",
        _optional,
    ),
    Setting(
        "LUOT_TRUSTED_PROXIES",
        0,
        "How many reverse proxies (nginx) stand in front: their X-Forwarded-For names the "
        "client, so rate limits count each kiosk or phone, not the proxy.",
        int,
    ),
    Setting("LUOT_SITE", "default", "Code of the site this server serves."),
    Setting(
        "LUOT_ORDERING",
        "oldest",
        "How a counter picks among its services: 'oldest' ticket first (preference breaks "
        "ties) or 'strict' (the first service in its order with anyone waiting).",
        _ordering,
    ),
    Setting(
        "LUOT_OUTBOX_DAYS",
        7,
        "Days the outbox keeps the events sent to screens (the ticket history is kept for ever).",
        _at_least_one,
    ),
    Setting(
        "LUOT_FAULT",
        None,
        "For tests only: 'kill_after_call' kills the server right after it commits a call, "
        "before any screen is told of it.",
        _optional,
    ),
    Setting(
        "LUOT_MAX_PRIORITY_STREAK",
        3,
        "Priority tickets a counter calls in a row, the same day, before an ordinary one must go "
        "next.",
        int,
    ),
    Setting("LUOT_MAX_BODY_BYTES", 65536, "Largest request body accepted, in bytes.", int),
    Setting(
        "LUOT_LOOKUP_RATE",
        "120/minute",
        "Rate limit per client address for ticket lookups, cancels and sign-ins.",
    ),
]


@dataclass(frozen=True)
class Config:
    """The settings of one server, read once at start."""

    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Reads every setting from the environment, then applies overrides by env name."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = env.get(setting.env)
            values[setting.env] = setting.default if raw is None else setting.parse(raw)
        values.update(overrides)
        return cls(values)

    def __getitem__(self, name: str) -> Any:
        """A setting's value by its environment name."""
        return self.values[name]

    def secret_key(self, var_dir: Path = Path("var")) -> str:
        """The configured secret key, or one made once and kept in var/secret_key."""
        if self["LUOT_SECRET_KEY"]:
            return str(self["LUOT_SECRET_KEY"])
        path = var_dir / "secret_key"
        if not path.exists():
            var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()
