"""Write path: a realistic rush, saturation, and call-next cost vs line length (bench/README.md).

Each part runs `luot serve` (one gevent worker) and bare_app.py, a bare Flask + sqlite3
endpoint doing the same transactions under the same gunicorn settings, one after the other on
fresh copies of one prepared database, and checks every database afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from math import ceil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import issue_load as il
import socketio
from sqlalchemy import select

from server.storage import catalog
from server.storage import tables as t
from server.storage.db import Database

BEGIN, END = "<!-- write_path:begin -->", "<!-- write_path:end -->"
KINDS = ("bare", "luot")
RATE, KIOSKS, COUNTERS, CALL_EVERY = 50.0, 16, 12, 2.0  # the rush
WARM = 1.0  # seconds at the start of a rush left out of its figures (first-request costs)
LINE_COUNTER, FOLLOWERS, FILLERS, PAUSE = "BL", 5, 8, 0.1  # the line test
RUSH_P99_MS, SAT_RATIO, SAT_P99_FACTOR, LINE_FACTOR = 25.0, 0.5, 2.0, 2.0  # the targets
WAITING = "SELECT count(*) FROM tickets WHERE status = 'waiting'"
PARTS = {  # each part's table: title, columns
    "rush": (
        f"Rush: open loop, {RATE:.0f} tickets/s from {KIOSKS} kiosks while {COUNTERS} counters"
        f" call every {CALL_EVERY:.0f} s (ms from each request's scheduled send instant)",
        "server tickets issue_p50 issue_p99 calls empty call_p50 call_p99 errors dups gaps lost"
        " called_twice lost_calls",
    ),
    "saturation": (
        f"Saturation: closed loop, {KIOSKS} kiosks back to back on keep-alive connections",
        "server kiosks tickets t/s p50_ms p99_ms errors dups gaps lost vs_bare p99_vs_bare",
    ),
    "lines": (
        f"call-next vs line length (ms; with Luot, {FOLLOWERS} Socket.IO clients on /ticket)",
        "server waiting calls call_median call_p90 issue_median updates/call errors check",
    ),
}


def prepare(tmp: Path) -> dict[str, Any]:
    """issue_load's template database (the demo center open around the clock, kiosk tokens)
    with at least 12 counters, a counter BL serving only the first lĩnh vực (the line test's),
    and a staff token per counter."""
    _, kiosks = il.prepare(tmp, KIOSKS)
    db = Database(f"sqlite:///{tmp / 'template.db'}")
    s, c, cs = t.services.c, t.counters.c, t.counter_services.c
    with db.write() as conn:
        site_id = conn.execute(select(t.sites.c.id)).scalar_one()
        services = conn.execute(select(s.id, s.code).order_by(s.position)).all()
        for n in range(len(conn.execute(select(c.id)).all()), COUNTERS):  # a smaller center
            ids = [services[n % len(services)].id]
            catalog.ensure_counter(conn, site_id, f"B{n + 1:02d}", f"Quầy số {n + 1}", ids, n)
        catalog.ensure_counter(conn, site_id, LINE_COUNTER, "Quầy đo", [services[0].id], 99)
    with db.read() as conn:
        joined = t.counters.join(t.counter_services).join(t.services, s.id == cs.service_id)
        query = select(c.code, s.code.label("service")).select_from(joined)
        counters: dict[str, list[str]] = {}
        for row in conn.execute(query.order_by(c.position, cs.rank)):
            counters.setdefault(row.code, []).append(row.service)
    db.dispose()  # its last connection closes: the WAL goes into template.db, ready to copy
    make = ("token", "create", "--role", "staff", "--counter")
    with ThreadPoolExecutor(4) as pool:
        made = pool.map(lambda code: il.luot(tmp, *make, code).strip(), counters)
        staff = dict(zip(counters, made, strict=True))
    rush = [code for code in counters if code != LINE_COUNTER][:COUNTERS]
    return {"tmp": tmp, "codes": [row.code for row in services], "tokens": kiosks,
            "counters": counters, "staff": staff, "rush": rush,
            "line": counters[LINE_COUNTER][0]}  # fmt: skip


@contextmanager
def running(kind: str, setup: dict[str, Any], part: str) -> Iterator[tuple[int, Path]]:
    """A server on a fresh database (a copy of the template for Luot, an empty one for bare):
    its port and database, the server stopped on leaving."""
    db = setup["tmp"] / f"{part}-{kind}.db"
    if kind == "luot":
        shutil.copy(setup["tmp"] / "template.db", db)
    server, port = il.start(kind, db, setup["tmp"])
    try:
        yield port, db
    finally:
        server.terminate()
        server.wait(timeout=30)


def quantile(seconds: list[float], q: float) -> float:
    """The q-quantile in milliseconds (nearest rank); NaN for no values."""
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def calls_check(db: Path, called: int) -> dict[str, int]:
    """Tickets called more than once, and 200 answers of call-next that left no call event."""
    sql = "SELECT count(*), count(DISTINCT ticket_id) FROM ticket_events WHERE action = 'call'"
    with sqlite3.connect(db) as conn:
        events, tickets = conn.execute(sql).fetchone()
    return {"called_twice": events - tickets, "lost_calls": called - events}


# -- (1) the rush: open loop ------------------------------------------------------------------


async def device(port: int, requests: list[bytes], times: list[float], out: list[Any]) -> None:
    """One kiosk or counter on one keep-alive connection: sends its requests in turn at the
    scheduled instants, recording (instant, status, seconds from the scheduled instant)."""
    conn = None
    for n, at in enumerate(times):
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        try:
            conn = conn or await asyncio.open_connection("127.0.0.1", port)
            head, _ = await il.exchange(*conn, requests[n % len(requests)])
            out.append((at, int(head[9:12]), time.perf_counter() - at))
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            out.append((at, 0, 0.0))  # status 0: a connection error
            head = b"connection: close"
        if conn and b"connection: close" in head:
            conn[1].close()
            conn = None


def rush(kind: str, setup: dict[str, Any], seconds: float) -> dict[str, Any]:
    """50 tickets/s from 16 kiosks at fixed instants (kiosk k at (k + 16 i) / 50 s), each
    starting at a lĩnh vực of its own, while 12 counters call every 2 s, spread over the 2 s."""
    codes, issues, calls = setup["codes"], [], []

    async def run(port: int, start: float) -> None:
        def every(first: float, step: float) -> list[float]:  # the instants before the end
            return [first + step * i for i in range(ceil((start + WARM + seconds - first) / step))]

        jobs = []
        for k, token in enumerate(setup["tokens"][:KIOSKS]):
            bodies = [b'{"service": "%s"}' % c.encode() for c in codes[k:] + codes[:k]]
            asks = [il.http_request(port, "/api/v1/tickets", token, body) for body in bodies]
            jobs.append(device(port, asks, every(start + k / RATE, KIOSKS / RATE), issues))
        for n, code in enumerate(setup["rush"]):
            ask = il.http_request(port, f"/api/v1/counters/{code}/call-next", setup["staff"][code])
            first = start + n * CALL_EVERY / len(setup["rush"])
            jobs.append(device(port, [ask], every(first, CALL_EVERY), calls))
        await asyncio.gather(*jobs)

    with running(kind, setup, "rush") as (port, db):
        start = time.perf_counter() + 0.5
        asyncio.run(run(port, start))

    def timed(answers: list[Any], *statuses: int) -> list[float]:
        return [took for at, status, took in answers if at >= start + WARM and status in statuses]

    issued, called = timed(issues, 201), timed(calls, 200, 204)
    row = {"server": kind, "tickets": len(issued), "calls": len(called)}
    row |= {"issue_p50": quantile(issued, 0.5), "issue_p99": quantile(issued, 0.99)}
    row |= {"call_p50": quantile(called, 0.5), "call_p99": quantile(called, 0.99)}
    row["empty"] = len(timed(calls, 204))  # nobody waited for that counter
    answers = [status for _, status, _ in issues + calls]
    row["errors"] = len(answers) - sum(status in (200, 201, 204) for status in answers)
    return row | il.check(db, answers.count(201)) | calls_check(db, answers.count(200))


# -- (2) saturation: closed loop --------------------------------------------------------------


def saturation(setup: dict[str, Any], seconds: float) -> list[dict[str, Any]]:
    """16 kiosks back to back on keep-alive connections: issue_load's run of bare, then Luot."""
    args = SimpleNamespace(clients=1, tickets=1_000_000, seconds=seconds)
    bare, luot = (
        il.pooled(k, KIOSKS, True, [il.measure(k, KIOSKS, True, setup, args, 0)]) for k in KINDS
    )
    luot["vs_bare"] = f"{luot['t/s'] / bare['t/s']:.2f}×"
    luot["p99_vs_bare"] = f"{luot['p99_ms'] / bare['p99_ms']:.2f}×"
    return [bare, luot]


# -- (3) call-next cost vs line length --------------------------------------------------------


class Followers:
    """Socket.IO clients on /ticket, each following one ticket (a citizen's phone on its QR);
    none for the bare endpoint, which has no Socket.IO."""

    def __init__(self, port: int, kind: str) -> None:
        self.url, self.on = f"http://127.0.0.1:{port}", kind == "luot"
        self.clients: list[socketio.Client] = []
        self.received: list[Any] = []
        self.connects = 0

    def follow(self, codes: list[str]) -> None:
        """Follows these tickets, one client each, instead of the ones followed so far."""
        self.close()
        for code in codes if self.on else []:
            client = socketio.Client(reconnection=False)
            client.on("ticket_updated", self.received.append, namespace="/ticket")
            auth = {"lookup_code": code}
            client.connect(self.url, namespaces=["/ticket"], auth=auth, transports=["websocket"])
            self.clients.append(client)
            self.connects += 1
        time.sleep(PAUSE)  # the server's side of connecting is over before the next call

    def updates(self) -> int:
        """The ticket_updated received, less the one each client gets on connecting."""
        return len(self.received) - self.connects

    def close(self) -> None:
        """Disconnects every client."""
        for client in self.clients:
            client.disconnect()
        self.clients = []


def lines(kind: str, setup: dict[str, Any], lengths: list[int], calls: int) -> list[Any]:
    """One lĩnh vực's line brought to each length (8 kiosks issue through the API), then an
    untimed call-next at counter BL and `calls` timed ones, each followed by one more ticket so
    that the line keeps its length; with Luot, 5 Socket.IO clients follow its newest tickets."""
    fillers = [(token, il.address(i)) for i, token in enumerate(setup["tokens"][:FILLERS])]
    call, staff = f"/api/v1/counters/{LINE_COUNTER}/call-next", setup["staff"][LINE_COUNTER]
    answered, called, rows = 0, 0, []

    def post(path: str, token: str, body: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        began = time.perf_counter()
        conn.request("POST", path, json.dumps(body or {}), {"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        return answer.status, answer.read(), time.perf_counter() - began

    def issue() -> tuple[str, float]:
        status, body, took = post("/api/v1/tickets", setup["tokens"][0], {"service": setup["line"]})
        assert status == 201, (status, body)
        return json.loads(body)["lookup_code"], took

    def waiting() -> int:
        with sqlite3.connect(db) as reader:  # every ticket of this database is of the line
            return reader.execute(WAITING).fetchone()[0]

    with running(kind, setup, "lines") as (port, db):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        followers = Followers(port, kind)
        for length in lengths:
            if (need := length - waiting() - FOLLOWERS) > 0:
                at = time.monotonic()
                fill = il.client(port, fillers, [setup["line"]], True, at, need, 300.0)
                answered += fill["statuses"].get(201, 0)
                conn.close()  # it may have idled past gunicorn's keep-alive: open a new one
            newest = [issue()[0] for _ in range(FOLLOWERS)]
            followers.follow(newest)
            row = {"server": kind, "waiting": waiting(), "calls": calls, "errors": 0}
            updates, took_calls, took_issues = followers.updates(), [], []
            for n in range(calls + 1):
                status, _, took = post(call, staff)
                called, row["errors"] = called + (status == 200), row["errors"] + (status != 200)
                code, took_issue = issue()
                newest = [*newest[1:], code]
                if n:  # the first call of a length is not timed: it comes right after the fill
                    took_calls.append(took)
                    took_issues.append(took_issue)
                time.sleep(PAUSE)  # a counter's calls are seconds apart: let the emits go out
                if n % FOLLOWERS == FOLLOWERS - 1:  # before the followed tickets are called
                    followers.follow(newest)
            answered += FOLLOWERS + calls + 1
            if waiting() != row["waiting"]:
                print(f"warning: the line went from {row['waiting']} to {waiting()}", flush=True)
            row |= {"call_median": quantile(took_calls, 0.5), "call_p90": quantile(took_calls, 0.9)}
            row["issue_median"] = quantile(took_issues, 0.5)
            if followers.on:
                row["updates/call"] = (followers.updates() - updates) / (calls + 1)
            rows.append(row)
        followers.close()
    found = il.check(db, answered) | calls_check(db, called)
    check = ", ".join(f"{name} {n}" for name, n in found.items() if n) or "ok"
    return [row | {"check": check} for row in rows]


# -- report -----------------------------------------------------------------------------------


def verdicts(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One line per target, for Luot: met or not met, with the figures it compares."""
    said = []

    def say(target: str, met: bool, figures: str) -> None:
        said.append(f"{target}: {'met' if met else 'NOT MET'} ({figures})")

    if "rush" in results:
        luot = results["rush"][-1]
        for what in ("issue", "call"):
            p99 = luot[f"{what}_p99"]
            say(f"Rush, {what} p99 ≤ {RUSH_P99_MS:.0f} ms", p99 <= RUSH_P99_MS, f"{p99:.1f} ms")
    if "saturation" in results:
        bare, luot = results["saturation"]
        ratio, factor = luot["t/s"] / bare["t/s"], luot["p99_ms"] / bare["p99_ms"]
        say(f"Saturation, tickets/s ≥ {SAT_RATIO}× bare's", ratio >= SAT_RATIO, f"{ratio:.2f}×")
        figures = f"{luot['p99_ms']:.1f} vs {bare['p99_ms']:.1f} ms, {factor:.2f}×"
        say(f"Saturation, p99 ≤ {SAT_P99_FACTOR:.0f}× bare's", factor <= SAT_P99_FACTOR, figures)
    if len(luot := [row for row in results.get("lines", []) if row["server"] == "luot"]) > 1:
        short, long = luot[0], luot[-1]
        factor = long["call_median"] / short["call_median"]
        target = f"Lines, call-next median at {long['waiting']:,} ≤ {LINE_FACTOR:.0f}× at"
        figures = f"{long['call_median']:.1f} vs {short['call_median']:.1f} ms, {factor:.2f}×"
        say(f"{target} {short['waiting']:,}", factor <= LINE_FACTOR, figures)
    return said


def report(results: dict[str, list[dict[str, Any]]], markdown: bool = False) -> str:
    """The tables of the parts run, as text or Markdown."""
    parts = []
    for part, rows in results.items():
        title, columns = PARTS[part]
        parts += [f"**{title}**" if markdown else title, il.table(rows, markdown, columns)]
    return "\n\n".join(parts)


def commit() -> str:
    """The commit measured, marked when the working tree differs from it."""
    git = ["git", "-C", str(il.HERE.parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True).stdout
    return head.stdout.strip() + (" with uncommitted changes" if dirty.strip() else "")


def write_markdown(path: Path, body: str) -> None:
    """Replaces the section between the markers; the first time, puts the markers before the
    first `## ` heading (above the other benchmarks' results)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN not in text or END not in text:
        at = text.find("\n## ") + 1 or len(text)
        text = f"{text[:at]}## Write path (`bench/write_path.py`)\n\n{BEGIN}\n{END}\n\n{text[at:]}"
    section = f"{BEGIN}\n\n{body}\n\n{END}"
    path.write_text(text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :])


def main() -> None:
    """Parses options, prepares, runs the parts asked for (all by default) and reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rush", action="store_true", help="(1) the open-loop rush")
    parser.add_argument("--saturation", action="store_true", help="(2) closed-loop saturation")
    parser.add_argument("--lines", action="store_true", help="(3) call-next vs line length")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed, per rush run (10)")
    parser.add_argument("--saturation-seconds", type=float, default=5.0, help="per run (5)")
    parser.add_argument("--lengths", default="10,100,1000,3000", help="(10,100,1000,3000)")
    parser.add_argument("--calls", type=int, default=30, help="timed, per line length (30)")
    parser.add_argument("--markdown", nargs="?", const="docs/benchmarks.md", metavar="PATH")
    args = parser.parse_args()
    parts = [part for part in PARTS if getattr(args, part)] or list(PARTS)
    about, results = il.machine(), {}
    command = " ".join(["python bench/write_path.py", *sys.argv[1:]])
    print(f"{about}\nCommit {commit()}; {command}", flush=True)
    with tempfile.TemporaryDirectory(prefix="luot-bench-") as name:
        setup = prepare(Path(name))
        os.environ["BARE_COUNTERS"] = json.dumps(setup["counters"])  # for bare_app.py
        for part in parts:
            if part == "rush":
                results[part] = [rush(kind, setup, args.seconds) for kind in KINDS]
            elif part == "saturation":
                results[part] = saturation(setup, args.saturation_seconds)
            else:
                lengths = [int(n) for n in args.lengths.split(",")]
                results[part] = [r for k in KINDS for r in lines(k, setup, lengths, args.calls)]
            print("\n" + report({part: results[part]}), flush=True)
    print("\n" + "\n".join(verdicts(results)))
    if args.markdown:
        head = f"Machine: {about}\n\nCommit: {commit()}\n\nCommand: `{command}`"
        body = f"{head}\n\n{report(results, True)}\n\n" + "  \n".join(verdicts(results))
        write_markdown(il.HERE.parent / args.markdown, body)


if __name__ == "__main__":
    main()
