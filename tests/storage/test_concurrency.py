"""Several OS processes issue and call at once on one database: nothing is given twice."""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.engine.clock import SystemClock
from server.engine.engine import QueueEngine
from server.engine.events import CollectingSink
from server.storage import tables as t
from server.storage.db import Database
from server.storage.repository import SqlRepository
from tests import dbs

pytestmark = pytest.mark.slow

ISSUERS = 4
# Every PostgreSQL transaction is a dozen round trips, so fewer there keep the file near 30 s.
TICKETS_PER_ISSUER = {"sqlite": 150, "postgresql": 100}
SERVICES = ("TPHT", "TKQ", "CT")  # prefixes A, R, H
# Demo counters whose services overlap and together cover SERVICES.
COUNTERS = ("Q01", "Q02", "Q12")  # TPHT; TPHT+TKQ; TKQ+CT+NNPTNT
PREFIXES = {"TPHT": "A", "TKQ": "R", "CT": "H"}
DEADLINE_SECONDS = 120.0

spawn = multiprocessing.get_context("spawn")


# -- workers (run in spawned processes, so they live at module level) --------------------


def _engine(url: str, site_id: int) -> tuple[QueueEngine, Database]:
    """This process's own Database, repository and engine on the wall clock."""
    db = Database(url)
    engine = QueueEngine(SqlRepository(db), SystemClock(), CollectingSink(), site_id=site_id)
    db.ping()  # connect before the start line, so the race is about transactions
    return engine, db


def _run(out: Any, name: str, body: Callable[[], Any]) -> None:
    """Runs a worker's body and reports its result or its traceback."""
    try:
        out.put((name, "ok", body()))
    except BaseException:
        out.put((name, "error", traceback.format_exc()))


def issuer(url: str, site_id: int, index: int, count: int, start: Any, out: Any) -> None:
    """Issues `count` tickets round the services; reports (id, number, service) of each."""

    def body() -> list[tuple[int, str, str]]:
        engine, db = _engine(url, site_id)
        start.wait(60)
        issued = []
        for i in range(count):
            code = SERVICES[(i + index) % len(SERVICES)]
            view, created = engine.issue(code, actor=f"issuer{index}")
            assert created and view["status"] == "waiting"
            issued.append((view["id"], view["number"], code))
        db.dispose()
        return issued

    _run(out, f"issuer{index}", body)


def caller(url: str, site_id: int, counter: str, start: Any, done: Any, out: Any) -> None:
    """Calls next at one counter until the issuers are done and nobody waits; reports calls."""

    def body() -> list[tuple[int, str]]:
        engine, db = _engine(url, site_id)
        start.wait(60)
        called = []
        while True:
            # Read the flag before calling: an empty answer after it means truly drained.
            finished = done.is_set()
            result = engine.call_next(counter, actor=f"counter:{counter}")
            if result is not None:
                called.append((result["ticket"]["id"], result["ticket"]["number"]))
            elif finished:
                break
            else:
                # An officer presses again a moment later; polling harder only steals the lock.
                time.sleep(0.02)
        db.dispose()
        return called

    _run(out, counter, body)


def retrier(url: str, site_id: int, index: int, tries: int, start: Any, out: Any) -> None:
    """A kiosk retrying one request: the same device and Idempotency-Key, again and again."""

    def body() -> list[tuple[int, str, bool]]:
        engine, db = _engine(url, site_id)
        start.wait(60)
        answers = []
        for _ in range(tries):
            view, created = engine.issue(
                "TPHT", actor="kiosk:k1", device="token:7", idempotency_key="req-0001"
            )
            answers.append((view["id"], view["number"], created))
        db.dispose()
        return answers

    _run(out, f"retrier{index}", body)


# -- the parent's side -------------------------------------------------------------------


@pytest.fixture(params=dbs.BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A fresh demo site with every service open, on each kind of database."""
    url, drop = dbs.fresh(request.param, tmp_path)
    try:
        yield url, dbs.prepare(url)
    finally:
        drop()


def collect(
    processes: dict[str, Any], out: Any, on_result: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Waits for every worker's report (draining the queue before joining)."""
    results: dict[str, Any] = {}
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while len(results) < len(processes):
            try:
                name, status, value = out.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"workers did not finish in time; reported: {sorted(results)}")
            if status != "ok":
                pytest.fail(f"{name} failed:\n{value}")
            results[name] = value
            on_result(name)
        for process in processes.values():
            process.join(30)
            assert process.exitcode == 0
    finally:
        for process in processes.values():
            if process.is_alive():
                process.terminate()
                process.join(5)
    return results


def read_all(url: str) -> tuple[list[Any], list[Any], dict[int, str], dict[str, int]]:
    """Tickets, events (in log order), counter codes by id and service ids by code."""
    db = Database(url)
    try:
        with db.read() as conn:
            tickets = conn.execute(select(t.tickets).order_by(t.tickets.c.id)).all()
            events = conn.execute(select(t.ticket_events).order_by(t.ticket_events.c.id)).all()
            counters = dict(conn.execute(select(t.counters.c.id, t.counters.c.code)).all())
            services = {
                code: sid for sid, code in conn.execute(select(t.services.c.id, t.services.c.code))
            }
            sequences = conn.execute(select(t.daily_sequences)).all()
    finally:
        db.dispose()
    last = {(s.service_id, s.day): s.last for s in sequences}
    for (service_id, day), n in Counter((x.origin_service_id, x.day) for x in tickets).items():
        assert last[(service_id, day)] == n, "the counter row must equal the tickets taken"
    return tickets, events, counters, services


def test_issuers_and_callers_in_parallel(site: tuple[str, int]) -> None:
    """4 issuing and 3 calling processes: unique numbers, 1..n, one call each, all accounted."""
    url, site_id = site
    count = TICKETS_PER_ISSUER[url.split(":")[0].split("+")[0]]
    out, done = spawn.Queue(), spawn.Event()
    start = spawn.Barrier(ISSUERS + len(COUNTERS))
    processes = {
        f"issuer{i}": spawn.Process(target=issuer, args=(url, site_id, i, count, start, out))
        for i in range(ISSUERS)
    }
    processes |= {
        code: spawn.Process(target=caller, args=(url, site_id, code, start, done, out))
        for code in COUNTERS
    }
    for process in processes.values():
        process.start()
    issuers_left = set(range(ISSUERS))

    def on_result(name: str) -> None:
        """The callers may stop once every issuer has reported."""
        if name.startswith("issuer"):
            issuers_left.discard(int(name.removeprefix("issuer")))
            if not issuers_left:
                done.set()

    results = collect(processes, out, on_result)
    tickets, events, counter_code, service_id = read_all(url)
    by_id = {x.id: x for x in tickets}
    prefix_of = {service_id[code]: PREFIXES[code] for code in SERVICES}

    # Every issue the issuers were told about is stored as told, and nothing else is.
    issued = [row for i in range(ISSUERS) for row in results[f"issuer{i}"]]
    assert len(issued) == len(tickets) == ISSUERS * count
    for ticket_id, number, code in issued:
        assert by_id[ticket_id].number == number
        assert by_id[ticket_id].origin_service_id == service_id[code]

    # No number twice; per service and day the sequence is exactly 1..n, matching the number.
    assert len({(x.day, x.number) for x in tickets}) == len(tickets)
    seqs: dict[tuple[int, str], list[int]] = defaultdict(list)
    for x in tickets:
        seqs[(x.origin_service_id, x.day)].append(x.seq)
        assert x.number == f"{prefix_of[x.origin_service_id]}{x.seq:03d}"
    for key, got in seqs.items():
        assert sorted(got) == list(range(1, len(got) + 1)), key

    # Every ticket was issued with its event, and its log replays to its status.
    log: dict[int, list[Any]] = defaultdict(list)
    for e in events:
        log[e.ticket_id].append(e)
    assert set(log) == set(by_id)
    for ticket_id, trail in log.items():
        actions = Counter(e.action for e in trail)
        assert trail[0].action == "issue" and trail[0].from_status is None
        assert actions["issue"] == 1 and actions["call"] <= 1, (ticket_id, actions)
        for before, after in pairwise(trail):
            assert after.from_status == before.to_status, (ticket_id, before, after)
        assert trail[-1].to_status == by_id[ticket_id].status

    # No ticket called twice, and each call was logged for the counter that made it.
    calls = [(code, row) for code in COUNTERS for row in results[code]]
    called_ids = [ticket_id for _, (ticket_id, _) in calls]
    assert len(called_ids) == len(set(called_ids))
    call_events = {e.ticket_id: e for e in events if e.action == "call"}
    assert set(call_events) == set(called_ids)
    for code, (ticket_id, number) in calls:
        assert counter_code[call_events[ticket_id].counter_id] == code
        assert by_id[ticket_id].number == number

    # The counts add up (issued = served + called + waiting, + expired should the test cross
    # the site's midnight), and the callers drained every line they serve.
    status = Counter(x.status for x in tickets)
    assert set(status) <= {"waiting", "called", "served", "expired"}, status
    assert sum(status.values()) == len(tickets) == len(issued)
    for x in tickets:
        if x.id in call_events:
            assert x.status in {"called", "served", "expired"}, (x.number, x.status)
        else:
            assert x.status in {"waiting", "expired"}, (x.number, x.status)
    assert status["waiting"] == 0 and status["called"] == 0, status

    # The processes really overlapped: calls began before issuing ended, issuers interleaved.
    issues = [e for e in events if e.action == "issue"]
    assert min(e.id for e in events if e.action == "call") < issues[-1].id
    assert sum(a.actor != b.actor for a, b in pairwise(issues)) > ISSUERS

    # The clock is read once the write lock is held: a ticket that waited longer for the
    # lock gets a higher number and a later issue time, never an earlier one.
    late = [
        (a.number, b.number)
        for xs in lines(tickets).values()
        for a, b in pairwise(xs)
        if b.issued_at < a.issued_at
    ]
    assert not late, f"issue time runs backwards against the number: {late[:3]}"


def lines(tickets: list[Any]) -> dict[tuple[int, str], list[Any]]:
    """Tickets per service and day in number order."""
    found: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for x in sorted(tickets, key=lambda x: x.seq):
        found[(x.origin_service_id, x.day)].append(x)
    return found


def test_one_idempotency_key_from_two_processes_makes_one_ticket(site: tuple[str, int]) -> None:
    """Two processes retrying the same device's key at once get the same single ticket."""
    url, site_id = site
    tries = 40
    out = spawn.Queue()
    start = spawn.Barrier(2)
    processes = {
        f"retrier{i}": spawn.Process(target=retrier, args=(url, site_id, i, tries, start, out))
        for i in range(2)
    }
    for process in processes.values():
        process.start()
    results = collect(processes, out)
    answers = results["retrier0"] + results["retrier1"]
    tickets, events, _, _ = read_all(url)

    assert len(tickets) == 1
    assert {(ticket_id, number) for ticket_id, number, _ in answers} == {
        (tickets[0].id, tickets[0].number)
    }
    assert sum(created for _, _, created in answers) == 1
    assert [e.action for e in events] == ["issue"]
