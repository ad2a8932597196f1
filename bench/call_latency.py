"""Call latency: from a counter's call-next to `ticket_called` at the TVs (bench/README.md).

`luot serve` on a copy of write_path.py's database, under its realistic rush (50 tickets/s
from 16 kiosks, 12 counters calling every 2 s), with 1 and then 500 Socket.IO clients on
`/display`. For every call the counter's send instant is kept; every client records when
`ticket_called` of that number reached it; the latency is the difference (one clock: the
counters, kiosks and clients all run in this process). A call that a client never gets is
counted as lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from math import ceil
from pathlib import Path
from typing import Any

import issue_load as il
import socketio
import write_path as wp

BEGIN, END = "<!-- call_latency:begin -->", "<!-- call_latency:end -->"
TARGET_P99_MS = 20.0
COLUMNS = "clients calls deliveries p50_ms p99_ms max_ms first_p50_ms first_p99_ms lost errors"


async def display(port: int, arrivals: dict[str, list[float]]) -> socketio.AsyncClient:
    """A TV on /display over WebSocket that notes when each call reaches it."""
    client = socketio.AsyncClient(reconnection=False)

    async def called(body: dict[str, Any]) -> None:
        arrivals.setdefault(body["number"], []).append(time.perf_counter())

    client.on("ticket_called", called, namespace="/display")
    await client.connect(
        f"http://127.0.0.1:{port}", namespaces=["/display"], transports=["websocket"]
    )
    return client


async def counter(
    port: int, code: str, token: str, instants: list[float], sent: dict[str, float]
) -> int:
    """Calls next at the instants; keeps the send instant of each number called."""
    ask = il.http_request(port, f"/api/v1/counters/{code}/call-next", token)
    conn = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    for at in instants:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        began = time.perf_counter()
        head, body = await il.exchange(*conn, ask)
        if head.startswith(b"http/1.1 200"):
            sent[json.loads(body)["ticket"]["number"]] = began
        elif not head.startswith(b"http/1.1 204"):
            errors += 1
    conn[1].close()
    return errors


def measure(setup: dict[str, Any], clients: int, seconds: float) -> dict[str, Any]:
    """One run: the rush for `seconds` with `clients` TVs connected."""

    async def run(port: int) -> dict[str, Any]:
        arrivals: dict[str, list[float]] = {}
        tvs = []
        for start in range(0, clients, 50):  # connect in batches, not all at once
            batch = [display(port, arrivals) for _ in range(start, min(clients, start + 50))]
            tvs += await asyncio.gather(*batch)
        begin = time.perf_counter() + 0.5
        end = begin + seconds

        def every(first: float, step: float) -> list[float]:
            return [first + step * i for i in range(ceil((end - first) / step))]

        issues: list[Any] = []
        jobs = []
        for k, token in enumerate(setup["tokens"][: wp.KIOSKS]):
            codes = setup["codes"][k:] + setup["codes"][:k]
            bodies = [b'{"service": "%s"}' % c.encode() for c in codes]
            asks = [il.http_request(port, "/api/v1/tickets", token, body) for body in bodies]
            instants = every(begin + k / wp.RATE, wp.KIOSKS / wp.RATE)
            jobs.append(wp.device(port, asks, instants, issues))
        sent: dict[str, float] = {}
        calls = []
        for n, code in enumerate(setup["rush"]):
            first = begin + 1.0 + n * wp.CALL_EVERY / len(setup["rush"])  # a line first
            instants = every(first, wp.CALL_EVERY)
            calls.append(counter(port, code, setup["staff"][code], instants, sent))
        *_, errors = await asyncio.gather(asyncio.gather(*jobs), asyncio.gather(*calls))
        await asyncio.sleep(1.0)  # the last deliveries
        for tv in tvs:
            await tv.disconnect()
        took = [at - sent[n] for n, ats in arrivals.items() if n in sent for at in ats]
        # The first TV of each call: what the server takes before the last TV's turn comes.
        first = [min(ats) - sent[n] for n, ats in arrivals.items() if n in sent and ats]
        got = sum(len(arrivals.get(number, [])) for number in sent)
        return {
            "clients": clients,
            "calls": len(sent),
            "deliveries": got,
            "p50_ms": wp.quantile(took, 0.5),
            "p99_ms": wp.quantile(took, 0.99),
            "first_p50_ms": wp.quantile(first, 0.5),
            "first_p99_ms": wp.quantile(first, 0.99),
            "max_ms": 1000 * max(took, default=float("nan")),
            "lost": len(sent) * clients - got,
            "errors": sum(errors) + sum(status not in (201,) for _, status, _ in issues),
        }

    with wp.running("luot", setup, f"calls-{clients}") as (port, _db):
        return asyncio.run(run(port))


def main() -> None:
    """Prepares, runs with 1 and 500 clients, reports (and rewrites docs when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,500", help="TVs connected, e.g. 1,500")
    parser.add_argument("--seconds", type=float, default=10.0, help="per run (10)")
    parser.add_argument("--markdown", nargs="?", const="docs/benchmarks.md", metavar="PATH")
    args = parser.parse_args()
    about = il.machine()
    with tempfile.TemporaryDirectory(prefix="luot-bench-") as name:
        print(f"{about}\nPreparing …", flush=True)
        setup = wp.prepare(Path(name))
        rows = [measure(setup, int(n), args.seconds) for n in args.clients.split(",")]
    verdict = []
    for row in rows:
        line = f"{row['clients']} clients: p99 {row['p99_ms']:.1f} ms, {row['lost']} lost"
        if row["clients"] == 1:
            met = row["p99_ms"] <= TARGET_P99_MS and row["lost"] == 0
            line += (
                f" (target p99 ≤ {TARGET_P99_MS:.0f} ms, none lost: {'met' if met else 'NOT MET'})"
            )
        verdict.append(line)
    print("\n" + il.table(rows, columns=COLUMNS) + "\n\n" + "\n".join(verdict))
    if args.markdown:
        command = " ".join(["python bench/call_latency.py", *sys.argv[1:]])
        parts = [f"Machine: {about}", f"Commit: {wp.commit()}", f"Command: `{command}`"]
        body = "\n\n".join([*parts, il.table(rows, True, COLUMNS), "  \n".join(verdict)])
        path = Path(__file__).resolve().parent.parent / args.markdown
        text = path.read_text()
        start, end = text.index(BEGIN), text.index(END)
        path.write_text(f"{text[:start]}{BEGIN}\n\n{body}\n\n{text[end:]}")


if __name__ == "__main__":
    main()
