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

import secrets
from collections.abc import Sequence

from sqlalchemy import select

from gateway.db.models import Card
from gateway.db.models_ota import OtaJob, OtaTopup
from gateway.db.uow import UnitOfWork
from gateway.domain import AccountKind, AppKind, AppState, CardState, PostingKind
from gateway.errors import InvalidState, NotFound, ValidationError
from gateway.ota_core import JobKind, JobState, topup_params
from gateway.services import cards, ledger, views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact
from gateway.services.ota_jobs import OtaSettings, job_view, new_job
from ota.onecard_apdu import MAX_AMOUNT_FEN, TRANSACTION_ID_LENGTH


def reference(transaction_id: bytes) -> str:
    return f"ota-topup:{transaction_id.hex()}"


async def request(deps: Deps, principal: Principal, iccid: str, amount_fen: int,
                  idem: IdemKey | None) -> View:
    """Take the money into the ledger (posted and held) and queue the CREDIT."""
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        raise ValidationError("amount_fen", "a top-up is a positive number of fen")
    policy = OtaSettings.of(deps.settings).policy

    async def work(uow: UnitOfWork) -> View:
        card = await cards.visible(uow, principal, iccid, for_update=True)
        await _check_purse(uow, card, amount_fen)
        topup = await open_topup(uow, card, amount_fen, principal.actor)
        job = await new_job(uow, card, JobKind.TOPUP,
                            topup_params(amount_fen, bytes.fromhex(topup.transaction_id)),
                            origin="api", policy=policy)
        topup.job_id = job.id
        audit(uow, principal, "card.topup", ("card", iccid), card.enterprise_id,
              amount_fen=amount_fen, topup_id=topup.id, job_id=job.id)
        return topup_view(topup, job)

    return await transact(deps, principal, work, idem)


async def _check_purse(uow: UnitOfWork, card: Card, amount_fen: int) -> None:
    if card.state is not CardState.ACTIVE:
        raise InvalidState(f"card {card.iccid} is {card.state.value}: no top-up",
                           state=card.state.value)
    purse = next((a for a in await uow.apps.for_card(card.id) if a.app is AppKind.PURSE), None)
    if purse is None or purse.state is not AppState.ACTIVE:
        raise InvalidState("the purse (消费) application is not active on this card",
                           state="no_purse")
    limit = purse.data.get("purse_limit_fen")
    if isinstance(limit, int):
        account = await ledger.account(uow, ledger.purse_code(card.id))
        if account.balance + amount_fen > limit:
            raise InvalidState(f"the card holds at most {limit} fen; it has {account.balance}",
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


async def confirm_many(uow: UnitOfWork, jobs: Sequence[OtaJob]) -> dict[int, OtaTopup]:
    """The cards have the money (each job's result says what they hold): release the holds.

    By job id. A batch of confirmations costs a fixed number of statements.
    """
    stmt = select(OtaTopup).where(OtaTopup.job_id.in_([j.id for j in jobs]))
    rows = {r.job_id: r for r in await uow.session.scalars(stmt) if r.job_id is not None}
    missing = [j.id for j in jobs if j.id not in rows]
    if missing:
        raise NotFound(f"no top-up for OTA job {missing[0]}")
    await ledger.release_many(uow, [rows[j.id].hold_ref for j in jobs])
    now = uow.clock()
    for job in jobs:
        row, result = rows[job.id], job.result or {}
        row.state, row.confirmed_at, row.updated_at = JobState.CONFIRMED, now, now
        row.card_balance_fen = int(result["balance_fen"])
        row.load_counter, row.replayed = int(result["load_counter"]), bool(result["replayed"])
    return rows


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


def is_final(view: View) -> bool:
    return view["state"] in (JobState.CONFIRMED.value, JobState.REVERSED.value)
