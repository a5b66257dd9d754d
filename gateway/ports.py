"""Ports: how use cases tell the rest of the system what happened.

Seed 7.3 asks that every lifecycle change be "notified to the application subsystems"
(通知各应用子系统) and, later, to the member by SMS. Services never call those subsystems; they
``uow.emit(Event)``, and the event goes three ways:

1. into ``domain_events``, in the same transaction as the change (durable; catch-up by id);
2. to **transactional subscribers**, inside that transaction, before commit: the place to add
   rows that must exist if and only if the change does (an SMS in the outbox, an OTA job);
3. after commit, to **notifiers**: best-effort wake-ups (a worker polling the outbox, metrics).
   A notifier failure is logged and never undoes the committed change.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gateway.db.uow import UnitOfWork

log = logging.getLogger(__name__)


class EventName(enum.StrEnum):
    ENTERPRISE_CREATED = "enterprise.created"
    MEMBER_ENROLLED = "member.enrolled"
    MEMBER_LEFT = "member.left"
    CARD_REGISTERED = "card.registered"
    CARD_LOST = "card.lost"
    CARD_UNFROZEN = "card.unfrozen"
    CARD_REPLACED = "card.replaced"
    CARD_DEREGISTERED = "card.deregistered"
    BLACKLIST_CHANGED = "blacklist.changed"
    REFUND_RECORDED = "refund.recorded"
    RECORDS_INGESTED = "terminal.records_ingested"
    TERMINAL_CHANGED = "terminal.changed"


@dataclass(frozen=True)
class Event:
    name: EventName
    enterprise_id: int | None
    payload: Mapping[str, Any] = field(default_factory=dict)


TransactionalSubscriber = Callable[["UnitOfWork", Event], Awaitable[None]]


class Notifier(Protocol):
    async def notify(self, events: Sequence[Event]) -> None: ...


Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class EventBus:
    """Registry of subscribers and notifiers; later subsystems register here at startup."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[frozenset[EventName] | None, TransactionalSubscriber]] = []
        self._notifiers: list[Notifier] = []

    def subscribe(
        self, handler: TransactionalSubscriber, names: Sequence[EventName] | None = None
    ) -> None:
        self._subscribers.append((frozenset(names) if names else None, handler))

    def add_notifier(self, notifier: Notifier) -> None:
        self._notifiers.append(notifier)

    async def in_transaction(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        for event in events:
            for names, handler in self._subscribers:
                if names is None or event.name in names:
                    await handler(uow, event)

    async def after_commit(self, events: Sequence[Event]) -> None:
        if not events:
            return
        for notifier in self._notifiers:
            try:
                await notifier.notify(events)
            except Exception:
                # The change is committed and its event durable in domain_events; a failing
                # wake-up must not turn a success into an error for the caller.
                log.exception("notifier %r failed", notifier)
