"""The `luot` command: init, serve, user, token and service administration."""

from __future__ import annotations

import sys
from typing import Any

import click

from server.config import SETTINGS


class Context:
    """Builds the app lazily, so `luot --help` stays fast and `serve` imports nothing early."""

    def __init__(self) -> None:
        self._app: Any = None

    @property
    def luot(self) -> Any:
        """The wired parts (config, db, engine) of an app built from the environment."""
        if self._app is None:
            from server.app import create_app

            self._app = create_app()
            # Close pooled connections when the command ends (PostgreSQL counts them).
            click.get_current_context().call_on_close(self.close)
        return self._app.extensions["luot"]

    def close(self) -> None:
        """Closes the app's database (after its last events), if an app was built."""
        if self._app is not None:
            self._app.extensions["luot"].close()


pass_context = click.make_pass_decorator(Context, ensure=True)


def fail(error: Exception) -> None:
    """Prints a domain error as the CLI's one-line message and exits 1."""
    code = getattr(error, "code", "error")
    click.echo(f"luot: {code}: {error}", err=True)
    sys.exit(1)


@click.group(epilog="Settings (environment): " + ", ".join(s.env for s in SETTINGS))
def main() -> None:
    """Luot: queue tickets and counter displays for one-stop public service centers."""


@main.command()
@click.option("--demo", is_flag=True, help="Also seed the demo center (idempotent).")
@pass_context
def init(ctx: Context, demo: bool) -> None:
    """Create or migrate the database named by LUOT_DATABASE_URL."""
    from server import setup

    luot = ctx.luot
    created = setup.init(luot.db, luot.config, demo=demo)
    click.echo(f"Database ready: {luot.db.engine.url.render_as_string(hide_password=True)}")
    for username, role, password, new in created:
        note = "" if new else " (demo default; unchanged if someone changed it)"
        click.echo(f"  account {username} ({role}) password: {password}{note}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Run the production server (gunicorn, gevent worker) and print the pages' URLs."""
    from server.serve import ServeError, run

    try:
        run(host, port)
    except ServeError as error:
        fail(error)


@main.group()
def user() -> None:
    """Manage people's accounts."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "supervisor", "staff"]),
    required=True,
    help="What the person may do.",
)
@click.option(
    "--counters",
    default="",
    help="Comma-separated counter codes (staff only; none: every counter).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_context
def user_add(ctx: Context, name: str, role: str, counters: str, password_stdin: bool) -> None:
    """Create a person's account."""
    from server.engine.errors import QueueError
    from server.storage import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    codes = [c.strip() for c in counters.split(",") if c.strip()]
    luot = ctx.luot
    try:
        with luot.db.write() as conn:
            accounts.create_user(conn, luot.engine.site_id, name, role, password, codes)
    except QueueError as error:
        fail(error)
    click.echo(f"Created {role} '{name}'" + (f" for counters {', '.join(codes)}" if codes else ""))


@main.group()
def token() -> None:
    """Manage device and integration tokens."""


@token.command("create")
@click.option(
    "--role",
    type=click.Choice(["kiosk", "display", "staff", "supervisor", "admin"]),
    required=True,
    help="What the token may do.",
)
@click.option("--counter", default=None, help="The counter a staff token works at.")
@click.option("--name", default=None, help="A name; with --role kiosk, the kiosk to enroll.")
@pass_context
def token_create(ctx: Context, role: str, counter: str | None, name: str | None) -> None:
    """Create a token and print only the token."""
    from server.engine.errors import QueueError
    from server.storage import accounts

    luot = ctx.luot
    try:
        with luot.db.write() as conn:
            value = accounts.create_token(conn, luot.engine.site_id, role, counter, name)
    except QueueError as error:
        fail(error)
    click.echo(value)


@main.group()
def service() -> None:
    """Manage services (lĩnh vực)."""


@service.command("update")
@click.argument("code", required=False)
@click.option("--all", "all_", is_flag=True, help="Change every service.")
@click.option(
    "--hours",
    default=None,
    help='Sessions, e.g. "mon-fri 07:30-11:30, mon-fri 13:30-17:00"; '
    '"mon-sun 00:00-24:00" is always open.',
)
@click.option("--daily-limit", default=None, help="Tickets a day, or 'none' for no limit.")
@click.option("--open/--closed", "is_open", default=None, help="Issue tickets or not.")
@pass_context
def service_update(
    ctx: Context,
    code: str | None,
    all_: bool,
    hours: str | None,
    daily_limit: str | None,
    is_open: bool | None,
) -> None:
    """Change a service's hours, daily limit or open flag."""
    from server.engine.engine import UNSET
    from server.engine.errors import QueueError

    if bool(code) == all_:
        raise click.UsageError("give a service CODE or --all (not both)")
    limit: Any = UNSET
    if daily_limit is not None:
        if daily_limit.lower() == "none":
            limit = None
        elif daily_limit.isdigit():
            limit = int(daily_limit)
        else:
            raise click.BadParameter("a whole number or 'none'", param_hint="--daily-limit")
    engine = ctx.luot.engine
    codes = [s["code"] for s in engine.queries.list_services()] if all_ else [code]
    try:
        for each in codes:
            changed = engine.update_service(each, hours=hours, daily_limit=limit, is_open=is_open)
            state = "open" if changed.is_open else "closed"
            limit_text = changed.daily_limit if changed.daily_limit is not None else "none"
            click.echo(f"{changed.code}: {state}; hours {changed.hours}; daily limit {limit_text}")
    except QueueError as error:
        fail(error)


if __name__ == "__main__":
    main()
