"""Writes what the SMSC answered, in few transactions (group commit).

The dispatcher hands over accepted segments (their message_id) and settled claims; the link
hands over delivery receipts (this writer is the outbox's receipt handler). One task writes
everything that piled up since its last transaction in one new transaction, in this order:
parts accepted, claims settled, receipts. While a transaction runs, the next batch gathers,
so at high rates a transaction carries hundreds of receipts, and at low rates a lone receipt
is written at once.

A receipt handler returns only after its receipt is committed (the link answers deliver_sm_resp
after that). A receipt whose part is not written yet (it overtook its own submit_sm_resp, or
its part waits in this very batch) is tried again with later batches for
``orphan_receipt_s``; after that it is handed to the link's next handler (it may belong to
someone else, or to a message the gateway lost track of) and, in the end, kept in
``inbound_messages``.

At-least-once window: a segment the SMSC accepted but whose message_id was not committed yet
when the process died is sent again after the restart (``docs/outbox.md``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models_outbox import SmsState
from gateway.errors import GatewayError
from gateway.services.base import Deps
from gateway.settings import OutboxSettings
from gateway.workers import outbox_store as store
from gateway.workers.outbox_metrics import OutboxMetrics
from smpp.receipts import Receipt

log = logging.getLogger(__name__)

_RETRY_S = (0.05, 0.2, 1.0, 5.0)  # after a failed transaction (database busy or away)
_ORPHAN_RECHECK_S = 0.05
MINE_MAX = 500_000  # some 80 MB at most; beyond it receipts are looked up in the database


@dataclass(slots=True)
class _Waiting:
    receipt: store.ReceiptIn
    future: asyncio.Future[bool]
    since: float


class OutboxWriter:
    def __init__(self, deps: Deps, settings: OutboxSettings, metrics: OutboxMetrics) -> None:
        self.deps = deps
        self.settings = settings
        self.metrics = metrics
        self._accepted: list[store.Accepted] = []
        self._settled: list[store.Settled] = []
        self._receipts: list[_Waiting] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self.transactions = 0
        # smsc_id -> part, for the parts this node recorded: receipts for them need no lookup.
        # Entries leave with the part's final receipt; past MINE_MAX the database is asked.
        self._mine: dict[str, store.PartKey] = {}

    @property
    def idle(self) -> bool:
        return not (self._accepted or self._settled or self._receipts)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def accepted(self, item: store.Accepted) -> None:
        self._accepted.append(item)
        self._wake.set()

    def settled(self, item: store.Settled) -> None:
        self._settled.append(item)
        self._wake.set()

    async def receipt(self, receipt: Receipt) -> bool:
        """The link's receipt handler: True once the receipt is committed to its part."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        entry = store.ReceiptIn(receipt.message_id, store.PART_STATE.get(receipt.state),
                                receipt.error)
        self._receipts.append(_Waiting(entry, future, time.monotonic()))
        self._wake.set()
        return await future

    async def close(self, timeout: float = 10.0) -> None:
        """Write what is left (up to ``timeout``), then stop; unwritten receipts are refused
        (the SMSC keeps and redelivers them)."""
        deadline = time.monotonic() + timeout
        while not self.idle and self._task is not None and time.monotonic() < deadline:
            if self._receipts and all(w.future.done() for w in self._receipts):
                break
            self._wake.set()
            await asyncio.sleep(0.01)
        task, self._task = self._task, None
        while task is not None and not task.done():  # see outbox._stop_task: cancel until done
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
        for waiting in self._receipts:
            if not waiting.future.done():
                waiting.future.set_exception(GatewayError("the outbox writer stopped"))
        self._receipts.clear()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.idle:
                continue
            accepted, self._accepted = self._accepted, []
            settled, self._settled = self._settled, []
            receipts, self._receipts = self._receipts, []
            # Known from here on: the transaction below inserts these parts before it applies
            # any receipt. Not before: a receipt of a part still waiting for the next batch
            # would be "applied" to a row that is not there yet, answered, and lost.
            mine = self._mine
            for item in accepted:
                if len(mine) < MINE_MAX:
                    mine[item.smsc_id] = store.PartKey(item.message_id, item.seq)
            try:
                entries = [w.receipt for w in receipts]
                matched, finished = await self._write(accepted, settled, entries)
            except GatewayError as exc:
                self._accepted[:0], self._settled[:0] = accepted, settled
                self._receipts[:0] = receipts
                delay = _RETRY_S[min(self._failures, len(_RETRY_S) - 1)]
                self._failures += 1
                log.warning("outbox writer: %s; retrying in %.2fs", exc.detail, delay)
                await asyncio.sleep(delay)
                self._wake.set()
                continue
            self._failures = 0
            self._count(accepted, settled, finished)
            self._answer(receipts, matched)

    async def _write(self, accepted: list[store.Accepted], settled: list[store.Settled],
                     receipts: list[store.ReceiptIn]) -> tuple[set[str], dict[SmsState, int]]:
        # Inline, as the dispatcher's claims: short executemany statements that would
        # otherwise hold the write lock across a trip to the connection's thread each.
        async with self.deps.uow(inline=True) as uow:
            session, now = uow.session, uow.clock()
            await store.record_accepted(session, accepted, now)
            parts = await self._parts(session, receipts)
            await store.lock_messages(session, {s.message.id for s in settled}
                                      | {p.message_id for p in parts.values()})
            await store.settle(session, settled, now)
            finished = await store.apply_receipts(session, receipts, parts, now)
            await uow.commit()
        self.transactions += 1
        for receipt in receipts:
            if receipt.state is not None:
                self._mine.pop(receipt.smsc_id, None)
        return set(parts), finished

    async def _parts(self, session: AsyncSession,
                     receipts: list[store.ReceiptIn]) -> dict[str, store.PartKey]:
        """The part of each receipt: this node's own from memory, the rest from the database
        (another node's part, or a receipt after a restart)."""
        mine, parts = self._mine, {}
        unknown = set()
        for receipt in receipts:
            key = mine.get(receipt.smsc_id)
            if key is None:
                unknown.add(receipt.smsc_id)
            else:
                parts[receipt.smsc_id] = key
        if unknown:
            parts.update(await store.find_parts(session, unknown))
        return parts

    async def adopt_kept(self) -> int:
        """Housekeeping: apply receipts kept in ``inbound_messages`` whose part turned up
        after they gave up waiting (the accepting node committed just too late)."""
        async with self.deps.uow() as uow:
            session, now = uow.session, uow.clock()
            entries = await store.adopt_inbound(session, now)
            if not entries:
                return 0
            parts = await store.find_parts(session, {r.smsc_id for r in entries})
            await store.lock_messages(session, {p.message_id for p in parts.values()})
            finished = await store.apply_receipts(session, entries, parts, now)
            await uow.commit()
        self._count([], [], finished)
        return len(entries)

    def _answer(self, receipts: list[_Waiting], matched: set[str]) -> None:
        now = time.monotonic()
        again = []
        for waiting in receipts:
            if waiting.future.done():
                continue  # its handler was cancelled (the ESME stopped)
            if waiting.receipt.smsc_id in matched:
                waiting.future.set_result(True)
                self.metrics.segments.inc(event=f"receipt_{_state_name(waiting.receipt)}")
            elif now - waiting.since < self.settings.orphan_receipt_s:
                again.append(waiting)
            else:
                waiting.future.set_result(False)
        if again:
            self._receipts[:0] = again
            asyncio.get_running_loop().call_later(_ORPHAN_RECHECK_S, self._wake.set)

    def _count(self, accepted: list[store.Accepted], settled: list[store.Settled],
               finished: dict[SmsState, int]) -> None:
        if accepted:
            self.metrics.segments.inc(len(accepted), event="accepted")
        for item in settled:
            retried = item.state is SmsState.QUEUED
            self.metrics.transitions.inc(state="retry" if retried else item.state.value)
        for state, count in finished.items():
            self.metrics.transitions.inc(count, state=state.value)


def _state_name(receipt: store.ReceiptIn) -> str:
    return "intermediate" if receipt.state is None else receipt.state.value
