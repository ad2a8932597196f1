"""QueueEngine: the one object that issues, calls and moves tickets."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from . import errors
from .calling import Calling
from .clock import Clock
from .events import EventSink
from .hours import parse_hours
from .model import Action, Service, Ticket, TicketEvent, TicketStatus
from .ordering import OrderingPolicy
from .ports import Repository, Tx
from .views import EtaCache, queue_key

#: How long an Idempotency-Key keeps returning the ticket it created.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
UNSET: Any = object()


class QueueEngine(Calling):
    """Queue rules over a repository, a clock and an event sink; knows no web or SQL."""

    def __init__(
        self,
        repo: Repository,
        clock: Clock,
        events: EventSink,
        site_id: int = 1,
        policy: OrderingPolicy | None = None,
        number_width: int = 3,
    ) -> None:
        self.repo, self.clock, self.sink, self.site_id = repo, clock, events, site_id
        self.policy = policy or OrderingPolicy()
        self.number_width = number_width
        self.eta_cache = EtaCache()
        self._expired_through: str | None = None

    # -- issuing -------------------------------------------------------------------------

    def issue(
        self,
        service_code: str,
        procedure_code: str | None = None,
        priority: str | None = None,
        actor: str = "system",
        device: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Issues a ticket; returns its view and False when an idempotency key replayed it."""
        with self._write(actor) as work:
            tx = work.tx
            if device and idempotency_key:
                since = work.now - IDEMPOTENCY_WINDOW
                earlier = tx.idempotent_ticket_id(device, idempotency_key, since)
                if earlier is not None:
                    ticket = tx.ticket(earlier)
                    if ticket is not None:
                        return self._full(tx, work, ticket), False
            service = self.service(tx, service_code)
            procedure_id = self._procedure_id(tx, service, procedure_code)
            if priority is not None and priority not in {p.code for p in tx.priorities()}:
                raise errors.InvalidRequest(f"Unknown priority category '{priority}'")
            self._check_open(service, work.local)
            seq = tx.next_sequence(service.id, work.day)
            if service.daily_limit is not None and seq > service.daily_limit:
                raise errors.DailyLimitReached(
                    f"'{service.name}' đã hết số hôm nay (daily limit {service.daily_limit})"
                )
            ticket = Ticket(
                id=0,
                site_id=self.site_id,
                day=work.day,
                seq=seq,
                number=f"{service.prefix}{seq:0{self.number_width}d}",
                service_id=service.id,
                origin_service_id=service.id,
                procedure_id=procedure_id,
                priority=priority,
                status=TicketStatus.WAITING,
                lookup_code=secrets.token_urlsafe(12),
                issued_at=work.now,
                queued_at=work.now,
                issued_by=actor,
            )
            ticket.id = tx.insert_ticket(ticket)
            work.changed.append(
                TicketEvent(
                    ticket.id,
                    work.now,
                    Action.ISSUE,
                    None,
                    TicketStatus.WAITING,
                    actor,
                    service_id=service.id,
                    data={"priority": priority} if priority else {},
                )
            )
            # Nobody follows a ticket yet at the instant it is issued: no ticket_updated for it.
            if priority:  # a priority ticket steps ahead of the ordinary ones in its line
                work.lines.add(queue_key(ticket))
            if device and idempotency_key:
                tx.remember_idempotency(device, idempotency_key, ticket.id, work.now)
            view = self._full(tx, work, ticket)
        return view, True

    @staticmethod
    def _procedure_id(tx: Tx, service: Service, code: str | None) -> int | None:
        """The procedure's id; it must exist and belong to the service."""
        if code is None:
            return None
        for procedure in tx.procedures():
            if procedure.code == code:
                if procedure.service_id != service.id:
                    raise errors.InvalidRequest(
                        f"Procedure '{code}' does not belong to service '{service.code}'"
                    )
                return procedure.id
        raise errors.NotFound(f"Không có thủ tục '{code}' (no such procedure)")

    @staticmethod
    def _check_open(service: Service, local: datetime) -> None:
        """Refuses a closed service or a time outside its sessions."""
        hours = parse_hours(service.hours)
        if not service.is_open or not hours.is_open(local):
            raise errors.ServiceClosed(
                f"'{service.name}' hiện không cấp số (closed; hours: {service.hours})",
                hours=service.hours,
            )

    def cancel(self, lookup_code: str, actor: str = "citizen") -> dict[str, Any]:
        """A waiting ticket is cancelled by its holder or staff."""
        with self._write(actor) as work:
            ticket = work.tx.ticket_by_lookup(lookup_code)
            if ticket is None:
                raise errors.NotFound("Không tìm thấy phiếu (no such ticket)")
            if ticket.status != TicketStatus.WAITING:
                raise errors.InvalidState(
                    f"Số {ticket.number} không còn chờ (status {ticket.status.value})",
                    status=ticket.status.value,
                )
            moved = self._move(
                work, ticket, Action.CANCEL, TicketStatus.CANCELLED, finished_at=work.now
            )
            return {"ticket": self._full(work.tx, work, moved)}

    def expire_past_days(self) -> int:
        """Closes every unfinished ticket of an earlier day; returns how many."""
        self._expired_through = None
        with self._write("system") as work:
            return len(work.changed)

    def roll_day(self) -> int:
        """At the first moment of a new local day, expires the old one (else does nothing)."""
        with self.snapshot() as snap:
            today = snap.day
        return 0 if self._expired_through == today else self.expire_past_days()

    def update_service(
        self,
        code: str,
        hours: str | None = None,
        daily_limit: int | None = UNSET,
        is_open: bool | None = None,
    ) -> Service:
        """Changes a service's hours, daily limit (None removes it) or open flag."""
        if hours is not None:
            hours = parse_hours(hours).spec()
        if daily_limit is not UNSET and daily_limit is not None and daily_limit < 0:
            raise errors.InvalidRequest("daily limit must be a whole number ≥ 0 or none")
        with self._write("admin") as work:
            service = self.service(work.tx, code)
            changes: dict[str, Any] = {}
            if hours is not None:
                changes["hours"] = hours
            if daily_limit is not UNSET:
                changes["daily_limit"] = daily_limit
            if is_open is not None:
                changes["is_open"] = is_open
            updated = replace(service, **changes)
            work.tx.update_service(updated)
        return updated
