"""People's accounts (argon2 passwords) and device tokens (stored as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from server.engine import errors

from . import tables as t

ROLES = ("admin", "supervisor", "staff", "kiosk", "display")
PERSON_ROLES = ("admin", "supervisor", "staff")
TOKEN_PREFIX = "luot_"
_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown name as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a person or a device, its role, and the counters it may work at."""

    kind: str  # "user" or "token"
    id: int
    name: str
    role: str
    counters: frozenset[str]  # empty: every counter
    site_id: int

    @property
    def actor(self) -> str:
        """How the event log names this principal."""
        return f"{self.kind}:{self.name}"

    @property
    def device(self) -> str:
        """The identity an Idempotency-Key is scoped to."""
        return f"{self.kind}:{self.id}"

    def may_work_at(self, counter_code: str) -> bool:
        """Staff at their counters (all when none are listed); supervisors, admins anywhere."""
        if self.role in ("admin", "supervisor"):
            return True
        return self.role == "staff" and (not self.counters or counter_code in self.counters)


def _counter_ids(conn: Connection, site_id: int, codes: Sequence[str]) -> list[int]:
    """Counter ids for codes, or not_found naming the first unknown one."""
    ids = []
    for code in codes:
        row = conn.execute(
            select(t.counters.c.id).where(
                t.counters.c.site_id == site_id, t.counters.c.code == code
            )
        ).first()
        if row is None:
            raise errors.NotFound(f"No counter '{code}'")
        ids.append(int(row.id))
    return ids


def create_user(
    conn: Connection,
    site_id: int,
    username: str,
    role: str,
    password: str,
    counters: Sequence[str] = (),
    replace: bool = False,
) -> int:
    """Creates an account (or, with replace, resets its role, password and counters)."""
    if role not in PERSON_ROLES:
        raise errors.InvalidRequest(f"role must be one of {', '.join(PERSON_ROLES)}")
    if not username or len(username) > 100:
        raise errors.InvalidRequest("a username has 1 to 100 characters")
    if len(password) < 8:
        raise errors.InvalidRequest("a password has at least 8 characters")
    counter_ids = _counter_ids(conn, site_id, counters)
    u = t.users.c
    row = conn.execute(select(u.id).where(u.username == username)).first()
    values = {"role": role, "password_hash": _hasher.hash(password), "active": True}
    if row is not None:
        if not replace:
            raise errors.Conflict(f"User '{username}' exists")
        user_id = int(row.id)
        conn.execute(update(t.users).where(u.id == user_id).values(**values))
    else:
        user_id = int(
            conn.execute(
                insert(t.users)
                .values(
                    site_id=site_id,
                    username=username,
                    created_at=datetime.now(UTC),
                    **values,
                )
                .returning(u.id)
            ).scalar_one()
        )
    conn.execute(delete(t.user_counters).where(t.user_counters.c.user_id == user_id))
    for counter_id in counter_ids:
        conn.execute(insert(t.user_counters).values(user_id=user_id, counter_id=counter_id))
    return user_id


def _user_counters(conn: Connection, user_id: int) -> frozenset[str]:
    """The codes of the counters a user may work at."""
    rows = conn.execute(
        select(t.counters.c.code)
        .join(t.user_counters, t.user_counters.c.counter_id == t.counters.c.id)
        .where(t.user_counters.c.user_id == user_id)
    )
    return frozenset(r[0] for r in rows)


def user_principal(conn: Connection, user_id: int) -> Principal | None:
    """The principal of an active account (sessions keep only its id)."""
    row = conn.execute(select(t.users).where(t.users.c.id == user_id)).first()
    if row is None or not row.active:
        return None
    counters = _user_counters(conn, row.id)
    return Principal("user", row.id, row.username, row.role, counters, row.site_id)


def check_password(conn: Connection, username: str, password: str) -> Principal | None:
    """The account's principal when the password is right, else None."""
    row = conn.execute(select(t.users).where(t.users.c.username == username)).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user_principal(conn, row.id) if row else None


def token_hash(token: str) -> str:
    """Tokens are long random strings, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    conn: Connection,
    site_id: int,
    role: str,
    counter: str | None = None,
    name: str | None = None,
) -> str:
    """Creates a token and returns it (only its hash is kept); a kiosk name enrolls the kiosk."""
    if role not in ROLES:
        raise errors.InvalidRequest(f"role must be one of {', '.join(ROLES)}")
    if counter is not None and role != "staff":
        raise errors.InvalidRequest("--counter goes with --role staff")
    counter_id = _counter_ids(conn, site_id, [counter])[0] if counter else None
    kiosk_id = None
    now = datetime.now(UTC)
    if role == "kiosk" and name:
        k = t.kiosks.c
        row = conn.execute(select(k.id).where(k.site_id == site_id, k.name == name)).first()
        if row is None:
            kiosk_id = int(
                conn.execute(
                    insert(t.kiosks)
                    .values(site_id=site_id, name=name, created_at=now)
                    .returning(k.id)
                ).scalar_one()
            )
        else:
            kiosk_id = int(row.id)  # re-tokening: the kiosk's old tokens stop working
            conn.execute(
                update(t.api_tokens)
                .where(t.api_tokens.c.kiosk_id == kiosk_id, t.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(t.api_tokens).values(
            site_id=site_id,
            token_hash=token_hash(token),
            role=role,
            name=name,
            counter_id=counter_id,
            kiosk_id=kiosk_id,
            created_at=now,
        )
    )
    return token


# Built once: every device request runs it, and building a statement costs more than running it.
TOKEN_LOOKUP = (
    select(t.api_tokens, t.counters.c.code.label("counter_code"))
    .outerjoin(t.counters, t.counters.c.id == t.api_tokens.c.counter_id)
    .where(t.api_tokens.c.token_hash == bindparam("token_hash"))
)


def token_principal_by_hash(conn: Connection, hashed: str) -> Principal | None:
    """The principal of a valid, unrevoked token, by its stored hash."""
    row = conn.execute(TOKEN_LOOKUP, {"token_hash": hashed}).first()
    if row is None or row.revoked_at is not None:
        return None
    counters = frozenset([row.counter_code]) if row.counter_code else frozenset()
    name = row.name or f"{row.role}-{row.id}"
    return Principal("token", row.id, name, row.role, counters, row.site_id)
