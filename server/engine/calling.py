"""Counter actions: call next, call a number, recall, start, skip, finish, transfer, pause."""

from __future__ import annotations

from typing import Any

from . import errors, speech
from .events import CounterChanged, TicketCalled
from .model import AT_COUNTER, Action, Counter, Ticket, TicketEvent, TicketStatus
from .ordering import choose_next, next_streak
from .ports import Tx
from .views import Snapshot
from .work import Transactions, Work


class Calling(Transactions):
    """What an officer does at a counter; each action is one transaction."""

    def call_next(self, counter_code: str, actor: str = "system") -> dict[str, Any] | None:
        """Finishes the counter's current ticket and calls the next one (None: nobody waits)."""
        with self._write(actor) as work:
            counter = self.counter(work.tx, counter_code)
            if counter.paused:
                raise errors.CounterPaused(f"{counter.name} đang tạm dừng (counter paused)")
            self._finish_current(work, counter)
            heads = work.tx.line_heads(work.day, counter_id=counter.id)
            for service_id in counter.service_ids:
                heads += work.tx.line_heads(work.day, service_id=service_id)
            streak = self._todays_streak(work, counter)
            chosen = choose_next(heads, counter.service_ids, counter.id, streak, self.policy)
            if chosen is None:
                work.tx.update_counter(counter)
                work.events.append(CounterChanged(self.site_id, counter.code))
                return None
            counter.priority_streak = next_streak(chosen, streak)
            return self._call(work, counter, chosen)

    def call_number(self, counter_code: str, number: str, actor: str = "system") -> dict[str, Any]:
        """Calls a waiting or no-show ticket of today out of order."""
        if not isinstance(number, str) or not number.strip():
            raise errors.InvalidRequest("'number' must be a ticket number such as A012")
        with self._write(actor) as work:
            counter = self.counter(work.tx, counter_code)
            if counter.paused:
                raise errors.CounterPaused(f"{counter.name} đang tạm dừng (counter paused)")
            ticket = work.tx.ticket_by_number(work.day, number.strip().upper())
            if ticket is None:
                raise errors.NotFound(f"Không có số {number} hôm nay (no such ticket today)")
            if ticket.status not in (TicketStatus.WAITING, TicketStatus.NO_SHOW):
                raise errors.InvalidState(
                    f"Số {ticket.number} đang ở trạng thái {ticket.status.value}",
                    status=ticket.status.value,
                )
            self._finish_current(work, counter)
            return self._call(work, counter, ticket)

    @staticmethod
    def _todays_streak(work: Work, counter: Counter) -> int:
        """The counter's priority calls in a row, if it called anybody today: the first
        calls of a day put priority first again, whatever the last ones of yesterday were."""
        if not counter.priority_streak:
            return 0
        midnight = work.local.replace(hour=0, minute=0, second=0, microsecond=0)
        return counter.priority_streak if counter.id in work.tx.active_counter_ids(midnight) else 0

    def _finish_current(self, work: Work, counter: Counter) -> None:
        """The counter's current ticket (if any) is served."""
        ticket = self._current(work.tx, counter)
        if ticket is not None:
            self._move(work, ticket, Action.FINISH, TicketStatus.SERVED, finished_at=work.now)
        counter.current_ticket_id = None

    def _call(self, work: Work, counter: Counter, ticket: Ticket) -> dict[str, Any]:
        """Puts a ticket at the counter and announces it."""
        called = self._move(
            work,
            ticket,
            Action.CALL,
            TicketStatus.CALLED,
            counter_id=counter.id,
            target_counter_id=None,
            called_at=work.now,
            started_at=None,
            finished_at=None,
        )
        counter.current_ticket_id = called.id
        work.tx.update_counter(counter)
        self._announce(work, counter, called, work.changed[-1])
        return {"ticket": self._full(work.tx, work, called)}

    def _announce(self, work: Work, counter: Counter, ticket: Ticket, event: TicketEvent) -> None:
        """Queues the `ticket_called` event for displays, the counter and the ticket."""
        snap = Snapshot(work.tx, work.day, work.now, self.zone(work.tx), self.eta_cache)
        text = speech.announcement(ticket.number, counter.name, recall=event.action == "recall")
        payload = snap.call_payload(event, ticket, text)
        work.events.append(TicketCalled(self.site_id, counter.code, ticket.lookup_code, payload))
        work.events.append(CounterChanged(self.site_id, counter.code))

    @staticmethod
    def _current(tx: Tx, counter: Counter) -> Ticket | None:
        """The ticket at the counter, if it is still there."""
        if counter.current_ticket_id is None:
            return None
        ticket = tx.ticket(counter.current_ticket_id)
        if ticket is None or ticket.status not in AT_COUNTER:
            return None
        return ticket

    def _require_current(self, work: Work, counter_code: str) -> tuple[Counter, Ticket]:
        """The counter and its current ticket, or no_current_ticket."""
        counter = self.counter(work.tx, counter_code)
        ticket = self._current(work.tx, counter)
        if ticket is None:
            raise errors.NoCurrentTicket(f"{counter.name} chưa gọi số nào (no current ticket)")
        return counter, ticket

    def recall(self, counter_code: str, actor: str = "system") -> dict[str, Any]:
        """Announces the current ticket again."""
        with self._write(actor) as work:
            counter, ticket = self._require_current(work, counter_code)
            event = TicketEvent(
                ticket.id,
                work.now,
                Action.RECALL,
                ticket.status,
                ticket.status,
                actor,
                counter_id=counter.id,
                service_id=ticket.service_id,
            )
            work.changed.append(event)
            self._announce(work, counter, ticket, event)
            return {"ticket": self._full(work.tx, work, ticket)}

    def start(self, counter_code: str, actor: str = "system") -> dict[str, Any]:
        """The called citizen arrived: called → serving."""
        with self._write(actor) as work:
            counter, ticket = self._require_current(work, counter_code)
            if ticket.status != TicketStatus.CALLED:
                raise errors.InvalidState(f"Số {ticket.number} đang được phục vụ (already serving)")
            moved = self._move(
                work, ticket, Action.START, TicketStatus.SERVING, started_at=work.now
            )
            work.events.append(CounterChanged(self.site_id, counter.code))
            return {"ticket": self._full(work.tx, work, moved)}

    def _leave(
        self, counter_code: str, actor: str, action: Action, to: TicketStatus
    ) -> dict[str, Any]:
        """The current ticket leaves the counter as served or no-show."""
        with self._write(actor) as work:
            counter, ticket = self._require_current(work, counter_code)
            moved = self._move(work, ticket, action, to, finished_at=work.now)
            counter.current_ticket_id = None
            work.tx.update_counter(counter)
            work.events.append(CounterChanged(self.site_id, counter.code))
            return {"ticket": self._full(work.tx, work, moved)}

    def finish(self, counter_code: str, actor: str = "system") -> dict[str, Any]:
        """The current ticket is served."""
        return self._leave(counter_code, actor, Action.FINISH, TicketStatus.SERVED)

    def skip(self, counter_code: str, actor: str = "system") -> dict[str, Any]:
        """The current ticket did not come: no-show (it can be called back by number)."""
        return self._leave(counter_code, actor, Action.SKIP, TicketStatus.NO_SHOW)

    def transfer(
        self,
        counter_code: str,
        actor: str = "system",
        service_code: str | None = None,
        to_counter_code: str | None = None,
    ) -> dict[str, Any]:
        """Sends the current ticket to another service or counter, keeping its place in line."""
        if (service_code is None) == (to_counter_code is None):
            raise errors.InvalidRequest("Give exactly one of 'service' or 'counter'")
        with self._write(actor) as work:
            counter, ticket = self._require_current(work, counter_code)
            if service_code is not None:
                service = self.service(work.tx, service_code)
                target = {"service_id": service.id, "target_counter_id": None}
            else:
                to = self.counter(work.tx, str(to_counter_code))
                if to.id == counter.id:
                    raise errors.InvalidRequest("Cannot transfer a ticket to its own counter")
                target = {"target_counter_id": to.id}
            moved = self._move(
                work,
                ticket,
                Action.TRANSFER,
                TicketStatus.WAITING,
                data={"from_counter": counter.code},
                counter_id=None,
                called_at=None,
                started_at=None,
                **target,
            )
            counter.current_ticket_id = None
            work.tx.update_counter(counter)
            work.events.append(CounterChanged(self.site_id, counter.code))
            return {"ticket": self._full(work.tx, work, moved)}

    def set_paused(self, counter_code: str, paused: bool, actor: str = "system") -> dict[str, Any]:
        """Pauses or resumes a counter; its current ticket stays."""
        with self._write(actor) as work:
            counter = self.counter(work.tx, counter_code)
            counter.paused = paused
            work.tx.update_counter(counter)
            work.events.append(CounterChanged(self.site_id, counter.code))
            snap = Snapshot(work.tx, work.day, work.now, self.zone(work.tx), self.eta_cache)
            current = self._current(work.tx, counter)
            tickets = {current.id: current} if current else {}
            return {"counter": snap.counter_view(counter, tickets)}
