"""The ledger: double-entry postings in integer fen, idempotent by reference, with holds.

The ledger is the truth about money; a card's purse is a replica. A posting is a set of legs
(account, signed amount) that sum to zero. Its ``reference`` is unique: posting the same
reference again returns the first posting (a retry), and reusing it for different legs is
refused. Purses may not go below zero counting open holds; enterprise accounts (cash, revenue,
refunds, suspense) may.

A hold reserves money on an account (``held``) until it is captured into a posting or released:
the shape of an over-the-air top-up that is paid before the card confirms it.

These functions run inside the caller's unit of work; they never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from gateway.db import bulk
from gateway.db.fast import Query
from gateway.db.models import Account, Card, Entry, Hold, Posting
from gateway.db.repositories import Balance
from gateway.db.uow import UnitOfWork
from gateway.domain import AccountKind, HoldState, PostingKind
from gateway.errors import (
    GatewayError,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidState,
    NotFound,
    ValidationError,
)

ENTERPRISE_ACCOUNTS = (
    AccountKind.CASH,
    AccountKind.REVENUE,
    AccountKind.REFUND,
    AccountKind.SUSPENSE,
)

_POSTINGS = cast(Table, Posting.__table__)
_ENTRIES = cast(Table, Entry.__table__)
_HOLDS = cast(Table, Hold.__table__)
_ACCOUNTS = cast(Table, Account.__table__)
_HOLD_COLUMNS = ("reference", "account_id", "amount", "state", "posting_id", "created_at",
                 "expires_at", "settled_at")
# Statements of every posting batch, built once (``gateway.db.fast``).
_PRIOR_POSTINGS = Query(select(
    Posting.id, Posting.reference, Posting.kind, Posting.enterprise_id, Posting.memo,
    Posting.reverses_id).where(Posting.reference.in_(bindparam("references", expanding=True))))
_BALANCES_SELECT = select(
    Account.id, Account.code, Account.balance, Account.held, Account.allow_negative).where(
    Account.code.in_(bindparam("codes", expanding=True))).order_by(Account.id)
_BALANCES = Query(_BALANCES_SELECT)
_BALANCES_LOCKED = Query(_BALANCES_SELECT.with_for_update(key_share=True))
_PRIOR_HOLDS = Query(select(Hold.reference, Hold.account_id, Hold.amount).where(
    Hold.reference.in_(bindparam("references", expanding=True))))
_OPEN_HOLDS_SELECT = select(Hold.id, Hold.reference, Hold.account_id, Hold.amount,
                            Hold.state).where(
    Hold.reference.in_(bindparam("references", expanding=True))).order_by(Hold.id)
_OPEN_HOLDS = Query(_OPEN_HOLDS_SELECT)
_OPEN_HOLDS_LOCKED = Query(_OPEN_HOLDS_SELECT.with_for_update(key_share=True))
_HELD_SELECT = select(Account.id, Account.held).where(
    Account.id.in_(bindparam("accounts", expanding=True))).order_by(Account.id)
_HELD = Query(_HELD_SELECT)
_HELD_LOCKED = Query(_HELD_SELECT.with_for_update(key_share=True))
_RELEASE = Query(update(Hold).where(Hold.id.in_(bindparam("holds", expanding=True)))
                 .values(state=bindparam("state"), settled_at=bindparam("settled_at"))
                 .execution_options(synchronize_session=False))
_POSTING_COLUMNS = ("reference", "kind", "enterprise_id", "memo", "reverses_id", "created_at")


def purse_code(card_id: int) -> str:
    return f"purse:{card_id}"


def enterprise_code(kind: AccountKind, enterprise_id: int) -> str:
    return f"{kind.value}:{enterprise_id}"


@dataclass(frozen=True)
class Leg:
    account: str
    amount: int


@dataclass(frozen=True)
class PostingSpec:
    reference: str
    kind: PostingKind
    enterprise_id: int
    legs: tuple[Leg, ...]
    memo: str | None = None
    reverses_id: int | None = None

    def check(self) -> None:
        if len(self.legs) < 2 or any(leg.amount == 0 for leg in self.legs):
            raise ValidationError("legs", "a posting has two or more non-zero legs")
        if sum(leg.amount for leg in self.legs) != 0:
            raise ValidationError("legs", "the legs of a posting sum to zero")
        if len({leg.account for leg in self.legs}) != len(self.legs):
            raise ValidationError("legs", "each account appears once in a posting")


def transfer(
    reference: str, kind: PostingKind, enterprise_id: int, source: str, target: str,
    amount: int, memo: str | None = None,
) -> PostingSpec:
    """Move ``amount`` fen from ``source`` to ``target``."""
    legs = (Leg(source, -amount), Leg(target, amount))
    return PostingSpec(reference, kind, enterprise_id, legs, memo)


def open_enterprise_accounts(uow: UnitOfWork, enterprise_id: int) -> None:
    now = uow.clock()
    for kind in ENTERPRISE_ACCOUNTS:
        uow.ledger.add(
            Account(
                code=enterprise_code(kind, enterprise_id), kind=kind,
                enterprise_id=enterprise_id, card_id=None, balance=0, held=0,
                allow_negative=True, created_at=now, updated_at=now,
            )
        )


def open_purse(uow: UnitOfWork, card: Card) -> Account:
    now = uow.clock()
    return uow.ledger.add(
        Account(
            code=purse_code(card.id), kind=AccountKind.PURSE, enterprise_id=card.enterprise_id,
            card_id=card.id, balance=0, held=0, allow_negative=False,
            created_at=now, updated_at=now,
        )
    )


async def account(uow: UnitOfWork, code: str, *, for_update: bool = False) -> Account:
    found = await uow.ledger.accounts_by_codes([code], for_update=for_update)
    if not found:
        raise NotFound(f"ledger account {code} not found")
    return found[0]


@dataclass(frozen=True, slots=True)
class Posted:
    """A stored posting (its ``Posting`` row is not loaded: a terminal batch posts a hundred
    at once, and building ORM objects for them would cost more than storing them)."""

    id: int
    reference: str
    kind: PostingKind
    enterprise_id: int
    memo: str | None
    reverses_id: int | None

    @classmethod
    def of(cls, row: Posting) -> Posted:
        return cls(row.id, row.reference, row.kind, row.enterprise_id, row.memo, row.reverses_id)


async def post(uow: UnitOfWork, spec: PostingSpec) -> Posted:
    """Post one spec; raise if it is refused (insufficient funds, reused reference...)."""
    (outcome,) = await post_many(uow, [spec])
    if isinstance(outcome, GatewayError):
        raise outcome
    return outcome


async def post_many(
    uow: UnitOfWork, specs: Sequence[PostingSpec]
) -> list[Posted | GatewayError]:
    """Post specs in order; each is applied or refused alone (the outcome says which).

    Terminal batches post up to a hundred purchases at once, in a fixed number of statements:
    one finds references already posted, one locks every account involved (in id order) and
    reads its balance, then the new postings, their entries and the new balances go in by
    executemany (``gateway.db.bulk``).
    """
    for spec in specs:
        spec.check()
    prior = {p.reference: Posted(*p) for p in await _PRIOR_POSTINGS.rows(
        uow.session, {"references": list({s.reference for s in specs})})}
    codes = {leg.account for s in specs for leg in s.legs}
    accounts = await balances(uow, codes)
    outcomes: list[Posted | GatewayError | PostingSpec] = []
    fresh: list[PostingSpec] = []
    fresh_refs: set[str] = set()
    for spec in specs:
        if spec.reference in prior:
            outcomes.append(await _replay(uow, spec, prior[spec.reference], accounts))
            continue
        if spec.reference in fresh_refs:
            outcomes.append(IdempotencyKeyReused(
                f"posting reference {spec.reference} repeated in a batch"))
            continue
        refusal = _apply(spec, accounts)
        outcomes.append(refusal if refusal is not None else spec)
        if refusal is None:
            fresh.append(spec)
            fresh_refs.add(spec.reference)
    inserted = await _insert(uow, fresh, accounts)
    return [inserted[o.reference] if isinstance(o, PostingSpec) else o for o in outcomes]


def _apply(spec: PostingSpec, accounts: dict[str, Balance]) -> GatewayError | None:
    missing = [leg.account for leg in spec.legs if leg.account not in accounts]
    if missing:
        return NotFound(f"ledger account {missing[0]} not found")
    for leg in spec.legs:
        acct = accounts[leg.account]
        if not acct.allow_negative and acct.balance - acct.held + leg.amount < 0:
            return InsufficientFunds(
                f"{leg.account} has {acct.balance - acct.held} fen available,"
                f" {-leg.amount} needed",
                available_fen=acct.balance - acct.held,
            )
    for leg in spec.legs:
        acct = accounts[leg.account]
        acct.balance += leg.amount
        acct.changed = True
    return None


async def _insert(
    uow: UnitOfWork, fresh: list[PostingSpec], accounts: dict[str, Balance]
) -> dict[str, Posted]:
    """Insert postings, their entries and the accounts' new balances: three statements.

    The postings' ids come back through RETURNING, matched by reference (the order of
    RETURNING rows is not guaranteed by every database).
    """
    if not fresh:
        return {}
    now = uow.clock()
    rows = [(s.reference, s.kind, s.enterprise_id, s.memo, s.reverses_id, now) for s in fresh]
    ids = {ref: int(pid) for pid, ref in await bulk.insert_returning(
        uow.session, _POSTINGS, _POSTING_COLUMNS, rows, ("id", "reference"))}
    await bulk.insert_rows(uow.session, _ENTRIES, ("posting_id", "account_id", "amount"), [
        (ids[spec.reference], accounts[leg.account].id, leg.amount)
        for spec in fresh
        for leg in spec.legs
    ])
    await uow.ledger.write_balances([a for a in accounts.values() if a.changed], now)
    for acct in accounts.values():
        acct.changed = False
    return {s.reference: Posted(ids[s.reference], s.reference, s.kind, s.enterprise_id, s.memo,
                                s.reverses_id) for s in fresh}


async def _replay(
    uow: UnitOfWork, spec: PostingSpec, row: Posted, accounts: dict[str, Balance]
) -> Posted | GatewayError:
    by_id = {a.id: a.code for a in accounts.values()}
    legs = {(by_id.get(e.account_id), e.amount) for e in await uow.ledger.entries_of([row.id])}
    if legs != {(leg.account, leg.amount) for leg in spec.legs} or row.kind != spec.kind:
        return IdempotencyKeyReused(
            f"posting reference {spec.reference} was used for a different posting"
        )
    return row


async def balances(uow: UnitOfWork, codes: Collection[str]) -> dict[str, Balance]:
    """The accounts' balances by code (no ORM objects), locked in id order on PostgreSQL."""
    query = _BALANCES if uow.is_sqlite else _BALANCES_LOCKED
    return {row.code: Balance(*row) for row in await query.rows(
        uow.session, {"codes": list(codes)})}


async def hold(
    uow: UnitOfWork, reference: str, code: str, amount: int, expires_at: datetime | None = None
) -> Hold:
    """Reserve ``amount`` fen on an account; idempotent by ``reference``."""
    if amount <= 0:
        raise ValidationError("amount_fen", "a hold is positive")
    existing = await uow.ledger.hold_by_reference(reference)
    acct = await account(uow, code, for_update=True)
    if existing is not None:
        if existing.account_id != acct.id or existing.amount != amount:
            raise IdempotencyKeyReused(f"hold reference {reference} was used for another hold")
        return existing
    if not acct.allow_negative and acct.balance - acct.held < amount:
        raise InsufficientFunds(
            f"{code} has {acct.balance - acct.held} fen available, {amount} needed",
            available_fen=acct.balance - acct.held,
        )
    acct.held += amount
    row = Hold(
        reference=reference, account_id=acct.id, amount=amount, state=HoldState.HELD,
        posting_id=None, created_at=uow.clock(), expires_at=expires_at, settled_at=None,
    )
    uow.ledger.session.add(row)
    return row


async def hold_many(uow: UnitOfWork, holds: Sequence[tuple[str, str, int]]) -> None:
    """``hold`` for many (reference, account code, fen) at once (top-up requests committed
    together); idempotent by reference, as ``hold``. Four statements, no ORM objects: the holds
    already made, the accounts (locked in id order), the new holds, the accounts' new
    ``held``; accounts this session loaded as objects see it too."""
    session, now = uow.ledger.session, uow.clock()
    existing = {ref: (account, amount) for ref, account, amount in await _PRIOR_HOLDS.rows(
        session, {"references": list({ref for ref, _, _ in holds})})}
    accounts = await balances(uow, {code for _, code, _ in holds})
    fresh: dict[str, tuple[Any, ...]] = {}
    held: dict[int, int] = {}
    for reference, code, amount in holds:
        acct = accounts.get(code)
        if acct is None:
            raise NotFound(f"ledger account {code} not found")
        prior = existing.get(reference)
        if prior is not None or reference in fresh:
            same = prior if prior is not None else fresh[reference][1:3]
            if same != (acct.id, amount):
                raise IdempotencyKeyReused(f"hold reference {reference} was used for another "
                                           "hold")
            continue
        if amount <= 0:
            raise ValidationError("amount_fen", "a hold is positive")
        if not acct.allow_negative and acct.balance - acct.held < amount:
            raise InsufficientFunds(
                f"{code} has {acct.balance - acct.held} fen available, {amount} needed",
                available_fen=acct.balance - acct.held)
        acct.held += amount
        held[acct.id] = acct.held
        fresh[reference] = (reference, acct.id, amount, HoldState.HELD, None, now, None, None)
    if not fresh:
        return
    await bulk.insert_rows(session, _HOLDS, _HOLD_COLUMNS, list(fresh.values()))
    await bulk.update_rows(session, _ACCOUNTS, ("held", "updated_at", "id"),
                           [(value, now, account) for account, value in held.items()])
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Account) and obj.id in held:
            set_committed_value(obj, "held", held[obj.id])
            set_committed_value(obj, "updated_at", now)


async def release(uow: UnitOfWork, reference: str) -> Hold:
    """Give reserved money back to the account; releasing twice is a no-op."""
    row = await _open_hold(uow, reference, HoldState.RELEASED)
    if row.state is HoldState.HELD:
        await _unhold(uow, row, HoldState.RELEASED)
    return row


async def release_many(uow: UnitOfWork, references: Sequence[str]) -> dict[int, int]:
    """``release`` for many holds at once, in four statements and without loading rows as
    objects (batches of OTA confirmations). Returns what was released, fen by account id.

    The holds are locked in id order, then their accounts (as ``release`` does, one by one).
    """
    session, now = uow.ledger.session, uow.clock()
    rows = await (_OPEN_HOLDS if uow.is_sqlite else _OPEN_HOLDS_LOCKED).rows(
        session, {"references": list(references)})
    missing = set(references) - {r.reference for r in rows}
    if missing:
        raise NotFound(f"hold {sorted(missing)[0]} not found")
    released: dict[int, int] = {}
    for row in rows:
        if row.state not in (HoldState.HELD, HoldState.RELEASED):
            raise InvalidState(f"hold {row.reference} is {row.state.value}",
                               state=row.state.value)
        if row.state is HoldState.HELD:
            released[row.account_id] = released.get(row.account_id, 0) + row.amount
    held_ids = [r.id for r in rows if r.state is HoldState.HELD]
    if not held_ids:
        return released
    accounts = await (_HELD if uow.is_sqlite else _HELD_LOCKED).rows(
        session, {"accounts": list(released)})
    held_now = {a.id: a.held - released[a.id] for a in accounts}
    await bulk.update_rows(session, _ACCOUNTS, ("held", "updated_at", "id"),
                           [(held, now, account) for account, held in held_now.items()])
    await _RELEASE.run(session, {"holds": held_ids, "state": HoldState.RELEASED,
                                 "settled_at": now})
    _synchronise(session, held_now, set(held_ids), now)
    return released


def _synchronise(session: AsyncSession, held: dict[int, int], holds: set[int],
                 now: datetime) -> None:
    """Rows of this session loaded before the bulk UPDATEs take their new values (as read)."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Account) and obj.id in held:
            set_committed_value(obj, "held", held[obj.id])
        elif isinstance(obj, Hold) and obj.id in holds:
            set_committed_value(obj, "state", HoldState.RELEASED)
            set_committed_value(obj, "settled_at", now)


async def capture(uow: UnitOfWork, reference: str, spec: PostingSpec) -> Posted:
    """Turn a hold into a posting (which normally debits the held account by its amount)."""
    row = await _open_hold(uow, reference, HoldState.CAPTURED)
    if row.state is HoldState.CAPTURED:
        return await post(uow, spec)
    await _unhold(uow, row, HoldState.CAPTURED)
    posting_row = await post(uow, spec)
    row.posting_id = posting_row.id
    return posting_row


async def _open_hold(uow: UnitOfWork, reference: str, target: HoldState) -> Hold:
    row = await uow.ledger.hold_by_reference(reference, for_update=True)
    if row is None:
        raise NotFound(f"hold {reference} not found")
    if row.state not in (HoldState.HELD, target):
        raise InvalidState(f"hold {reference} is {row.state.value}", state=row.state.value)
    return row


async def _unhold(uow: UnitOfWork, row: Hold, state: HoldState) -> None:
    (acct,) = await uow.ledger.accounts_by_ids([row.account_id], for_update=True)
    acct.held -= row.amount
    row.state = state
    row.settled_at = uow.clock()


async def reverse(uow: UnitOfWork, original: str, reference: str, memo: str | None) -> Posted:
    """Post the exact opposite of posting ``original`` (once: ``reference`` is unique)."""
    found = await uow.ledger.postings_by_references([original])
    if not found:
        raise NotFound(f"posting {original} not found")
    entries = await uow.ledger.entries_of([found[0].id])
    codes = {a.id: a.code for a in await uow.ledger.accounts_by_ids(
        [e.account_id for e in entries])}
    legs = tuple(Leg(codes[e.account_id], -e.amount) for e in entries)
    spec = PostingSpec(reference, PostingKind.REVERSAL, found[0].enterprise_id, legs, memo,
                       reverses_id=found[0].id)
    return await post(uow, spec)
