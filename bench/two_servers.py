"""Two `luot serve` on one SQLite file: the p50/p99 of issuing when both write at once.

Each server gets half the kiosks; every kiosk issues tickets back to back on a keep-alive
connection (closed loop) for a few seconds, then at a fixed total rate (open loop). The run
ends with the database's check: no number twice, no gap, nothing answered 201 but lost.
Run `.venv/bin/python bench/two_servers.py` (`--kiosks 8 --seconds 5 --rate 50`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

import issue_load as il


def kiosk(port: int, token: str, until: float, interval: float, out: list[tuple[int, float]]):
    """Issues tickets until `until`, one every `interval` seconds (0: back to back)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    due = time.monotonic()
    while due < until:
        if interval:
            time.sleep(max(0.0, due - time.monotonic()))
        began = time.perf_counter()
        conn.request("POST", "/api/v1/tickets", body=b'{"service": "TPHT"}', headers=headers)
        response = conn.getresponse()
        response.read()
        out.append((response.status, time.perf_counter() - began))
        due = due + interval if interval else time.monotonic()


def run(ports: list[int], tokens: list[str], seconds: float, rate: float) -> dict[str, float]:
    """One load phase over every kiosk; returns its figures."""
    results: list[list[tuple[int, float]]] = [[] for _ in tokens]
    until = time.monotonic() + seconds
    interval = len(tokens) / rate if rate else 0.0
    threads = [
        threading.Thread(target=kiosk, args=(ports[i % 2], t, until, interval, results[i]))
        for i, t in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answers = [a for each in results for a in each]
    times = sorted(ms for _, ms in answers)
    return {
        "tickets": len(answers),
        "errors": sum(status != 201 for status, _ in answers),
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
    }


def check(db: Path) -> dict[str, int]:
    """Numbers given twice and gaps in the daily sequence."""
    with sqlite3.connect(db) as conn:
        dups = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM tickets GROUP BY day, number HAVING count(*) > 1)"
        ).fetchone()[0]
        gaps = conn.execute(
            "SELECT (SELECT coalesce(sum(last), 0) FROM daily_sequences)"
            " - (SELECT count(*) FROM tickets)"
        ).fetchone()[0]
    return {"dups": dups, "gaps": gaps}


def main() -> None:
    """Prepares a demo database, starts two servers on it and runs both phases."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kiosks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=50.0, help="tickets/s of the open loop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        _, tokens = il.prepare(tmp, args.kiosks)  # the demo center, open, a token per kiosk
        db = tmp / "template.db"
        servers = [il.start("luot", db, tmp), il.start("luot", db, tmp)]
        try:
            ports = [port for _, port in servers]
            run(ports, tokens, 1.0, 0)  # warm up
            report = {
                "closed loop": run(ports, tokens, args.seconds, 0),
                f"open loop {args.rate:g}/s": run(ports, tokens, args.seconds, args.rate),
            }
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait(10)
        print(json.dumps({"load": os.getloadavg()[0], **report, **check(db)}))


if __name__ == "__main__":
    main()
