"""Over-the-air top-ups (空中充值): ledger first, then the card, exactly once.

At request time, in one transaction: the top-up is posted (enterprise cash → the card's purse)
and the same amount is held on the purse, so the ledger knows the money is promised but the
member cannot spend it before the card has it; a CREDIT job carries a fresh 16-octet
transaction id to the card. Then:

* the PoR confirms (the card reports its new balance): the hold is released, the card's balance
  is compared with the ledger (``gateway.services.ota_reconcile``);
* the card refuses, or no PoR comes back after the last attempt: the hold is captured into the
  reversal of the posting (purse → cash) and the top-up ends ``reversed``.

Every ledger step has its own reference (``ota-topup:<transaction id>``, ``...:reversal``), so a
replayed step changes nothing; the card remembers the transaction id, so a resent CREDIT after a
lost PoR answers the recorded result instead of crediting again. The member gets an SMS either
way (``gateway.services.ota_effects``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, select

from gateway.db import bulk
from gateway.db.engine import Database
from gateway.db.fast import Query
from gateway.db.models import Account, AuditEntry, Card, CardApp, IdempotencyKey, Member
from gateway.db.models_ota import OtaJob, OtaTopup
from gateway.db.uow import Retryable, UnitOfWork
from gateway.domain import AccountKind, AppKind, AppState, CardState, PostingKind
from gateway.errors import (
    GatewayError,
    IdempotencyKeyReused,
    InvalidState,
    NotFound,
    ValidationError,
)
from gateway.ota_core import OPEN_STATES, JobKind, JobState, Policy, topup_params
from gateway.services import cards, ledger, ota_flow, views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact
from gateway.services.ota_jobs import OtaSettings, job_values, job_view, new_job
from ota.onecard_apdu import MAX_AMOUNT_FEN, TRANSACTION_ID_LENGTH

log = logging.getLogger(__name__)


def reference(transaction_id: bytes) -> str:
    return f"ota-topup:{transaction_id.hex()}"


async def request(deps: Deps, principal: Principal, iccid: str, amount_fen: int,
                  idem: IdemKey | None) -> View:
    """Take the money into the ledger (posted and held) and queue the CREDIT.

    Concurrent requests are committed together (:class:`Batcher`); each still gets its own
    answer, its own refusal, and its own Idempotency-Key replay.
    """
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        raise ValidationError("amount_fen", "a top-up is a positive number of fen")
    batcher = _BATCHERS.get(deps.database)
    if batcher is None:
        batcher = _BATCHERS[deps.database] = Batcher(deps)
    return await batcher.submit(Ask(principal, iccid, amount_fen, idem))


async def request_one(deps: Deps, principal: Principal, iccid: str, amount_fen: int,
                      idem: IdemKey | None) -> View:
    """``request`` in a transaction of its own."""
    policy = OtaSettings.of(deps.settings).policy
    dispatch = ota_flow.dispatch_for(deps.database)
    started: list[ota_flow.Outgoing] = []

    async def work(uow: UnitOfWork) -> View:
        started.clear()  # a retried transaction starts over
        card = await cards.visible(uow, principal, iccid, for_update=True)
        purse_app = next((a for a in await uow.apps.for_card(card.id)
                          if a.app is AppKind.PURSE), None)
        account = await ledger.account(uow, ledger.purse_code(card.id))
        check_purse(card, purse_app, account.balance, amount_fen)
        topup = await open_topup(uow, card, amount_fen, principal.actor)
        job = await new_job(uow, card, JobKind.TOPUP,
                            topup_params(amount_fen, bytes.fromhex(topup.transaction_id)),
                            origin="api", policy=policy)
        topup.job_id = job.id
        if dispatch is not None:
            started.extend(await ota_flow.start_now(uow, [job], dispatch.keys,
                                                    dispatch.settings))
        audit(uow, principal, "card.topup", ("card", iccid), card.enterprise_id,
              amount_fen=amount_fen, topup_id=topup.id, job_id=job.id)
        return topup_view(topup, job)

    view = await transact(deps, principal, work, idem, inline=True)
    if dispatch is not None:
        if started:
            dispatch.send(started)  # committed: the CREDIT leaves now
        elif view["attempts"] == 0:
            dispatch.wake()  # the card has a job open: the sender takes this one after it
    return view


def check_purse(card: Card, purse: CardApp | None, balance_fen: int, amount_fen: int) -> None:
    """Refuse a top-up the card could not take: card not active, no purse, over its limit."""
    _check(card.iccid, card.state, purse.state if purse is not None else None,
           purse.data if purse is not None else None, balance_fen, amount_fen)


def _check(iccid: str, state: CardState, purse_state: AppState | None,
           purse_data: dict[str, Any] | None, balance_fen: int, amount_fen: int) -> None:
    if state is not CardState.ACTIVE:
        raise InvalidState(f"card {iccid} is {state.value}: no top-up", state=state.value)
    if purse_state is not AppState.ACTIVE:
        raise InvalidState("the purse (消费) application is not active on this card",
                           state="no_purse")
    limit = (purse_data or {}).get("purse_limit_fen")
    if isinstance(limit, int) and balance_fen + amount_fen > limit:
        raise InvalidState(f"the card holds at most {limit} fen; it has {balance_fen}",
                           state="purse_limit", limit_fen=limit)


async def open_topup(uow: UnitOfWork, card: Card, amount_fen: int, actor: str) -> OtaTopup:
    """Post and hold the top-up in the ledger; the row the job's outcome settles."""
    transaction_id = secrets.token_bytes(TRANSACTION_ID_LENGTH)
    ref = reference(transaction_id)
    enterprise = card.enterprise_id
    purse = ledger.purse_code(card.id)
    await ledger.post(uow, ledger.transfer(
        ref, PostingKind.TOPUP, enterprise, ledger.enterprise_code(AccountKind.CASH, enterprise),
        purse, amount_fen, f"OTA top-up {card.iccid}"))
    await ledger.hold(uow, ref, purse, amount_fen)
    now = uow.clock()
    row = OtaTopup(
        enterprise_id=enterprise, card_id=card.id, member_id=card.member_id, iccid=card.iccid,
        amount_fen=amount_fen, transaction_id=transaction_id.hex(), job_id=None,
        state=JobState.PENDING, posting_ref=ref, hold_ref=ref, card_balance_fen=None,
        load_counter=None, replayed=None, requested_by=actor, created_at=now, updated_at=now,
        confirmed_at=None, reversed_at=None,
    )
    uow.session.add(row)
    await uow.flush()
    return row


async def of_job(uow: UnitOfWork, job: OtaJob) -> OtaTopup:
    row = (await uow.session.scalars(select(OtaTopup).where(OtaTopup.job_id == job.id))).first()
    if row is None:
        raise NotFound(f"no top-up for OTA job {job.id}")
    return row


@dataclass(frozen=True)
class Confirmed:
    topup_id: int
    amount_fen: int
    transaction_id: str


async def confirm_many(uow: UnitOfWork, jobs: Sequence[OtaJob]) -> dict[int, Confirmed]:
    """The cards have the money (each job's result says what they hold): release the holds.

    By job id. A batch of confirmations costs a fixed number of statements, and loads no row
    as an object (they are many, and only a few columns change).
    """
    rows = {r.job_id: r for r in await _OF_JOBS.rows(uow.session,
                                                     {"jobs": [j.id for j in jobs]})}
    missing = [j.id for j in jobs if j.id not in rows]
    if missing:
        raise NotFound(f"no top-up for OTA job {missing[0]}")
    await ledger.release_many(uow, [rows[j.id].hold_ref for j in jobs])
    now = uow.clock()
    await bulk.update_rows(uow.session, _TOPUPS, _CONFIRMED_COLUMNS, [(
        JobState.CONFIRMED, now, now, int((j.result or {})["balance_fen"]),
        int((j.result or {})["load_counter"]), bool((j.result or {})["replayed"]),
        rows[j.id].id) for j in jobs])
    return {j.id: Confirmed(rows[j.id].id, rows[j.id].amount_fen, rows[j.id].transaction_id)
            for j in jobs}


async def reverse(uow: UnitOfWork, job: OtaJob) -> OtaTopup:
    """The card will not have the money: capture the hold into the reversal of the posting."""
    row = await of_job(uow, job)
    (posting,) = await uow.ledger.postings_by_references([row.posting_ref])
    purse = ledger.purse_code(row.card_id)
    cash = ledger.enterprise_code(AccountKind.CASH, row.enterprise_id)
    spec = ledger.PostingSpec(
        f"{row.posting_ref}:reversal", PostingKind.REVERSAL, row.enterprise_id,
        (ledger.Leg(purse, -row.amount_fen), ledger.Leg(cash, row.amount_fen)),
        f"OTA top-up {row.iccid} not confirmed by the card", reverses_id=posting.id)
    await ledger.capture(uow, row.hold_ref, spec)
    now = uow.clock()
    row.state, row.reversed_at, row.updated_at = JobState.REVERSED, now, now
    return row


def topup_view(row: OtaTopup, job: OtaJob | None) -> View:
    return {
        "id": row.id, "iccid": row.iccid, "enterprise_id": row.enterprise_id,
        "amount_fen": row.amount_fen, "state": row.state.value, "job_id": row.job_id,
        "card_balance_fen": row.card_balance_fen, "load_counter": row.load_counter,
        "replayed": row.replayed, "attempts": job.attempts if job else None,
        "failure": job.failure if job else None, "requested_by": row.requested_by,
        "created_at": views.ts(row.created_at), "confirmed_at": views.ts(row.confirmed_at),
        "reversed_at": views.ts(row.reversed_at),
    }


async def get(deps: Deps, principal: Principal, topup_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await uow.session.get(OtaTopup, topup_id)
        if row is None:
            raise NotFound("top-up not found")
        principal.check_tenant(row.enterprise_id, "top-up")
        job = await uow.session.get(OtaJob, row.job_id) if row.job_id else None
        view = topup_view(row, job)
        view["job"] = job_view(job) if job else None
        return view

    return await read(deps, work)


def batcher_of(deps: Deps) -> Batcher | None:
    return _BATCHERS.get(deps.database)


def is_final(view: View) -> bool:
    return view["state"] in (JobState.CONFIRMED.value, JobState.REVERSED.value)


# -- group commit of concurrent requests ----------------------------------------------------


@dataclass
class Ask:
    principal: Principal
    iccid: str
    amount_fen: int
    idem: IdemKey | None
    future: asyncio.Future[View] | None = None


MAX_BATCH = 200
_BATCHERS: weakref.WeakKeyDictionary[Database, Batcher] = weakref.WeakKeyDictionary()


class Batcher:
    """Commits the top-up requests that arrive while a transaction runs in the next one.

    On SQLite every write transaction waits for the one writer; a request that would wait
    anyway joins the next batch instead, so N concurrent requests cost one transaction, not N.
    A request the rules refuse is answered alone and takes nothing else down; if a batch
    transaction fails as a whole (a race on PostgreSQL), each of its requests runs alone.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.policy = OtaSettings.of(deps.settings).policy
        self._queue: list[Ask] = []
        self._drain: asyncio.Task[None] | None = None
        self.largest = 0  # the most requests one transaction carried (observability)

    async def submit(self, ask: Ask) -> View:
        ask.future = asyncio.get_running_loop().create_future()
        self._queue.append(ask)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.ensure_future(self._run())
        return await ask.future

    async def _run(self) -> None:
        while self._queue:
            # Filled once the transaction holds the write lock: requests that arrive while it
            # waits for the lock go in this transaction, not the next.
            batch: list[Ask] = []
            try:
                try:
                    outcomes = await self._together(batch)
                except GatewayError:
                    if not batch:  # the lock never came: this round takes them alone
                        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                    outcomes = [await self._alone(ask) for ask in batch]
            except Exception as exc:  # a bug: every request of the batch hears of it
                if not batch:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                outcomes = [GatewayError(f"top-up failed: {type(exc).__name__}")] * len(batch)
                log.exception("top-up batch failed")
            for ask, outcome in zip(batch, outcomes, strict=True):
                assert ask.future is not None
                if ask.future.done():
                    continue
                if isinstance(outcome, GatewayError):
                    ask.future.set_exception(outcome)
                else:
                    ask.future.set_result(outcome)

    async def _alone(self, ask: Ask) -> View | GatewayError:
        try:
            return await request_one(self.deps, ask.principal, ask.iccid, ask.amount_fen,
                                     ask.idem)
        except GatewayError as exc:
            return exc

    async def _together(self, batch: list[Ask]) -> list[View | GatewayError]:
        """The requests waiting, in one transaction (``batch`` is filled with them once the
        write lock is held, and kept for a retry)."""
        dispatch = ota_flow.dispatch_for(self.deps.database)
        for attempt in range(3):
            try:
                async with self.deps.uow(inline=True) as uow:
                    if not batch:
                        batch[:], self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                        self.largest = max(self.largest, len(batch))
                    if not batch:
                        return []
                    outcomes, started, waiting = await _batch_work(uow, batch, self.policy,
                                                                   dispatch)
                    await uow.commit()
                if dispatch is not None:
                    if started:
                        dispatch.send(started)  # committed: the CREDITs leave now
                    if waiting:
                        dispatch.wake()  # jobs behind another of their card's: the sender's
                return outcomes
            except Retryable:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


async def _batch_work(uow: UnitOfWork, batch: Sequence[Ask], policy: Policy,
                      dispatch: ota_flow.Dispatch | None
                      ) -> tuple[list[View | GatewayError], list[ota_flow.Outgoing], bool]:
    """Outcomes in the order of ``batch``, the packets to send once committed, and whether
    jobs were left waiting for the sender."""
    outcomes: list[View | GatewayError | None] = [None] * len(batch)
    started: list[ota_flow.Outgoing] = []
    fresh = await _replays(uow, batch, outcomes)
    checked = await _checked(uow, batch, fresh, outcomes, dispatch is not None)
    if checked:
        views = await _open_many(uow, [(batch[i], card) for i, card in checked], policy,
                                 dispatch, started)
        keys = []
        now = uow.clock()
        for (i, _), view in zip(checked, views, strict=True):
            outcomes[i] = view
            idem = batch[i].idem
            if idem is not None:
                keys.append((batch[i].principal.actor, idem.key, idem.fingerprint, view, now))
        await bulk.insert_rows(uow.session, _IDEMPOTENCY, _IDEMPOTENCY_COLUMNS, keys)
    for i, ask in enumerate(batch):  # the same key twice in one batch: one top-up
        if outcomes[i] is None and ask.idem is not None:
            first = next(j for j, other in enumerate(batch) if other.idem is not None
                         and (other.principal.actor, other.idem.key)
                         == (ask.principal.actor, ask.idem.key))
            outcomes[i] = outcomes[first]
    return ([o if o is not None else GatewayError("top-up not processed") for o in outcomes],
            started, len(started) < len(checked))


async def _replays(uow: UnitOfWork, batch: Sequence[Ask],
                   outcomes: list[View | GatewayError | None]) -> list[int]:
    """Answer requests whose Idempotency-Key was seen; the indices left to process."""
    keyed = [(a.principal.actor, a.idem.key) for a in batch if a.idem is not None]
    prior: dict[tuple[str, str], tuple[str, View | None]] = {}
    if keyed:
        rows = await _PRIOR_KEYS.rows(uow.session, {
            "scopes": list({k[0] for k in keyed}), "keys": list({k[1] for k in keyed})})
        prior = {(scope, key): (fingerprint, response)
                 for scope, key, fingerprint, response in rows}
    fresh, seen = [], set()
    for i, ask in enumerate(batch):
        if ask.idem is not None:
            key = (ask.principal.actor, ask.idem.key)
            row = prior.get(key)
            if row is not None:
                fingerprint, response = row
                outcomes[i] = (response if fingerprint == ask.idem.fingerprint
                               and response is not None else IdempotencyKeyReused(
                                   "this Idempotency-Key was used with a different request",
                                   key=ask.idem.key))
                continue
            if key in seen:
                continue  # answered with the first of the batch that carries it
            seen.add(key)
        fresh.append(i)
    return fresh


@dataclass(frozen=True, slots=True)
class _Card:
    """What a top-up request needs of its card, read in one statement (no ORM object)."""

    id: int
    iccid: str
    enterprise_id: int
    member_id: int
    state: CardState
    keys_sealed: bytes
    purse_state: AppState | None
    purse_data: dict[str, Any] | None
    balance: int
    msisdn: str | None
    busy: bool  # another job of the card is open: the new one waits its turn


async def _checked(uow: UnitOfWork, batch: Sequence[Ask], fresh: list[int],
                   outcomes: list[View | GatewayError | None],
                   dispatch: bool) -> list[tuple[int, _Card]]:
    """The requests the rules accept, with their (locked) cards; refusals into ``outcomes``.

    Card, purse application, purse balance and member number in one statement; with an
    engine to hand the CREDITs to (``dispatch``), the cards that have a job open in another."""
    rows = await (_CARDS if uow.is_sqlite else _CARDS_LOCKED).rows(
        uow.session, {"iccids": list({batch[i].iccid for i in fresh})})
    busy: set[int] = set()
    if dispatch and rows:
        # On PostgreSQL after the cards are locked: a claim committed before is seen, a
        # claim after skips the locked card.
        busy = {r.card_id for r in await _BUSY.rows(uow.session, {"cards": [r.id for r in rows]})}
    found = {r.iccid: _Card(r.id, r.iccid, r.enterprise_id, r.member_id, r.state,
                            r.keys_sealed, r.purse_state, r.purse_data, r.balance or 0,
                            r.msisdn, r.id in busy) for r in rows}
    balances = {card.id: card.balance for card in found.values()}
    accepted = []
    for i in fresh:
        ask = batch[i]
        card = found.get(ask.iccid)
        try:
            if card is None:
                raise NotFound(f"card {ask.iccid} not found")
            ask.principal.check_tenant(card.enterprise_id, f"card {ask.iccid}")
            _check(card.iccid, card.state, card.purse_state, card.purse_data,
                   balances[card.id], ask.amount_fen)
            if card.msisdn is None:
                raise InvalidState(f"card {card.iccid} has no member number to send to",
                                   state=card.state.value)
        except GatewayError as exc:
            outcomes[i] = exc
            continue
        balances[card.id] += ask.amount_fen
        accepted.append((i, card))
    return accepted


async def _open_many(uow: UnitOfWork, items: Sequence[tuple[Ask, _Card]], policy: Policy,
                     dispatch: ota_flow.Dispatch | None,
                     started: list[ota_flow.Outgoing]) -> list[View]:
    """Post, hold and queue the CREDIT of each accepted request: a fixed number of statements
    (rows go in by executemany, ids come back by RETURNING); with an engine to hand them to,
    the first CREDIT of each card with no job open goes in already sent (``started``)."""
    now = uow.clock()
    txns = [secrets.token_bytes(TRANSACTION_ID_LENGTH) for _ in items]
    refs = [reference(t) for t in txns]
    specs = [ledger.transfer(ref, PostingKind.TOPUP, card.enterprise_id,
                             ledger.enterprise_code(AccountKind.CASH, card.enterprise_id),
                             ledger.purse_code(card.id), ask.amount_fen,
                             f"OTA top-up {card.iccid}")
             for ref, (ask, card) in zip(refs, items, strict=True)]
    for outcome in await ledger.post_many(uow, specs):
        if isinstance(outcome, GatewayError):
            raise outcome
    await ledger.hold_many(uow, [(ref, ledger.purse_code(card.id), ask.amount_fen)
                                 for ref, (ask, card) in zip(refs, items, strict=True)])
    jobs = [job_values(card.id, card.enterprise_id, card.member_id, card.iccid, JobKind.TOPUP,
                       topup_params(ask.amount_fen, txn), "api", card.msisdn or "", now,
                       policy, dedupe_key=ref)
            for txn, ref, (ask, card) in zip(txns, refs, items, strict=True)]
    free = {card.id: (card.iccid, card.keys_sealed) for _, card in items if not card.busy}
    job_ids, out = await ota_flow.add_jobs(uow, jobs, free, dispatch)
    started.extend(out)
    sent = {o.job_id for o in out}
    topup_rows = [(card.enterprise_id, card.id, card.member_id, card.iccid, ask.amount_fen,
                   txn.hex(), job_id, JobState.PENDING, ref, ref, None, None, None,
                   ask.principal.actor, now, now, None, None)
                  for txn, ref, job_id, (ask, card) in zip(txns, refs, job_ids, items,
                                                           strict=True)]
    topup_ids = {str(txn): int(topup_id) for topup_id, txn in await bulk.insert_returning(
        uow.session, _TOPUPS, _TOPUP_COLUMNS, topup_rows, ("id", "transaction_id"))}
    made = [{
        "id": topup_ids[txn.hex()], "iccid": card.iccid, "enterprise_id": card.enterprise_id,
        "amount_fen": ask.amount_fen, "state": JobState.PENDING.value, "job_id": job_id,
        "card_balance_fen": None, "load_counter": None, "replayed": None,
        "attempts": 1 if job_id in sent else 0, "failure": None,
        "requested_by": ask.principal.actor, "created_at": views.ts(now),
        "confirmed_at": None, "reversed_at": None,
    } for txn, job_id, (ask, card) in zip(txns, job_ids, items, strict=True)]
    await bulk.insert_rows(uow.session, _AUDIT, _AUDIT_COLUMNS, [
        (now, ask.principal.actor, ask.principal.role, card.enterprise_id, "card.topup", "card",
         card.iccid, {"amount_fen": ask.amount_fen, "topup_id": view["id"], "job_id": job_id},
         ask.principal.request_id)
        for view, job_id, (ask, card) in zip(made, job_ids, items, strict=True)])
    return made


_TOPUPS = cast(Table, OtaTopup.__table__)
_TOPUP_COLUMNS = tuple(c.key for c in _TOPUPS.columns if c.key != "id")
_CONFIRMED_COLUMNS = ("state", "confirmed_at", "updated_at", "card_balance_fen",
                      "load_counter", "replayed", "id")
_AUDIT = cast(Table, AuditEntry.__table__)
_AUDIT_COLUMNS = ("at", "actor", "role", "enterprise_id", "action", "target_type", "target_id",
                  "detail", "request_id")
_IDEMPOTENCY = cast(Table, IdempotencyKey.__table__)
_IDEMPOTENCY_COLUMNS = ("scope", "key", "fingerprint", "response", "created_at")
# Statements of every batch, built once (building a statement costs more than SQLite runs it).
_OF_JOBS = Query(select(
    OtaTopup.id, OtaTopup.job_id, OtaTopup.hold_ref, OtaTopup.amount_fen,
    OtaTopup.transaction_id).where(OtaTopup.job_id.in_(bindparam("jobs", expanding=True))))
_PRIOR_KEYS = Query(select(
    IdempotencyKey.scope, IdempotencyKey.key, IdempotencyKey.fingerprint,
    IdempotencyKey.response).where(
    IdempotencyKey.scope.in_(bindparam("scopes", expanding=True)),
    IdempotencyKey.key.in_(bindparam("keys", expanding=True))))
_CARDS_SELECT = (
    select(Card.id, Card.iccid, Card.enterprise_id, Card.member_id, Card.state,
           Card.keys_sealed, CardApp.state.label("purse_state"),
           CardApp.data.label("purse_data"), Account.balance, Member.msisdn)
    .join(Member, Member.id == Card.member_id)
    .outerjoin(CardApp, and_(CardApp.card_id == Card.id, CardApp.app == AppKind.PURSE))
    # The purse account is the card's only account (``ledger.open_purse``).
    .outerjoin(Account, and_(Account.card_id == Card.id, Account.kind == AccountKind.PURSE))
    .where(Card.iccid.in_(bindparam("iccids", expanding=True))).order_by(Card.id))
_CARDS = Query(_CARDS_SELECT)
_CARDS_LOCKED = Query(_CARDS_SELECT.with_for_update(of=Card, key_share=True))
_BUSY = Query(select(OtaJob.card_id).where(
    OtaJob.card_id.in_(bindparam("cards", expanding=True)),
    OtaJob.state.in_(sorted(OPEN_STATES))).distinct())
