"""The outbox dispatcher's per-enterprise policy: an enterprise's own quiet hours and send rate.

``EnterprisePolicy.admit`` runs on each claim of the dispatcher (``Dispatcher.policies``):
it keeps the claims that may go now and hands the rest back to the queue with a later
``due_at`` (their claim released at once):

- a non-urgent SMS of an enterprise inside its quiet hours goes back until they end;
- past an enterprise's rate (segments per second, a token bucket per enterprise), an SMS goes
  back to the slot the bucket books for it. Slots are spread at the rate, so a 100,000-member
  bill run is paced, not retried in a loop; a message that comes back at its slot is admitted
  without being counted twice.

The buckets live in the dispatcher's process: with N gateway nodes an enterprise may send up
to N times its rate (each node claims a share of its messages). The bind's own contracted
rate is enforced by the ESME (``[smsc] throughput``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bills.policy import QuietHours, RateBuckets
from gateway.db.models_bills import BillSettings
from gateway.db.models_outbox import OutboxMessage, SmsState

REFRESH_S = 10.0
MAX_RESERVED = 500_000
OUTBOX = cast(Table, OutboxMessage.__table__)
OM = OUTBOX.c


class ClaimLike(Protocol):
    """What the policy reads of a dispatcher's claim (``outbox_store.Claimed``)."""

    @property
    def id(self) -> int: ...

    @property
    def enterprise_id(self) -> int | None: ...

    @property
    def segments(self) -> int: ...


C = TypeVar("C", bound=ClaimLike)


@dataclass(frozen=True, slots=True)
class _Rules:
    quiet: QuietHours | None
    rate: float | None


class EnterprisePolicy:
    def __init__(self, refresh_s: float = REFRESH_S) -> None:
        self.refresh_s = refresh_s
        self.buckets = RateBuckets()
        self.deferred = 0
        self._rules: dict[int, _Rules] = {}
        self._loaded: datetime | None = None
        self._reserved: dict[int, datetime] = {}

    async def admit(self, session: AsyncSession, claimed: Sequence[C],
                    now: datetime) -> list[C]:
        await self._refresh(session, now)
        if not self._rules or not claimed:
            return list(claimed)
        urgent = await self._urgent(session, claimed, now)
        keep: list[C] = []
        later: dict[int, datetime] = {}
        for claim in claimed:
            rules = self._rules.get(claim.enterprise_id or 0)
            until = None if rules is None else self._until(claim, rules, urgent, now)
            if until is None:
                keep.append(claim)
            else:
                later[claim.id] = until
        if later:
            await _defer(session, later, now)
            self.deferred += len(later)
        return keep

    def _until(self, claim: ClaimLike, rules: _Rules, urgent: set[int],
               now: datetime) -> datetime | None:
        if rules.quiet is not None and claim.id not in urgent and rules.quiet.contains(now):
            return rules.quiet.release(now)
        if rules.rate is None:
            return None
        if self._reserved.pop(claim.id, None) is not None:
            return None  # back at the slot it was given: already counted
        assert claim.enterprise_id is not None
        slot = self.buckets.slot(claim.enterprise_id, rules.rate, max(1.0, rules.rate),
                                 claim.segments, now)
        if slot <= now:
            return None
        self._reserve(claim.id, slot, now)
        return slot

    def _reserve(self, message_id: int, slot: datetime, now: datetime) -> None:
        if len(self._reserved) >= MAX_RESERVED:  # ids that never came back (cancelled...)
            stale = now - timedelta(hours=1)
            self._reserved = {k: v for k, v in self._reserved.items() if v > stale}
        self._reserved[message_id] = slot

    async def _urgent(self, session: AsyncSession, claimed: Sequence[ClaimLike],
                      now: datetime) -> set[int]:
        """Ids of urgent claims of enterprises in their quiet hours right now (only those
        need the flag, which the claim does not carry)."""
        quiet = {e for e, r in self._rules.items() if r.quiet is not None and r.quiet.contains(now)}
        ids = [c.id for c in claimed if c.enterprise_id in quiet]
        if not ids:
            return set()
        rows = await session.scalars(select(OM.id).where(OM.id.in_(ids), OM.urgent.is_(True)))
        return set(rows.all())

    async def _refresh(self, session: AsyncSession, now: datetime) -> None:
        if self._loaded is not None and (now - self._loaded).total_seconds() < self.refresh_s:
            return
        rows = await session.execute(
            select(BillSettings.enterprise_id, BillSettings.quiet_hours, BillSettings.rate_per_s)
            .where(or_(BillSettings.quiet_hours.is_not(None),
                       BillSettings.rate_per_s.is_not(None))))
        self._rules = {e: _Rules(QuietHours.parse(q) if q else None, r)
                       for e, q, r in rows}
        self.buckets.forget(set(self._rules))
        self._loaded = now


async def _defer(session: AsyncSession, later: dict[int, datetime], now: datetime) -> None:
    stmt: Any = (update(OUTBOX).where(OM.id == bindparam("b_id"), OM.state == SmsState.QUEUED)
                 .values(due_at=bindparam("b_due"), claimed_by=None, lease_until=None,
                         updated_at=now))
    await session.execute(stmt, [{"b_id": k, "b_due": v} for k, v in later.items()])
