"""A stateful property test: random kiosk and counter actions on a real engine and SQLite file."""

# A small model of what each action should do runs beside the engine: every action's outcome
# (its result, or exactly which QueueError it raises) is predicted from the model, and after
# each step the database is read back and checked against the model and the queue invariants.

from __future__ import annotations

import copy
import tempfile
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from server.engine import errors
from server.engine.clock import ManualClock
from server.engine.engine import IDEMPOTENCY_WINDOW, QueueEngine
from server.engine.events import CollectingSink, Kind
from server.engine.model import AT_COUNTER, UNFINISHED, Ticket, TicketStatus
from server.engine.ordering import OrderingPolicy, choose_next, line_order, next_streak
from server.engine.replay import replay
from server.storage import catalog
from server.storage import tables as t
from server.storage.db import Database
from server.storage.migrate import upgrade
from server.storage.repository import SqlRepository
from server.storage.rows import event_from_row, ticket_from_row

ICT = timezone(timedelta(hours=7))
ALWAYS = "mon-sun 00:00-24:00"
#: (code, prefix, daily limit)
SERVICES = [("SA", "A", None), ("SB", "B", 2), ("SC", "C", None)]
#: (code, services in preference order): overlapping, in different orders.
COUNTERS = [
    ("Q1", ["SA"]),
    ("Q2", ["SA", "SB"]),
    ("Q3", ["SB", "SC", "SA"]),
    ("Q4", ["SC", "SB"]),
]
SERVICE_CODES = [code for code, _, _ in SERVICES]
COUNTER_CODES = [code for code, _ in COUNTERS]
PRIORITIES = [None, None, None, "elderly", "pregnant", "no-such-category"]

W = TicketStatus.WAITING
Rows = list[Any]


@dataclass
class MTicket:
    """What the model expects of one ticket."""

    id: int
    number: str
    day: str
    seq: int
    origin_id: int
    service_id: int
    priority: str | None
    lookup_code: str
    queued_at: datetime
    status: TicketStatus = W
    counter_id: int | None = None  # the stored column: the counter that last held it
    target_counter_id: int | None = None

    def as_ticket(self) -> Ticket:
        """The engine's Ticket with the fields the ordering policy reads."""
        return Ticket(
            id=self.id,
            site_id=0,
            day=self.day,
            seq=self.seq,
            number=self.number,
            service_id=self.service_id,
            origin_service_id=self.origin_id,
            procedure_id=None,
            priority=self.priority,
            status=self.status,
            lookup_code=self.lookup_code,
            issued_at=self.queued_at,
            queued_at=self.queued_at,
            target_counter_id=self.target_counter_id,
        )


@dataclass
class MCounter:
    """What the model expects of one counter."""

    id: int
    code: str
    service_ids: tuple[int, ...]
    paused: bool = False
    current: int | None = None
    streak: int = 0
    called_on: str | None = None  # the day it last called somebody (its streak is that day's)


@dataclass
class Model:
    """The expected state of the whole site."""

    tickets: dict[int, MTicket] = field(default_factory=dict)
    counters: dict[str, MCounter] = field(default_factory=dict)
    service_ids: dict[str, int] = field(default_factory=dict)
    prefixes: dict[int, str] = field(default_factory=dict)
    limits: dict[int, int | None] = field(default_factory=dict)
    open: dict[int, bool] = field(default_factory=dict)
    issued: Tally[tuple[int, str]] = field(default_factory=Tally)
    keys: dict[tuple[str, str], tuple[int, datetime]] = field(default_factory=dict)
    expired_through: str | None = None

    def expire_before(self, day: str) -> int:
        """Closes unfinished tickets of earlier days as the engine's first write of a day does."""
        stale = {
            tid for tid, tk in self.tickets.items() if tk.day < day and tk.status in UNFINISHED
        }
        for tid in stale:
            self.tickets[tid].status = TicketStatus.EXPIRED
        for counter in self.counters.values():
            if counter.current in stale:
                counter.current = None
        self.expired_through = day
        return len(stale)

    def today(self, day: str, number: str) -> MTicket | None:
        """A ticket by its number on a day."""
        for ticket in self.tickets.values():
            if ticket.day == day and ticket.number == number:
                return ticket
        return None

    def finish_current(self, counter: MCounter) -> None:
        """The counter's current ticket is served (call next / call a number)."""
        if counter.current is not None:
            self.tickets[counter.current].status = TicketStatus.SERVED
        counter.current = None

    def put_at(self, counter: MCounter, ticket: MTicket) -> None:
        """A ticket is called to the counter."""
        ticket.status = TicketStatus.CALLED
        ticket.counter_id = counter.id
        ticket.target_counter_id = None
        counter.current = ticket.id
        counter.called_on = ticket.day  # only today's tickets are called


FAILED = object()


class QueueMachine(RuleBasedStateMachine):
    """Drives a QueueEngine over a fresh SQLite file and checks it against a model."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="luot-sm-")
        self.db = Database(f"sqlite:///{self.tmp.name}/luot.db")
        upgrade(self.db)
        self.model = Model()
        with self.db.engine.begin() as conn:
            self.site_id = catalog.ensure_site(conn, "SM", "Trung tâm thử", "Asia/Ho_Chi_Minh")
            for position, (code, prefix, limit) in enumerate(SERVICES):
                sid = catalog.ensure_service(
                    conn, self.site_id, code, f"Lĩnh vực {prefix}", prefix, ALWAYS, position, limit
                )
                self.model.service_ids[code] = sid
                self.model.prefixes[sid] = prefix
                self.model.limits[sid] = limit
                self.model.open[sid] = True
            for position, (code, services) in enumerate(COUNTERS):
                ids = tuple(self.model.service_ids[s] for s in services)
                cid = catalog.ensure_counter(
                    conn, self.site_id, code, f"Quầy số {position + 1}", ids, position
                )
                self.model.counters[code] = MCounter(cid, code, ids)
            catalog.ensure_priorities(conn, self.site_id)
        self.events_seen: list[tuple[Any, ...]] = []
        self.engine: QueueEngine | None = None

    def teardown(self) -> None:
        """Closes the database and removes its folder."""
        self.db.dispose()
        self.tmp.cleanup()

    @initialize(
        strict=st.booleans(),
        max_streak=st.integers(0, 3),
        start_minute=st.integers(0, 24 * 60 - 1),
        first=st.lists(
            st.tuples(st.sampled_from(SERVICE_CODES), st.sampled_from([None, None, "elderly"])),
            min_size=2,
            max_size=8,
        ),
    )
    def start_engine(
        self,
        strict: bool,
        max_streak: int,
        start_minute: int,
        first: list[tuple[str, str | None]],
    ) -> None:
        """The engine with a random ordering policy and local start time; a first few tickets."""
        start = datetime(2026, 11, 23, tzinfo=ICT) + timedelta(minutes=start_minute)
        self.clock = ManualClock(start)
        self.policy = OrderingPolicy(strict=strict, max_priority_streak=max_streak)
        self.sink = CollectingSink()
        self.published = 0
        self.engine = QueueEngine(
            SqlRepository(self.db), self.clock, self.sink, self.site_id, self.policy
        )
        for seconds, (service, priority) in enumerate(first):
            # A few seconds apart, and two at once: equal queued_at must tie-break too.
            self.clock.advance(seconds=seconds % 2)
            self.try_issue(service, priority, None, None)

    # -- helpers --------------------------------------------------------------------------

    @property
    def eng(self) -> QueueEngine:
        """The engine (built by the initialize rule)."""
        assert self.engine is not None
        return self.engine

    @property
    def day(self) -> str:
        """The site's local day now."""
        return self.clock.now().astimezone(ICT).date().isoformat()

    def draft(self) -> Model:
        """A copy of the model as the next write will find it: past days already closed."""
        draft = copy.deepcopy(self.model)
        draft.expire_before(self.day)
        return draft

    def attempt(self, expected: type[errors.QueueError] | None, action: Callable[[], Any]) -> Any:
        """Runs an engine action; it must raise exactly `expected`, or succeed when None."""
        try:
            result = action()
        except errors.QueueError as error:
            assert expected is not None, f"unexpected {type(error).__name__}: {error.message}"
            assert type(error) is expected, (
                f"expected {expected.__name__}, got {type(error).__name__}: {error.message}"
            )
            return FAILED
        assert expected is None, f"expected {expected.__name__}, the engine succeeded: {result}"
        return result

    def check_view(self, view: dict[str, Any], ticket: MTicket, model: Model) -> None:
        """An action's ticket view agrees with the model."""
        assert view["id"] == ticket.id
        assert view["number"] == ticket.number
        assert view["status"] == ticket.status.value
        codes = {c.id: c.code for c in model.counters.values()}
        expected = codes.get(ticket.counter_id) if ticket.counter_id else None
        assert (view["counter"] or {}).get("code") == expected
        if ticket.status != W:
            assert (view["position"], view["waiting_ahead"]) == (None, None)
            return
        # Its line: the counter it was sent to, or its service; priority first, then oldest.
        line = [
            tk.as_ticket()
            for tk in model.tickets.values()
            if tk.status == W
            and tk.day == ticket.day
            and tk.target_counter_id == ticket.target_counter_id
            and (ticket.target_counter_id is not None or tk.service_id == ticket.service_id)
        ]
        ahead = [tk.id for tk in line_order(line)].index(ticket.id)
        assert (view["position"], view["waiting_ahead"]) == (ahead + 1, ahead), (
            f"{ticket.number} has {view['waiting_ahead']} ahead, expected {ahead}"
        )

    # -- issuing --------------------------------------------------------------------------

    def choose(self, data: st.DataObject, label: str, likely: list[str], others: list[str]) -> str:
        """Mostly one of `likely` (when there are any), sometimes anything of `others`."""
        # Both lists must be in an order that replays identically (never the random lookup
        # codes' order), or Hypothesis cannot replay and shrink an example. Hypothesis draws
        # the simplest choice (0, the first element) more often, so that one is the usual case.
        if likely and data.draw(st.integers(0, 3), label=f"{label} is unusual") != 3:
            return data.draw(st.sampled_from(likely), label=label)
        return data.draw(st.sampled_from(others), label=label)

    def try_issue(
        self, service: str, priority: str | None, device: str | None, key: str | None
    ) -> None:
        """Issues a ticket, predicting a replay of an idempotency key or each refusal."""
        draft, now, day = self.draft(), self.clock.now(), self.day

        def action() -> Any:
            return self.eng.issue(service, priority=priority, device=device, idempotency_key=key)

        earlier = draft.keys.get((device, key)) if device and key else None
        if earlier is not None and earlier[1] >= now - IDEMPOTENCY_WINDOW:
            view, created = self.attempt(None, action)
            assert not created, "a repeated idempotency key issued a new ticket"
            self.check_view(view, draft.tickets[earlier[0]], draft)
            self.model = draft
            return
        sid = draft.service_ids.get(service)
        expected: type[errors.QueueError] | None = None
        if sid is None:
            expected = errors.NotFound
        elif priority not in (None, "elderly", "pregnant"):
            expected = errors.InvalidRequest
        elif not draft.open[sid]:
            expected = errors.ServiceClosed
        elif (limit := draft.limits[sid]) is not None and draft.issued[(sid, day)] >= limit:
            expected = errors.DailyLimitReached
        result = self.attempt(expected, action)
        if result is FAILED:
            return
        assert sid is not None
        view, created = result
        assert created
        draft.issued[(sid, day)] += 1
        seq = draft.issued[(sid, day)]
        number = f"{draft.prefixes[sid]}{seq:03d}"
        ticket = MTicket(view["id"], number, day, seq, sid, sid, priority, view["lookup_code"], now)
        assert ticket.id not in draft.tickets
        draft.tickets[ticket.id] = ticket
        self.check_view(view, ticket, draft)
        if device and key:
            draft.keys[(device, key)] = (ticket.id, now)
        self.model = draft

    @rule(
        service=st.sampled_from([*SERVICE_CODES, *SERVICE_CODES, "ZZ"]),
        priority=st.sampled_from(PRIORITIES),
        device=st.sampled_from([None, "kiosk-1", "kiosk-2"]),
        key=st.sampled_from([None, "k1", "k2"]),
    )
    def issue(
        self, service: str, priority: str | None, device: str | None, key: str | None
    ) -> None:
        """A kiosk issues a ticket, perhaps retrying with an idempotency key, perhaps wrongly."""
        self.try_issue(service, priority, device, key)

    @rule(
        services=st.lists(st.sampled_from(SERVICE_CODES), min_size=1, max_size=4),
        priority=st.sampled_from([None, None, "elderly"]),
    )
    def issue_several(self, services: list[str], priority: str | None) -> None:
        """A small rush of citizens takes tickets."""
        for service in services:
            self.try_issue(service, priority, None, None)

    # -- counter actions ------------------------------------------------------------------

    def open_counters(self) -> list[str]:
        """Counters that are not paused."""
        return [c.code for c in self.model.counters.values() if not c.paused]

    def busy_counters(self) -> list[str]:
        """Counters with somebody at them."""
        return [c.code for c in self.model.counters.values() if c.current is not None]

    @rule(data=st.data())
    def call_next(self, data: st.DataObject) -> None:
        """Call next picks what choose_next picks over every eligible waiting ticket."""
        counter = self.choose(data, "counter", self.open_counters(), COUNTER_CODES)
        draft, day = self.draft(), self.day
        c = draft.counters[counter]
        expected = errors.CounterPaused if c.paused else None
        result = self.attempt(expected, lambda: self.eng.call_next(counter))
        if result is FAILED:
            return
        draft.finish_current(c)
        # The whole eligible list, where the engine reads only the heads of its lines.
        eligible = [
            tk.as_ticket()
            for tk in draft.tickets.values()
            if tk.day == day
            and tk.status == W
            and (
                tk.target_counter_id == c.id
                or (tk.target_counter_id is None and tk.service_id in c.service_ids)
            )
        ]
        streak = c.streak if c.called_on == day else 0  # a streak is the day's only
        chosen = choose_next(eligible, c.service_ids, c.id, streak, self.policy)
        if chosen is None:
            assert result is None, f"nobody eligible, yet {counter} called {result}"
        else:
            assert result is not None, f"{counter} called nobody; expected {chosen.number}"
            assert result["ticket"]["id"] == chosen.id, (
                f"{counter} called {result['ticket']['number']}, expected {chosen.number}"
            )
            c.streak = next_streak(chosen, streak)
            draft.put_at(c, draft.tickets[chosen.id])
            self.check_view(result["ticket"], draft.tickets[chosen.id], draft)
        self.model = draft

    @rule(data=st.data())
    def call_number(self, data: st.DataObject) -> None:
        """Calls a number of the day out of order (waiting and no-show ones may be called)."""
        counter = self.choose(data, "counter", self.open_counters(), COUNTER_CODES)
        callable_now = [
            tk.number
            for tk in self.model.tickets.values()
            if tk.day == self.day and tk.status in (W, TicketStatus.NO_SHOW)
        ]
        anything = [*dict.fromkeys(tk.number for tk in self.model.tickets.values()), "Z999", " "]
        number = self.choose(data, "number", callable_now, anything)
        if data.draw(st.booleans(), label="typed sloppily"):
            number = f" {number.lower()} "
        draft = self.draft()
        c = draft.counters[counter]
        ticket = draft.today(self.day, number.strip().upper())
        expected: type[errors.QueueError] | None = None
        if not number.strip():
            expected = errors.InvalidRequest
        elif c.paused:
            expected = errors.CounterPaused
        elif ticket is None:
            expected = errors.NotFound
        elif ticket.status not in (W, TicketStatus.NO_SHOW):
            expected = errors.InvalidState
        result = self.attempt(expected, lambda: self.eng.call_number(counter, number))
        if result is FAILED:
            return
        assert ticket is not None
        draft.finish_current(c)
        draft.put_at(c, ticket)
        self.check_view(result["ticket"], ticket, draft)
        self.model = draft

    @rule(data=st.data(), action=st.sampled_from(["recall", "start", "skip", "finish"]))
    def act_on_current(self, data: st.DataObject, action: str) -> None:
        """Recall, start, skip (no-show) or finish the counter's current ticket."""
        counter = self.choose(data, "counter", self.busy_counters(), COUNTER_CODES)
        draft = self.draft()
        c = draft.counters[counter]
        ticket = draft.tickets[c.current] if c.current is not None else None
        expected: type[errors.QueueError] | None = None
        if ticket is None:
            expected = errors.NoCurrentTicket
        elif action == "start" and ticket.status != TicketStatus.CALLED:
            expected = errors.InvalidState
        calls = {
            "recall": self.eng.recall,
            "start": self.eng.start,
            "skip": self.eng.skip,
            "finish": self.eng.finish,
        }
        result = self.attempt(expected, lambda: calls[action](counter))
        if result is FAILED:
            return
        assert ticket is not None
        if action == "start":
            ticket.status = TicketStatus.SERVING
        elif action in ("skip", "finish"):
            ticket.status = TicketStatus.NO_SHOW if action == "skip" else TicketStatus.SERVED
            c.current = None
        self.check_view(result["ticket"], ticket, draft)
        self.model = draft

    @rule(
        data=st.data(),
        kind=st.sampled_from(["counter", "service", "counter", "service", "both", "neither"]),
        to_service=st.sampled_from([*SERVICE_CODES, "ZZ"]),
        to_counter=st.sampled_from([*COUNTER_CODES, "QX"]),
    )
    def transfer(self, data: st.DataObject, kind: str, to_service: str, to_counter: str) -> None:
        """Sends the current ticket to another service or counter, keeping its place."""
        counter = self.choose(data, "counter", self.busy_counters(), COUNTER_CODES)
        service_code = to_service if kind in ("service", "both") else None
        counter_code = to_counter if kind in ("counter", "both") else None

        def action() -> Any:
            return self.eng.transfer(
                counter, service_code=service_code, to_counter_code=counter_code
            )

        if kind in ("both", "neither"):
            self.attempt(errors.InvalidRequest, action)
            return
        draft = self.draft()
        c = draft.counters[counter]
        expected: type[errors.QueueError] | None = None
        if c.current is None:
            expected = errors.NoCurrentTicket
        if expected is None and service_code is not None and service_code not in SERVICE_CODES:
            expected = errors.NotFound
        if expected is None and counter_code is not None:
            if counter_code not in draft.counters:
                expected = errors.NotFound
            elif counter_code == counter:
                expected = errors.InvalidRequest
        result = self.attempt(expected, action)
        if result is FAILED:
            return
        assert c.current is not None
        ticket = draft.tickets[c.current]
        ticket.status, ticket.counter_id, c.current = W, None, None
        if service_code is not None:
            ticket.service_id, ticket.target_counter_id = draft.service_ids[service_code], None
        else:
            assert counter_code is not None
            ticket.target_counter_id = draft.counters[counter_code].id
        self.check_view(result["ticket"], ticket, draft)
        self.model = draft

    @rule(counter=st.sampled_from(COUNTER_CODES), paused=st.sampled_from([True, False, False]))
    def pause_or_resume(self, counter: str, paused: bool) -> None:
        """Pauses or resumes a counter; its current ticket stays."""
        draft = self.draft()
        result = self.attempt(None, lambda: self.eng.set_paused(counter, paused))
        c = draft.counters[counter]
        c.paused = paused
        state = "paused" if paused else ("serving" if c.current else "idle")
        assert result["counter"]["state"] == state
        self.model = draft

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        """The holder cancels a ticket (only a waiting one may be)."""
        waiting = [tk.lookup_code for tk in self.model.tickets.values() if tk.status == W]
        anything = [*(tk.lookup_code for tk in self.model.tickets.values()), "nope"]
        code = self.choose(data, "lookup_code", waiting, anything)
        draft = self.draft()
        ticket = next((tk for tk in draft.tickets.values() if tk.lookup_code == code), None)
        expected: type[errors.QueueError] | None = None
        if ticket is None:
            expected = errors.NotFound
        elif ticket.status != W:
            expected = errors.InvalidState
        result = self.attempt(expected, lambda: self.eng.cancel(code))
        if result is FAILED:
            return
        assert ticket is not None
        ticket.status = TicketStatus.CANCELLED
        self.check_view(result["ticket"], ticket, draft)
        self.model = draft

    # -- administration and time ----------------------------------------------------------

    @rule(
        service=st.sampled_from(SERVICE_CODES),
        is_open=st.sampled_from([None, True, None, True, False]),
        limit=st.sampled_from(["keep", "keep", "keep", None, None, 0, 1, 3]),
    )
    def administer(self, service: str, is_open: bool | None, limit: object) -> None:
        """An administrator opens or closes a service or changes its daily limit."""
        draft = self.draft()
        sid = draft.service_ids[service]
        if limit == "keep":
            self.attempt(None, lambda: self.eng.update_service(service, is_open=is_open))
        else:
            assert limit is None or isinstance(limit, int)
            self.attempt(
                None, lambda: self.eng.update_service(service, daily_limit=limit, is_open=is_open)
            )
            draft.limits[sid] = limit
        if is_open is not None:
            draft.open[sid] = is_open
        self.model = draft

    @rule(unit=st.sampled_from(["seconds", "minutes"]), amount=st.integers(0, 300))
    def time_passes(self, unit: str, amount: int) -> None:
        """Nothing, seconds or minutes (up to 5 hours) pass."""
        self.clock.advance(**{unit: amount})

    @rule(
        minutes=st.integers(23 * 60, 25 * 60),
        sweep=st.sampled_from([None, "roll_day", "expire_past_days"]),
    )
    def next_day(self, minutes: int, sweep: str | None) -> None:
        """About a day passes; then perhaps the day is rolled or past days swept explicitly."""
        # The next write closes the unfinished tickets of earlier days; expire_past_days must
        # close exactly those and say how many, roll_day the same unless today was written to.
        self.clock.advance(minutes=minutes)
        if sweep is None:
            return
        draft = copy.deepcopy(self.model)
        already = draft.expired_through == self.day
        expected = draft.expire_before(self.day)
        if sweep == "roll_day":
            assert self.attempt(None, self.eng.roll_day) == (0 if already else expected)
        else:
            assert self.attempt(None, self.eng.expire_past_days) == expected
        self.model = draft

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def database_is_consistent(self) -> None:
        """Reads the database once after each step and checks every invariant on it."""
        with self.db.read() as conn:
            tickets = [ticket_from_row(r) for r in conn.execute(select(t.tickets))]
            counters = list(conn.execute(select(t.counters).order_by(t.counters.c.id)))
            events = list(conn.execute(select(t.ticket_events).order_by(t.ticket_events.c.id)))
            sequences = list(conn.execute(select(t.daily_sequences)))
        self.numbers_are_unique_and_gapless(tickets, sequences)
        self.places_are_right(tickets)
        self.counters_hold_their_tickets(tickets, counters)
        self.tickets_match_the_model(tickets)
        self.events_replay_to_the_tickets(tickets, counters, events)
        self.past_days_are_closed_and_history_kept(tickets, events)
        self.displays_got_the_counts()

    def numbers_are_unique_and_gapless(self, tickets: list[Ticket], sequences: Rows) -> None:
        """Per day a number names one ticket; per prefix and day the seqs are 1..n."""
        numbers = Tally((tk.day, tk.number) for tk in tickets)
        assert all(n == 1 for n in numbers.values()), f"numbers given twice: {numbers}"
        seqs: dict[tuple[int, str], list[int]] = {}
        for tk in tickets:
            expected = f"{self.model.prefixes[tk.origin_service_id]}{tk.seq:03d}"
            assert tk.number == expected, f"ticket {tk.id} numbered {tk.number}, not {expected}"
            seqs.setdefault((tk.origin_service_id, tk.day), []).append(tk.seq)
        for key, found in seqs.items():
            assert sorted(found) == list(range(1, len(found) + 1)), f"gap in {key}: {found}"
        taken = {(s.service_id, s.day): s.last for s in sequences}
        issued = {key: len(found) for key, found in seqs.items()}
        assert taken == issued, f"sequences taken {taken} but tickets issued {issued}"

    def places_are_right(self, tickets: list[Ticket]) -> None:
        """Every waiting ticket's place, as the storage counts it, is its index in
        `line_order` of its line."""
        waiting = [tk for tk in tickets if tk.status == W]
        with self.eng.repo.read(self.site_id) as tx:
            for tk in waiting:
                line = [
                    other
                    for other in waiting
                    if other.day == tk.day
                    and other.target_counter_id == tk.target_counter_id
                    and (tk.target_counter_id is not None or other.service_id == tk.service_id)
                ]
                ahead = [other.id for other in line_order(line)].index(tk.id)
                assert tx.count_ahead(tk) == ahead, f"{tk.number}: {tx.count_ahead(tk)} ahead"

    def counters_hold_their_tickets(self, tickets: list[Ticket], counters: Rows) -> None:
        """One counter per called/serving ticket and one ticket per counter, both ways."""
        by_id = {tk.id: tk for tk in tickets}
        currents = [c.current_ticket_id for c in counters if c.current_ticket_id is not None]
        assert len(currents) == len(set(currents)), f"a ticket at two counters: {currents}"
        for c in counters:
            if c.current_ticket_id is not None:
                tk = by_id[c.current_ticket_id]
                assert tk.status in AT_COUNTER, f"{c.code} holds {tk.number} ({tk.status})"
                assert tk.counter_id == c.id, f"{c.code} holds {tk.number} of {tk.counter_id}"
        at_counter = {tk.id for tk in tickets if tk.status in AT_COUNTER}
        assert at_counter == set(currents), f"called/serving {at_counter} vs {currents}"
        for c in counters:
            expected = self.model.counters[c.code]
            stored = (c.paused, c.current_ticket_id, c.priority_streak)
            assert stored == (expected.paused, expected.current, expected.streak), (
                f"{c.code}: (paused, current, streak) {stored}, expected {expected}"
            )

    def tickets_match_the_model(self, tickets: list[Ticket]) -> None:
        """No waiting ticket lost or invented; every ticket where the model expects it."""
        waiting = {tk.id for tk in tickets if tk.status == W}
        expected_waiting = {tk.id for tk in self.model.tickets.values() if tk.status == W}
        assert waiting == expected_waiting, f"waiting {waiting}, expected {expected_waiting}"
        assert {tk.id for tk in tickets} == set(self.model.tickets), "tickets lost or invented"
        for tk in tickets:
            m = self.model.tickets[tk.id]
            stored = (tk.status, tk.service_id, tk.target_counter_id, tk.counter_id)
            assert stored == (m.status, m.service_id, m.target_counter_id, m.counter_id), (
                f"stored {tk}\nexpected {m}"
            )
            assert (tk.number, tk.day, tk.priority, tk.queued_at) == (
                m.number,
                m.day,
                m.priority,
                m.queued_at,
            ), f"stored {tk}\nexpected {m}"

    def events_replay_to_the_tickets(
        self, tickets: list[Ticket], counters: Rows, events: Rows
    ) -> None:
        """Folding the event log gives every stored ticket's status, counter, service, target."""
        replayed = replay(event_from_row(e) for e in events)
        assert set(replayed) == {tk.id for tk in tickets}, "a ticket without history"
        holder = {c.current_ticket_id: c.id for c in counters if c.current_ticket_id}
        for tk in tickets:
            r = replayed[tk.id]
            assert (r.status, r.service_id, r.target_counter_id) == (
                tk.status,
                tk.service_id,
                tk.target_counter_id,
            ), f"replayed {r}, stored {tk}"
            assert r.last_counter_id == tk.counter_id, f"replayed {r}, stored {tk}"
            assert r.counter_id == holder.get(tk.id), f"replayed {r}, held by {holder}"

    def past_days_are_closed_and_history_kept(self, tickets: list[Ticket], events: Rows) -> None:
        """Once today has been written to, no earlier ticket is unfinished; events only grow."""
        if self.model.expired_through == self.day:
            stale = [tk.number for tk in tickets if tk.day < self.day and tk.status in UNFINISHED]
            assert not stale, f"unfinished tickets of earlier days: {stale}"
        rows = [tuple(e) for e in events]
        assert rows[: len(self.events_seen)] == self.events_seen, "the event log was rewritten"
        self.events_seen = rows

    def displays_got_the_counts(self) -> None:
        """Every event is numbered by the site's sequence, one after another and never twice;
        a step that changed the lines carries the counts displays show, and they are right."""
        fresh = self.sink.events[self.published :]
        self.published = len(self.sink.events)
        seqs = [e.seq for e in self.sink.events]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True, seqs
        counts = [e.payload["waiting"] for e in fresh if e.kind == Kind.QUEUE_CHANGED]
        if not counts:
            return
        day = self.model.expired_through  # the day of the last successful write
        expected = {
            code: sum(
                1
                for tk in self.model.tickets.values()
                if tk.status == W and tk.day == day and tk.service_id == sid
            )
            for code, sid in self.model.service_ids.items()
        }
        assert counts[-1] == expected, f"queue_changed {counts[-1]}, expected {expected}"


QueueMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestQueueEngineStateMachine = QueueMachine.TestCase
