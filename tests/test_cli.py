"""The `luot` command against a real database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from server.storage import tables
from server.storage.db import Database
from tests import dbs


@pytest.fixture
def empty_url(tmp_path: Any) -> str:
    """A SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'fresh' / 'luot.db'}"


def count(url: str, table: Any) -> int:
    """Rows in a table."""
    db = Database(url)
    try:
        with db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        db.dispose()


def test_init_demo_is_idempotent(empty_url: str) -> None:
    from click.testing import CliRunner

    from server.cli import main

    env = {"LUOT_DATABASE_URL": empty_url, "LUOT_SECRET_KEY": "x"}
    first = CliRunner().invoke(main, ["init", "--demo"], env=env)
    assert first.exit_code == 0, first.output
    assert "admin (admin) password: demo-admin" in first.output
    counts = [count(empty_url, t) for t in (tables.services, tables.counters, tables.users)]
    assert counts[0] >= 10 and counts[1] == 12 and counts[2] >= 3
    second = CliRunner().invoke(main, ["init", "--demo"], env=env)
    assert second.exit_code == 0, second.output
    assert [count(empty_url, t) for t in (tables.services, tables.counters, tables.users)] == counts


def test_user_add(runner: Callable[..., Any], db_url: str) -> None:
    done = runner(
        "user",
        "add",
        "lan",
        "--role",
        "staff",
        "--counters",
        "Q01,Q02",
        "--password-stdin",
        input="mật khẩu dài\n",
    )
    assert done.exit_code == 0, done.output
    again = runner("user", "add", "lan", "--role", "staff", "--password-stdin", input="x" * 9)
    assert again.exit_code == 1 and "conflict" in again.output
    short = runner("user", "add", "hoa", "--role", "admin", "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "invalid_request" in short.output
    unknown = runner(
        "user",
        "add",
        "an",
        "--role",
        "staff",
        "--counters",
        "Q99",
        "--password-stdin",
        input="long enough\n",
    )
    assert unknown.exit_code == 1 and "not_found" in unknown.output
    prompted = runner(
        "user", "add", "binh", "--role", "supervisor", input="long enough\nlong enough\n"
    )
    assert prompted.exit_code == 0, prompted.output


def test_token_create_prints_only_the_token(runner: Callable[..., Any]) -> None:
    done = runner("token", "create", "--role", "kiosk", "--name", "sanh")
    assert done.exit_code == 0
    assert done.output.count("\n") == 1 and done.output.startswith("luot_")
    staff = runner("token", "create", "--role", "staff", "--counter", "Q03")
    assert staff.exit_code == 0
    wrong = runner("token", "create", "--role", "kiosk", "--counter", "Q03")
    assert wrong.exit_code == 1 and "invalid_request" in wrong.output


def test_service_update(runner: Callable[..., Any], db_url: str) -> None:
    done = runner(
        "service",
        "update",
        "DD",
        "--hours",
        "mon-fri 07:30-11:30",
        "--daily-limit",
        "50",
        "--closed",
    )
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "DD: closed; hours mon-fri 07:30-11:30; daily limit 50"
    none = runner("service", "update", "DD", "--daily-limit", "none", "--open")
    assert none.output.strip().endswith("daily limit none") and ": open;" in none.output
    every = runner("service", "update", "--all", "--hours", "mon-sun 00:00-24:00")
    assert every.exit_code == 0 and every.output.count("mon-sun 00:00-24:00") >= 10
    bad = runner("service", "update", "DD", "--hours", "someday 25:00-26:00")
    assert bad.exit_code == 1 and "invalid_request" in bad.output
    assert runner("service", "update", "NOPE", "--open").exit_code == 1
    assert runner("service", "update", "--open").exit_code == 2  # neither CODE nor --all
    assert runner("service", "update", "DD", "--daily-limit", "many").exit_code == 2


def test_cli_on_postgres_when_available(tmp_path: Any) -> None:
    base = dbs.postgres_base_url()
    if base is None:
        pytest.skip(f"{dbs.POSTGRES_ENV} is not set")
    from click.testing import CliRunner

    from server.cli import main

    url, drop = dbs.fresh_postgres(base)
    try:
        env = {"LUOT_DATABASE_URL": url, "LUOT_SECRET_KEY": "x"}
        assert CliRunner().invoke(main, ["init", "--demo"], env=env).exit_code == 0
        assert count(url, tables.counters) == 12
    finally:
        drop()
