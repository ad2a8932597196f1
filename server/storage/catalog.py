"""Writes the catalogue of a site: the site itself, services, procedures, counters, priorities."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select

from server.engine.hours import parse_hours
from server.engine.text import fold

from . import tables as t

DEFAULT_PRIORITIES = [
    ("elderly", "Người cao tuổi"),
    ("disability", "Người khuyết tật"),
    ("pregnant", "Phụ nữ mang thai"),
    ("meritorious", "Người có công với cách mạng"),
    ("young_child", "Người đi cùng trẻ nhỏ dưới 6 tuổi"),
]


def ensure_site(conn: Connection, code: str, name: str, timezone: str) -> int:
    """The site's id, creating it with this name and zone when missing."""
    row = conn.execute(select(t.sites.c.id).where(t.sites.c.code == code)).first()
    if row is not None:
        return int(row.id)
    return int(
        conn.execute(
            insert(t.sites).values(code=code, name=name, timezone=timezone).returning(t.sites.c.id)
        ).scalar_one()
    )


def ensure_service(
    conn: Connection,
    site_id: int,
    code: str,
    name: str,
    prefix: str,
    hours: str,
    position: int,
    daily_limit: int | None = None,
) -> int:
    """A service's id, creating it when missing (an existing one keeps its settings)."""
    s = t.services.c
    row = conn.execute(select(s.id).where(s.site_id == site_id, s.code == code)).first()
    if row is not None:
        return int(row.id)
    values = dict(
        site_id=site_id,
        code=code,
        name=name,
        prefix=prefix,
        position=position,
        hours=parse_hours(hours).spec(),
        daily_limit=daily_limit,
        is_open=True,
    )
    service_id = int(conn.execute(insert(t.services).values(**values).returning(s.id)).scalar_one())
    return service_id


def ensure_procedure(
    conn: Connection, site_id: int, service_id: int, code: str, name: str, position: int
) -> None:
    """Adds a procedure when missing."""
    p = t.procedures.c
    if conn.execute(select(p.id).where(p.site_id == site_id, p.code == code)).first():
        return
    conn.execute(
        insert(t.procedures).values(
            site_id=site_id,
            service_id=service_id,
            code=code,
            name=name,
            name_folded=fold(name),
            position=position,
        )
    )


def ensure_counter(
    conn: Connection,
    site_id: int,
    code: str,
    name: str,
    service_ids: Sequence[int],
    position: int,
) -> int:
    """A counter's id, creating it with its services in preference order when missing."""
    c = t.counters.c
    row = conn.execute(select(c.id).where(c.site_id == site_id, c.code == code)).first()
    if row is not None:
        return int(row.id)
    counter_id = int(
        conn.execute(
            insert(t.counters)
            .values(
                site_id=site_id,
                code=code,
                name=name,
                paused=False,
                priority_streak=0,
                position=position,
            )
            .returning(c.id)
        ).scalar_one()
    )
    set_counter_services(conn, site_id, counter_id, service_ids)
    return counter_id


def set_counter_services(
    conn: Connection, site_id: int, counter_id: int, service_ids: Sequence[int]
) -> None:
    """Replaces a counter's services, keeping the order given as its preference."""
    conn.execute(delete(t.counter_services).where(t.counter_services.c.counter_id == counter_id))
    if service_ids:
        conn.execute(
            insert(t.counter_services),
            [
                {"counter_id": counter_id, "service_id": sid, "rank": rank}
                for rank, sid in enumerate(service_ids)
            ],
        )


def ensure_priorities(
    conn: Connection, site_id: int, categories: Sequence[tuple[str, str]] = DEFAULT_PRIORITIES
) -> None:
    """Adds the priority categories that are missing."""
    p = t.priority_categories.c
    for position, (code, name) in enumerate(categories):
        if not conn.execute(select(p.id).where(p.site_id == site_id, p.code == code)).first():
            conn.execute(
                insert(t.priority_categories).values(
                    site_id=site_id, code=code, name=name, position=position
                )
            )
