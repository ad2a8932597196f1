"""The schema, as SQLAlchemy Core tables; Alembic migrations must produce exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as naive UTC (SQLite has no zones); read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Aware → naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Naive UTC → aware UTC."""
        if value is None:
            return None
        return cast(datetime, value).replace(tzinfo=UTC)


def site_fk() -> Column[int]:
    """Every table carries its site: Luot is multi-site from the first table."""
    return Column("site_id", Integer, ForeignKey("sites.id"), nullable=False)


sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    # The sequence number of the site's last outbox row, raised under the site's write lock.
    Column("event_seq", Integer, nullable=False, server_default="0"),
)

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True),
    site_fk(),
    Column("code", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("prefix", String(4), nullable=False),
    Column("hours", String(500), nullable=False),
    Column("daily_limit", Integer),
    Column("is_open", Boolean, nullable=False),
    Column("position", Integer, nullable=False, default=0),
    UniqueConstraint("site_id", "code", name="uq_services_site_code"),
    UniqueConstraint("site_id", "prefix", name="uq_services_site_prefix"),
)

procedures = Table(
    "procedures",
    metadata,
    Column("id", Integer, primary_key=True),
    site_fk(),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(500), nullable=False),
    Column("name_folded", String(500), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    UniqueConstraint("site_id", "code", name="uq_procedures_site_code"),
)

counters = Table(
    "counters",
    metadata,
    Column("id", Integer, primary_key=True),
    site_fk(),
    Column("code", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("current_ticket_id", Integer),
    Column("priority_streak", Integer, nullable=False, default=0),
    Column("position", Integer, nullable=False, default=0),
    UniqueConstraint("site_id", "code", name="uq_counters_site_code"),
)

counter_services = Table(
    "counter_services",
    metadata,
    Column("counter_id", Integer, ForeignKey("counters.id"), primary_key=True),
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("rank", Integer, nullable=False),
)

priority_categories = Table(
    "priority_categories",
    metadata,
    Column("id", Integer, primary_key=True),
    site_fk(),
    Column("code", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    UniqueConstraint("site_id", "code", name="uq_priority_categories_site_code"),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True),
    site_fk(),
    Column("day", String(10), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("number", String(16), nullable=False),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("origin_service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("procedure_id", Integer, ForeignKey("procedures.id")),
    Column("priority", String(32)),
    Column("status", String(16), nullable=False),
    Column("lookup_code", String(32), nullable=False, unique=True),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("queued_at", UTCDateTime, nullable=False),
    Column("called_at", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("counter_id", Integer, ForeignKey("counters.id")),
    Column("target_counter_id", Integer, ForeignKey("counters.id")),
    Column("issued_by", String(200)),
    # A number names one ticket of the day: never given twice (prefixes are unique per site).
    UniqueConstraint("site_id", "day", "number", name="uq_tickets_site_day_number"),
    # Covers the line queries: position counts read the index alone, never the table.
    Index(
        "ix_tickets_line",
        "site_id",
        "day",
        "status",
        "service_id",
        "target_counter_id",
        "priority",
        "queued_at",
        "id",
    ),
)

ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True),
    site_fk(),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("counter_id", Integer),
    Column("service_id", Integer),
    Column("target_counter_id", Integer),
    Column("data", Text, nullable=False, default="{}"),
    Index("ix_ticket_events_ticket", "ticket_id", "id"),
    Index("ix_ticket_events_action", "site_id", "action", "at"),
)

# What every committed command leaves for the screens, in the order of `seq`: written in the
# command's own transaction, read by each server process's relay from its own cursor.
outbox = Table(
    "outbox",
    metadata,
    Column("site_id", Integer, ForeignKey("sites.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_outbox_kind", "site_id", "kind", "seq"),
)

daily_sequences = Table(
    "daily_sequences",
    metadata,
    Column("site_id", Integer, ForeignKey("sites.id"), primary_key=True),
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("last", Integer, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("site_id", Integer, ForeignKey("sites.id"), primary_key=True),
    Column("device", String(200), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    site_fk(),
    Column("username", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

user_counters = Table(
    "user_counters",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("counter_id", Integer, ForeignKey("counters.id"), primary_key=True),
)

kiosks = Table(
    "kiosks",
    metadata,
    Column("id", Integer, primary_key=True),
    site_fk(),
    Column("name", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("site_id", "name", name="uq_kiosks_site_name"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    site_fk(),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("name", String(100)),
    Column("counter_id", Integer, ForeignKey("counters.id")),
    Column("kiosk_id", Integer, ForeignKey("kiosks.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)
