"""Issue load: N kiosks POST /api/v1/tickets to `luot serve` on SQLite (see bench/README.md).

Also runs a bare Flask + sqlite3 endpoint (bare_app.py) and a raw sqlite3 loop doing the same
transaction, so the cost of Luot's layers shows as ratios; every run's database is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import bare_app

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent  # this venv's `luot` and `gunicorn`
BEGIN, END = "<!-- issue_load:begin -->", "<!-- issue_load:end -->"
COLUMNS = "server conns kiosks tickets t/s p50_ms p99_ms errors dups gaps lost vs_bare vs_raw"
COLUMNS += " client_cpu server_cpu"
DUPS = "SELECT count(*) FROM (SELECT 1 FROM tickets GROUP BY day, number HAVING count(*) > 1)"
GAPS = "SELECT (SELECT coalesce(sum(last), 0) FROM daily_sequences) - (SELECT count(*) FROM"
GAPS += " (SELECT DISTINCT service_id, day, seq FROM tickets))"
ROWS = "SELECT count(*) FROM tickets"
SERVICES = 4  # demo service codes the kiosks rotate over
WARMUP = 2  # untimed tickets per kiosk before each timed run


def address(kiosk: int) -> str:
    """The client address of kiosk n (from 0): each kiosk is a machine of its own, as in a
    center."""
    return f"127.0.{2 + kiosk // 250}.{2 + kiosk % 250}"


def luot(tmp: Path, *args: str) -> str:
    """Runs a `luot` command on the template database in tmp; returns its output."""
    env = {**os.environ, "LUOT_DATABASE_URL": f"sqlite:///{tmp / 'template.db'}"}
    env["LUOT_SECRET_KEY"] = "bench"  # else the app writes var/secret_key
    how: dict[str, Any] = {"env": env, "cwd": tmp, "capture_output": True, "text": True}
    return subprocess.run([str(BIN / "luot"), *args], check=True, **how).stdout


def prepare(tmp: Path, kiosks: int) -> tuple[list[str], list[str]]:
    """A template database: the demo center open around the clock, one token per kiosk."""
    luot(tmp, "init", "--demo")
    out = luot(tmp, "service", "update", "--all", "--hours", "mon-sun 00:00-24:00")
    codes = [line.split(":")[0] for line in out.splitlines()][:SERVICES]  # "TPHT: open; …"
    names = [f"k{n}" for n in range(1, kiosks + 1)]
    with ThreadPoolExecutor(4) as pool:  # each `luot` call starts Python: run a few at once
        made = pool.map(
            lambda k: luot(tmp, "token", "create", "--role", "kiosk", "--name", k), names
        )
        return codes, [token.strip() for token in made]


def start(kind: str, db: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Starts `luot serve` or the bare endpoint on a free port; returns once it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "LUOT_DATABASE_URL": f"sqlite:///{db}", "LUOT_SECRET_KEY": "bench"}
    env["BARE_DB"] = str(db)
    cmd = [str(BIN / "luot"), "serve", "--port", str(port)]
    if kind == "bare":  # the same gunicorn settings as server/serve.py
        cmd = [str(BIN / "gunicorn"), "-k", "gevent", "-w", "1", "--no-control-socket"]
        cmd += ["--keep-alive", "5", "--worker-connections", "10000", "--log-level", "warning"]
        cmd += ["-b", f"127.0.0.1:{port}", "--pythonpath", str(HERE), "bare_app:create_app()"]
    log = tmp / f"{kind}-{port}.log"
    proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"{kind} did not start:\n{log.read_text()[-2000:]}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (gunicorn's master and worker)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def http_request(port: int, path: str, token: str, body: bytes = b"", keep: bool = True) -> bytes:
    """A hand-written HTTP/1.1 POST with a bearer token, ready to send."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    head += f"Connection: {'keep-alive' if keep else 'close'}\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[bytes, bytes]:
    """Sends one request and reads its answer: (head in lower case, body)."""
    writer.write(request)
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    at = head.find(b"content-length:")
    length = int(head[at + 15 : head.index(b"\r\n", at)]) if at >= 0 else 0  # none on a 204
    return head, await reader.readexactly(length)


async def kiosk(
    port: int, token: str, source: str, bodies: list[bytes], keep: bool, state: dict[str, Any]
) -> None:
    """One kiosk at address `source`: POSTs back to back until the deadline or the quota,
    timing each answer."""
    requests = [http_request(port, "/api/v1/tickets", token, body, keep) for body in bodies]
    writer, sent = None, 0
    while time.monotonic() < state["deadline"] and state["left"] > 0:
        state["left"] -= 1
        started = time.perf_counter()
        try:
            if writer is None:  # a fresh connection's connect time counts in its latency
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, local_addr=(source, 0)
                )
            answer, _ = await exchange(reader, writer, requests[sent % len(requests)])
            sent += 1
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            state["errors"] += 1
            answer, keep_open = b"", False
        else:
            state["latencies"].append(time.perf_counter() - started)
            state["statuses"][int(answer[9:12])] = state["statuses"].get(int(answer[9:12]), 0) + 1
            keep_open = keep and b"connection: close" not in answer
        if writer is not None and not keep_open:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def client(
    port: int, kiosks: list[tuple[str, str]], codes: list[str], *share: Any
) -> dict[str, Any]:
    """One client process running its share of the kiosks (token, address); returns what
    it measured."""
    keep, at, left, seconds = share  # connection mode, start instant, quota, duration
    state = {"latencies": [], "statuses": {}, "errors": 0, "left": left, "deadline": at + seconds}
    time.sleep(max(0.0, at - time.monotonic()))
    before = resource.getrusage(resource.RUSAGE_SELF)

    async def run() -> None:
        rotations = [codes[i:] + codes[:i] for i in range(len(codes))]  # kiosks start apart
        bodies = [[b'{"service": "%s"}' % c.encode() for c in r] for r in rotations]
        await asyncio.gather(
            *(
                kiosk(port, token, source, bodies[i % len(bodies)], keep, state)
                for i, (token, source) in enumerate(kiosks)
            )
        )

    asyncio.run(run())
    state["end"] = time.monotonic()
    after = resource.getrusage(resource.RUSAGE_SELF)
    state["cpu"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return state


def summary(kind: str, conns: str, kiosks: int, latencies: list[float], ok: int, elapsed: float):
    """The common columns: tickets, rate and latency percentiles."""
    row = {"server": kind, "conns": conns, "kiosks": kiosks, "tickets": ok, "t/s": ok / elapsed}
    latencies.sort()
    for name, q in (("p50_ms", 0.5), ("p99_ms", 0.99)):
        row[name] = 1000 * latencies[int(len(latencies) * q)] if latencies else float("nan")
    return row


def check(db: Path, answered: int) -> dict[str, int]:
    """Duplicate numbers, numbers handed out that no ticket carries, 201s minus rows (the
    template database holds no tickets, so every row comes from the run)."""
    with sqlite3.connect(db) as conn:
        dups, gaps, rows = [conn.execute(sql).fetchone()[0] for sql in (DUPS, GAPS, ROWS)]
    return {"dups": dups, "gaps": gaps, "lost": answered - rows}


def measure(
    kind: str, kiosks: int, keep: bool, setup: dict[str, Any], args: Any, n: int
) -> dict[str, Any]:
    """One timed run of one server on a fresh database: what the client and the check saw."""
    tmp, db = setup["tmp"], setup["tmp"] / f"{kind}-{kiosks}-{keep}-{n}.db"
    if kind != "bare":
        shutil.copy(tmp / "template.db", db)
    server, port = start(kind, db, tmp)
    tokens = [(token, address(i)) for i, token in enumerate(setup["tokens"][:kiosks])]
    procs = min(args.clients, kiosks)
    # Untimed first tickets: first-request costs (caches, connections) stay out of the figures.
    warm = client(port, tokens, setup["codes"], keep, time.monotonic(), WARMUP * kiosks, 30.0)
    warmed = warm["statuses"].get(201, 0)
    with multiprocessing.Pool(procs) as pool:
        cpu_before, at = cpu_seconds(server.pid), time.monotonic() + 0.5
        share = (keep, at, args.tickets // procs, args.seconds)
        jobs = [(port, tokens[i::procs], setup["codes"], *share) for i in range(procs)]
        states = pool.starmap(client, jobs)
        server_cpu = cpu_seconds(server.pid) - cpu_before
    server.terminate()
    server.wait(timeout=30)
    latencies = [x for s in states for x in s["latencies"]]
    ok = sum(s["statuses"].get(201, 0) for s in states)
    errors = sum(s["errors"] for s in states) + len(latencies) - ok
    errors += warm["errors"] + len(warm["latencies"]) - warmed
    return {
        "elapsed": max(s["end"] for s in states) - at,
        "latencies": latencies,
        "ok": ok,
        "errors": errors,
        "client_cpu": sum(s["cpu"] for s in states),
        "server_cpu": server_cpu,
        **check(db, ok + warmed),
    }


def pooled(kind: str, kiosks: int, keep: bool, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The row of the results table from one or more runs: tickets over the time of them
    all, percentiles over every answer, the database checks and errors added up."""
    elapsed = sum(r["elapsed"] for r in runs)
    latencies = [x for r in runs for x in r["latencies"]]
    ok = sum(r["ok"] for r in runs)
    row = summary(kind, "keep-alive" if keep else "fresh", kiosks, latencies, ok, elapsed)
    for name in ("errors", "dups", "gaps", "lost"):
        row[name] = sum(r[name] for r in runs)
    row["client_cpu"] = f"{100 * sum(r['client_cpu'] for r in runs) / elapsed:.0f}%"
    row["server_cpu"] = f"{100 * sum(r['server_cpu'] for r in runs) / elapsed:.0f}%"
    return row


def raw_loop(tmp: Path, codes: list[str], args: Any) -> dict[str, Any]:
    """The same transaction in a plain sqlite3 loop on one connection: no HTTP, no layers."""
    conn = bare_app.connect(str(tmp / "raw.db"))
    latencies: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds and len(latencies) < args.tickets:
        n = len(latencies) % len(codes)
        began = time.perf_counter()
        bare_app.issue(conn, n + 1, codes[n], "raw")
        latencies.append(time.perf_counter() - began)
    elapsed, ok = time.perf_counter() - start, len(latencies)
    conn.close()
    row = summary("raw sqlite3", "-", 1, latencies, ok, elapsed)
    return {**row, "errors": 0, **check(tmp / "raw.db", ok)}


def cell(value: Any) -> str:
    """A table cell: thousands separators, one decimal for floats."""
    return format(value, {float: ",.1f", int: ","}.get(type(value), ""))


def table(rows: list[dict[str, Any]], markdown: bool = False, columns: str = COLUMNS) -> str:
    """The results as aligned text or as a Markdown table (first two columns left-aligned)."""
    names = columns.split()
    cells = [names] + [[cell(row.get(n, "")) for n in names] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(r) + " |" for r in cells]
        return "\n".join([lines[0], "|---|---|" + "---:|" * (len(names) - 2), *lines[1:]])
    widths = [max(len(r[i]) for r in cells) for i in range(len(names))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells)


def machine() -> str:
    """CPUs and model, memory, load, Python and SQLite versions, date."""
    info = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((x.split(":", 1)[1].strip() for x in info if x.startswith("model name")), "?")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({model}), {mem:.0f} GiB RAM, load average before the run {load};"
        f" Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version};"
        f" {datetime.now().astimezone():%Y-%m-%d %H:%M %z}"
    )


def write_markdown(path: Path, rows: list[dict[str, Any]], about: str, command: str) -> None:
    """Replaces the results section between the markers (appends it the first time)."""
    parts = [BEGIN, f"Machine: {about}", f"Command: `{command}`", table(rows, True)]
    section = "\n\n".join([*parts, END])
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN not in text or END not in text:  # first time: append the section
        text = f"{text.rstrip()}\n\n{BEGIN}{END}\n"
    path.write_text(text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :])


def main() -> None:
    """Parses options, prepares, runs every configuration and reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", default="16", help="kiosk counts, e.g. 1,4,16 (16)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per run (5)")
    parser.add_argument("--tickets", type=int, default=10_000, help="at most, per run (10000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per configuration (3)")
    parser.add_argument("--keepalive", action="store_true", help="keep-alive connections")
    parser.add_argument("--fresh", action="store_true", help="one connection per ticket")
    parser.add_argument("--clients", type=int, default=1, help="client processes (1)")
    parser.add_argument("--markdown", nargs="?", const="docs/benchmarks.md", metavar="PATH")
    args = parser.parse_args()
    counts = [int(k) for k in args.kiosks.split(",")]
    kinds = ["bare", "luot"]
    modes = [m for m, on in ((True, args.keepalive), (False, args.fresh)) if on] or [True, False]
    about = machine()
    with tempfile.TemporaryDirectory(prefix="luot-bench-") as name:
        tmp = Path(name)
        print(f"{about}\nPreparing {max(counts)} kiosk tokens in {tmp} …", flush=True)
        codes, tokens = prepare(tmp, max(counts))
        setup = {"tmp": tmp, "codes": codes, "tokens": tokens}
        rows = [raw_loop(tmp, codes, args)]
        print(table(rows), flush=True)
        for keep in modes:
            for kiosks in counts:
                # Rounds alternate the servers, so all of them see the machine's good and bad
                # moments; each row pools its rounds.
                runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
                for n in range(args.rounds):
                    for kind in runs:
                        runs[kind].append(measure(kind, kiosks, keep, setup, args, n))
                        one = pooled(kind, kiosks, keep, runs[kind][-1:])
                        print(f"round {n + 1}: " + table([one]).splitlines()[-1], flush=True)
                pools = [pooled(kind, kiosks, keep, runs[kind]) for kind in kinds]
                for row in pools:
                    if row["server"] != "bare":
                        row["vs_bare"] = f"{row['t/s'] / pools[0]['t/s']:.2f}×"
                    row["vs_raw"] = f"{row['t/s'] / rows[0]['t/s']:.2f}×"
                    rows.append(row)
    print("\n" + table(rows))
    if args.markdown:
        command = " ".join(["python bench/issue_load.py", *sys.argv[1:]])
        write_markdown(HERE.parent / args.markdown, rows, about, command)


if __name__ == "__main__":
    main()
