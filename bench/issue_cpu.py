"""Issue CPU: CPU time per ticket through the whole app in process, Luot vs the bare endpoint.

No HTTP server and no client: each ticket is one WSGI call (auth, JSON, engine, SQLite file in
WAL with synchronous=FULL), timed with the process's CPU clock, so the figure moves far less
with a shared machine than issue_load.py's rates. Luot and bare_app.py alternate in blocks of
the same run; the best block of each counts. Run again after the lines have grown, since a new
ticket's place is counted over its line. See bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bare_app
import issue_load

from server.app import create_app
from server.config import Config

BEGIN, END = "<!-- issue_cpu:begin -->", "<!-- issue_cpu:end -->"
BLOCK, ROUNDS = 500, 5


def caller(app: Any, token: str | None) -> Callable[[bytes], None]:
    """Issues one ticket through the app's WSGI callable; fails loudly on a non-201."""
    base = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/tickets",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:5000",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if token:
        base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    def call(body: bytes) -> None:
        environ = {**base, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        status: list[str] = []
        b"".join(app(environ, lambda s, _h, _e=None: status.append(s)))
        if not status[0].startswith("201"):
            raise SystemExit(f"issue failed: {status[0]}")

    return call


def cpu_per_ticket(call: Callable[[bytes], None], bodies: list[bytes]) -> float:
    """Milliseconds of this process's CPU per ticket over one block."""
    started = time.process_time()
    for n in range(BLOCK):
        call(bodies[n % len(bodies)])
    return 1000 * (time.process_time() - started) / BLOCK


def measure(luot: Callable[[bytes], None], bare: Callable[[bytes], None], bodies: list[bytes]):
    """Best block of each, alternating, so both see the same machine."""
    luot_ms, bare_ms = [], []
    for _ in range(ROUNDS):
        bare_ms.append(cpu_per_ticket(bare, bodies))
        luot_ms.append(cpu_per_ticket(luot, bodies))
    return min(luot_ms), min(bare_ms)


def main() -> None:
    """Prepares, measures with short lines, grows the lines, measures again, reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grow", type=int, default=6000, help="tickets added before run 2")
    parser.add_argument("--markdown", nargs="?", const="docs/benchmarks.md", metavar="PATH")
    args = parser.parse_args()
    about = issue_load.machine()
    rows = []
    with tempfile.TemporaryDirectory(prefix="luot-cpu-") as name:
        tmp = Path(name)
        codes, (token,) = issue_load.prepare(tmp, 1)
        url = f"sqlite:///{tmp / 'template.db'}"
        app = create_app(Config.from_env({}, LUOT_DATABASE_URL=url, LUOT_SECRET_KEY="bench"))
        luot = caller(app.wsgi_app, token)
        bare = caller(bare_app.create_app(str(tmp / "bare.db")).wsgi_app, None)
        bodies = [b'{"service": "%s"}' % c.encode() for c in codes]
        for n in range(200):  # warm both up: caches, compiled statements, connections
            luot(bodies[n % len(bodies)])
            bare(bodies[n % len(bodies)])
        for label, extra in (("short lines", 0), ("long lines", args.grow)):
            for n in range(extra):
                luot(bodies[n % len(bodies)])
            with app.extensions["luot"].engine.snapshot() as snap:
                waiting = sum(snap.tx.waiting_counts(snap.day).values())
            luot_ms, bare_ms = measure(luot, bare, bodies)
            rows.append((label, waiting, luot_ms, bare_ms))
        app.extensions["luot"].db.dispose()
    lines = ["| lines | waiting | Luot ms CPU/ticket | bare ms CPU/ticket | Luot ÷ bare |"]
    lines.append("|---|---:|---:|---:|---:|")
    for label, waiting, luot_ms, bare_ms in rows:
        lines.append(
            f"| {label} | {waiting:,} | {luot_ms:.3f} | {bare_ms:.3f} | {luot_ms / bare_ms:.2f}× |"
        )
    print(f"{about}\n\n" + "\n".join(lines))
    if args.markdown:
        command = " ".join(["python bench/issue_cpu.py", *sys.argv[1:]])
        parts = [BEGIN, f"Machine: {about}", f"Command: `{command}`", "\n".join(lines), END]
        path = issue_load.HERE.parent / args.markdown
        text = path.read_text()
        if BEGIN not in text:
            text = f"{text.rstrip()}\n\n{BEGIN}{END}\n"
        head, tail = text[: text.index(BEGIN)], text[text.index(END) + len(END) :]
        path.write_text(head + "\n\n".join(parts) + tail)


if __name__ == "__main__":
    main()
