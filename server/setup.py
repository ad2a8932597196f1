"""`luot init`: migrate, make sure the site exists, and optionally seed the demo center."""

from __future__ import annotations

from sqlalchemy import update

from server.config import Config
from server.engine.errors import Conflict
from server.storage import accounts, catalog, tables
from server.storage import demo as demo_center
from server.storage.db import Database
from server.storage.migrate import upgrade

DEFAULT_NAME = "Trung tâm Phục vụ hành chính công"


def init(db: Database, config: Config, demo: bool = False) -> list[tuple[str, str, str, bool]]:
    """Migrates and seeds; returns the demo accounts (username, role, password, created now)."""
    upgrade(db)
    created: list[tuple[str, str, str, bool]] = []
    with db.write() as conn:
        site_id = catalog.ensure_site(
            conn, config["LUOT_SITE"], DEFAULT_NAME, config["LUOT_TIMEZONE"]
        )
        if not demo:
            return created
        conn.execute(
            update(tables.sites)
            .where(tables.sites.c.id == site_id)
            .values(name=demo_center.DEMO_NAME)
        )
        demo_center.seed(conn, site_id)
        for username, role, password, counters in demo_center.ACCOUNTS:
            try:
                accounts.create_user(conn, site_id, username, role, password, counters)
            except Conflict:  # idempotent: an existing account keeps its password
                created.append((username, role, password, False))
            else:
                created.append((username, role, password, True))
    return created
