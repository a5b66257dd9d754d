"""The OTA engine's database side: claim jobs, record what was sent, apply PoRs, time out.

Each function runs inside the caller's unit of work and handles a batch: the engine
(``gateway.workers.ota``) claims many jobs in one transaction and applies many PoRs in another,
so the database sees few transactions however many cards are in flight.

Claiming takes the oldest due ``pending`` job of each card that has no job ``sent`` and no older
job still open (jobs of one card go out one at a time, in order: a lock sent after an unlock
must not overtake it), allocates the card's next SCP80 counter (one ``UPDATE ... RETURNING``
for the whole batch) and records the attempt; all of it commits before any SMS leaves, so a
counter is never used twice. On PostgreSQL the jobs and then their cards are locked ``SKIP
LOCKED``, and the "nothing sent for this card" check is repeated once the card is locked, so
that several gateway nodes never send two packets to one card at once; on SQLite the claim runs
under the database's single write lock.

A PoR is matched by the card that sent it (the MO's number, through the attempts sent there),
verified with that card's keys (``ota.por.verify_por``: decipher, check the CC), then by
(card, counter) to its attempt. A PoR that fails verification, names a counter no attempt
used, or repeats one already answered changes nothing and leaves an alert.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Table, and_, bindparam, exists, insert, or_, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from gateway import cardkeys, identifiers
from gateway.db import bulk
from gateway.db.engine import Database
from gateway.db.fast import Query
from gateway.db.models import Card
from gateway.db.models_ota import OtaAlert, OtaAttempt, OtaJob
from gateway.db.uow import UnitOfWork
from gateway.errors import GatewayError
from gateway.ota_core import (
    FINAL_STATES,
    OPEN_STATES,
    Decision,
    Done,
    Fail,
    JobState,
    Outcome,
    PorReport,
    Progress,
    check_transition,
    decide,
    interpret,
    next_script,
    on_timeout,
    script_of,
)
from gateway.services.ota_jobs import OtaSettings
from gateway.vault import Vault
from ota.errors import OtaError, RcCcDsFailed
from ota.keys import OtaKeyset
from ota.por import Por, verify_por

if TYPE_CHECKING:  # ota_effects imports topups, which imports this module
    from gateway.services.ota_effects import Effects

log = logging.getLogger(__name__)


class KeyCache:
    """Card key sets, unsealed once per process (they are needed for every packet and PoR)."""

    def __init__(self, vault: Vault, size: int = 50_000) -> None:
        self.vault = vault
        self.size = size
        self._keys: dict[tuple[int, bytes], OtaKeyset] = {}

    def get(self, card_id: int, iccid: str, sealed: bytes) -> OtaKeyset:
        key = (card_id, sealed)
        found = self._keys.get(key)
        if found is None:
            if len(self._keys) >= self.size:
                self._keys.clear()
            found = self._keys[key] = cardkeys.unseal(self.vault, iccid, sealed)
        return found


@dataclass(frozen=True)
class Outgoing:
    """One command packet to send: everything but the SMS, decided and committed."""

    job_id: int
    card_id: int
    msisdn: str
    counter: int
    tar: bytes
    data: bytes
    keyset: OtaKeyset = field(repr=False)


class Dispatch(Protocol):
    """A running OTA engine of this process, which takes packets claimed by others."""

    keys: KeyCache
    settings: OtaSettings

    def ready(self) -> bool: ...

    def send(self, items: Sequence[Outgoing]) -> None: ...

    def wake(self) -> None:
        """Jobs were made that wait for the sender (their card has another job open)."""


_DISPATCH: weakref.WeakKeyDictionary[Database, Dispatch] = weakref.WeakKeyDictionary()


def register(database: Database, dispatch: Dispatch | None) -> None:
    """The engine that sends what is claimed on ``database`` in this process (None: none)."""
    if dispatch is None:
        _DISPATCH.pop(database, None)
    else:
        _DISPATCH[database] = dispatch


def dispatch_for(database: Database) -> Dispatch | None:
    """The engine to hand new jobs to at once, if it can send now; else the sender claims them
    (this process's, or another node's)."""
    found = _DISPATCH.get(database)
    return found if found is not None and found.ready() else None


async def settle(uow: UnitOfWork, job: OtaJob, decision: Decision, fx: Effects) -> None:
    """Move ``job`` as ``decision`` says; a final state queues the job's effects in ``fx``."""
    now = uow.clock()
    if decision.state is not job.state:
        check_transition(job.state, decision.state)
    if decision.done is not None:
        job.progress = list(decision.done)
    job.state, job.updated_at = decision.state, now
    job.not_before = decision.not_before or now
    if decision.result is not None:
        job.result = decision.result
    if decision.failure:
        job.failure = decision.failure[:300]
    if decision.state in FINAL_STATES:
        job.finished_at = now
        fx.pending.append(job)  # effects applied by ``fx.flush``, together


# -- claiming ------------------------------------------------------------------------------


def _claimable(now: datetime, limit: int, sqlite: bool) -> Any:
    earlier = aliased(OtaJob)
    blocked = exists().where(
        earlier.card_id == OtaJob.card_id, earlier.id != OtaJob.id,
        or_(earlier.state == JobState.SENT,
            and_(earlier.state == JobState.PENDING, earlier.id < OtaJob.id)))
    stmt = (select(OtaJob).where(OtaJob.state == JobState.PENDING, OtaJob.not_before <= now,
                                 ~blocked).order_by(OtaJob.id).limit(limit))
    return stmt if sqlite else stmt.with_for_update(skip_locked=True, of=OtaJob)


async def claim(uow: UnitOfWork, keys: KeyCache, settings: OtaSettings,
                limit: int) -> list[Outgoing]:
    now = uow.clock()
    jobs: dict[int, OtaJob] = {}
    for job in await uow.session.scalars(_claimable(now, limit, uow.is_sqlite)):
        jobs.setdefault(job.card_id, job)  # one per card and batch
    if not jobs:
        return []
    cards = await _lock_cards(uow, list(jobs))
    return await _start(uow, {cid: j for cid, j in jobs.items() if cid in cards}, cards, keys,
                        settings)


async def start_now(uow: UnitOfWork, jobs: Sequence[OtaJob], keys: KeyCache,
                    settings: OtaSettings) -> list[Outgoing]:
    """Claim jobs made in this very transaction, so that they leave as soon as it commits
    (not at the sender's next claim): those whose card has no other job open."""
    ids = [j.id for j in jobs]
    busy = set(await uow.session.scalars(select(OtaJob.card_id).where(
        OtaJob.card_id.in_({j.card_id for j in jobs}), OtaJob.state.in_(list(OPEN_STATES)),
        OtaJob.id.not_in(ids))))
    first: dict[int, OtaJob] = {}
    for job in sorted(jobs, key=lambda j: j.id):
        if job.card_id not in busy:
            first.setdefault(job.card_id, job)
    if not first:
        return []
    cards = await _lock_cards(uow, list(first))
    return await _start(uow, {cid: j for cid, j in first.items() if cid in cards}, cards, keys,
                        settings)


async def _start(uow: UnitOfWork, jobs: dict[int, OtaJob], cards: dict[int, tuple[str, bytes]],
                 keys: KeyCache, settings: OtaSettings) -> list[Outgoing]:
    """Counter, attempt and ``sent`` for one job per card, written with one statement each."""
    if not jobs:
        return []
    now = uow.clock()
    counters = await _next_counters(uow, list(jobs))
    spi = settings.spi.encode().hex()
    attempts, changes, out = [], [], []
    for card_id, job in jobs.items():
        script = next_script(job.kind, job.params, job.progress)
        attempts.append({"job_id": job.id, "card_id": card_id, "msisdn": job.msisdn,
                         "tar": script.tar.hex(), "spi": spi, "counter": counters[card_id],
                         "ops": script.keys, "sent_at": now})
        change = {"state": JobState.SENT, "attempts": job.attempts + 1,
                  "counter": counters[card_id], "not_before": _deadline(now, settings),
                  "sent_at": now, "updated_at": now}
        for name, value in change.items():  # the object as the row now is, not "dirty"
            set_committed_value(job, name, value)
        changes.append({"id": job.id, **change})
        iccid, sealed = cards[card_id]
        out.append(Outgoing(job.id, card_id, job.msisdn, counters[card_id], script.tar,
                            script.data, keys.get(card_id, iccid, sealed)))
    # Executemany, no RETURNING: an attempt is found again by (card, counter).
    await uow.session.execute(insert(OtaAttempt), attempts)
    await uow.session.execute(update(OtaJob), changes)
    return out


_JOBS = cast(Table, OtaJob.__table__)
_ATTEMPTS = cast(Table, OtaAttempt.__table__)
_JOB_COLUMNS = tuple(c.key for c in _JOBS.columns if c.key != "id")
_ATTEMPT_COLUMNS = ("job_id", "card_id", "msisdn", "tar", "spi", "counter", "ops", "sent_at")


async def any_due(uow: UnitOfWork) -> bool:
    """Is a pending job due (its card's earlier job done, or its retry time come)? Asked in
    the transaction that may have made it so (a PoR batch), instead of waking the sender to
    ask in a transaction of its own."""
    return bool(await _DUE.rows(uow.session, {"now": uow.clock()}))


async def add_jobs(uow: UnitOfWork, rows: Sequence[dict[str, Any]],
                   free: dict[int, tuple[str, bytes]], dispatch: Dispatch | None
                   ) -> tuple[list[int], list[Outgoing]]:
    """Insert new pending jobs (``ota_jobs.job_values``, each with its own ``dedupe_key``);
    their ids, in order. With an engine to send them (``dispatch``), the first job of each
    card in ``free`` (card id → ICCID and sealed keys: cards with no other job open, locked by
    the caller) goes in already sent, with its counter and attempt, and its packet is returned
    for the caller to hand to ``dispatch`` once the transaction commits. What ``start_now``
    does for jobs added as objects, in a fixed number of statements and without ORM objects
    (top-up requests committed together)."""
    first: dict[int, int] = {}
    if dispatch is not None:
        for index, row in enumerate(rows):
            if row["card_id"] in free:
                first.setdefault(row["card_id"], index)
    now = uow.clock()
    counters = await _next_counters(uow, list(first)) if first else {}
    rows = list(rows)
    scripts = {}
    for card_id, index in first.items():
        assert dispatch is not None
        row = rows[index] = dict(rows[index])
        scripts[index] = next_script(row["kind"], row["params"], row["progress"])
        row.update(state=JobState.SENT, attempts=row["attempts"] + 1,
                   counter=counters[card_id], not_before=_deadline(now, dispatch.settings),
                   sent_at=now, updated_at=now)
    found = await bulk.insert_returning(
        uow.session, _JOBS, _JOB_COLUMNS, [tuple(r[c] for c in _JOB_COLUMNS) for r in rows],
        ("id", "dedupe_key"))
    by_key = {key: int(job_id) for job_id, key in found}
    ids = [by_key[r["dedupe_key"]] for r in rows]
    attempts, out = [], []
    for card_id, index in first.items():
        assert dispatch is not None
        row, script = rows[index], scripts[index]
        attempts.append((ids[index], card_id, row["msisdn"], script.tar.hex(),
                         dispatch.settings.spi.encode().hex(), row["counter"], script.keys, now))
        iccid, sealed = free[card_id]
        out.append(Outgoing(ids[index], card_id, row["msisdn"], row["counter"], script.tar,
                            script.data, dispatch.keys.get(card_id, iccid, sealed)))
    await bulk.insert_rows(uow.session, _ATTEMPTS, _ATTEMPT_COLUMNS, attempts)
    return ids, out


def _deadline(now: datetime, settings: OtaSettings) -> datetime:
    return now + timedelta(seconds=settings.policy.por_timeout)


async def _lock_cards(uow: UnitOfWork, card_ids: list[int]) -> dict[int, tuple[str, bytes]]:
    """The cards' ICCIDs and sealed keys; on PostgreSQL, only cards no other claim holds."""
    stmt = select(Card.id, Card.iccid, Card.keys_sealed).where(Card.id.in_(card_ids))
    if not uow.is_sqlite:
        stmt = stmt.with_for_update(key_share=True, skip_locked=True)
    found = {cid: (iccid, sealed) for cid, iccid, sealed in (await uow.session.execute(stmt))}
    if not uow.is_sqlite and found:
        # Another node may have sent a job of one of these cards since our snapshot.
        busy = await uow.session.scalars(select(OtaJob.card_id).where(
            OtaJob.card_id.in_(list(found)), OtaJob.state == JobState.SENT))
        for cid in busy:
            found.pop(cid, None)
    return found


async def _next_counters(uow: UnitOfWork, card_ids: list[int]) -> dict[int, int]:
    """Each card's next SCP80 counter (TS 102 225 5.1.1: strictly increasing per key set)."""
    return {int(cid): int(value)
            for cid, value in await _NEXT_COUNTERS.rows(uow.session, {"cards": card_ids})}


_DUE = Query(select(OtaJob.id).where(OtaJob.state == JobState.PENDING,
                                     OtaJob.not_before <= bindparam("now")).limit(1))
_NEXT_COUNTERS = Query(
    update(Card).where(Card.id.in_(bindparam("cards", expanding=True)))
    .values(ota_counter=Card.ota_counter + 1).returning(Card.id, Card.ota_counter)
    .execution_options(synchronize_session=False))


async def unsent(uow: UnitOfWork, failures: Sequence[tuple[Outgoing, str]],
                 settings: OtaSettings, fx: Effects) -> None:
    """Packets the SMSC did not take: their jobs wait and go again (a new counter)."""
    if not failures:
        return
    now = uow.clock()
    jobs = await _jobs(uow, [o.job_id for o, _ in failures])
    for sent, reason in failures:
        job = jobs.get(sent.job_id)
        await uow.session.execute(update(OtaAttempt).where(
            OtaAttempt.card_id == sent.card_id, OtaAttempt.counter == sent.counter)
            .values(outcome=f"not submitted: {reason}"[:300]))
        if job is None or job.state is not JobState.SENT or job.counter != sent.counter:
            continue
        await settle(uow, job, on_timeout(job.attempts, settings.policy, now), fx)


async def _jobs(uow: UnitOfWork, ids: Sequence[int]) -> dict[int, OtaJob]:
    stmt = select(OtaJob).where(OtaJob.id.in_(ids))
    if not uow.is_sqlite:
        stmt = stmt.with_for_update()
    return {job.id: job for job in await uow.session.scalars(stmt)}


async def expire(uow: UnitOfWork, settings: OtaSettings, limit: int, fx: Effects) -> int:
    """Jobs whose PoR did not come in time: another attempt, or give up."""
    now = uow.clock()
    stmt = (select(OtaJob).where(OtaJob.state == JobState.SENT, OtaJob.not_before <= now)
            .order_by(OtaJob.not_before).limit(limit))
    if not uow.is_sqlite:
        stmt = stmt.with_for_update(skip_locked=True)
    jobs = list((await uow.session.scalars(stmt)).all())
    for job in jobs:
        await settle(uow, job, on_timeout(job.attempts, settings.policy, now), fx)
    return len(jobs)


# -- PoRs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PorIn:
    msisdn: str
    tp_ud: bytes


@dataclass(frozen=True)
class _Verified:
    item: PorIn
    card_id: int
    enterprise_id: int
    por: Por


def alert(uow: UnitOfWork, kind: str, msisdn: str, *, enterprise_id: int | None = None,
          card_id: int | None = None, job_id: int | None = None, **detail: Any) -> str:
    log.warning("OTA alert %s from %s: %s", kind, msisdn, detail.get("reason", ""))
    uow.session.add(OtaAlert(at=uow.clock(), kind=kind, enterprise_id=enterprise_id,
                             card_id=card_id, job_id=job_id, msisdn=msisdn[:16], detail=detail))
    return f"alert:{kind}"


def number_of(raw: str) -> str:
    try:
        return identifiers.msisdn(raw)
    except GatewayError:
        return raw.lstrip("+")


async def apply_pors(uow: UnitOfWork, keys: KeyCache, settings: OtaSettings,
                     items: Sequence[PorIn], fx: Effects) -> list[str]:
    """Verify, match and apply a batch of PoRs; one label per item (``applied``, ``alert:*``)."""
    items = [PorIn(number_of(i.msisdn), i.tp_ud) for i in items]
    candidates = await _candidate_cards(uow, {i.msisdn for i in items})
    labels: dict[int, str] = {}
    verified: list[tuple[int, _Verified]] = []
    for index, item in enumerate(items):
        outcome = _verify(item, candidates.get(item.msisdn, []), keys, settings)
        if isinstance(outcome, _Verified):
            verified.append((index, outcome))
        else:
            labels[index] = alert(uow, outcome[0], item.msisdn, reason=outcome[1],
                                  enterprise_id=outcome[2], card_id=outcome[3])
    attempts = await _attempts(uow, [v for _, v in verified])
    for index, v in verified:
        labels[index] = await _apply(uow, v, attempts.get((v.card_id, v.por.counter)), settings,
                                     fx)
    await _write_back(uow, _ATTEMPTS, _ATTEMPT_WRITES, [a for a, _ in attempts.values()])
    await _write_back(uow, _JOBS, _JOB_WRITES, list({j.id: j for _, j in attempts.values()}
                                                     .values()))
    return [labels[i] for i in range(len(items))]


_ATTEMPT_WRITES = ("por_at", "por_status", "outcome", "id")
_JOB_WRITES = ("state", "progress", "result", "failure", "not_before", "updated_at",
               "finished_at", "id")


async def _write_back(uow: UnitOfWork, table: Table, names: Sequence[str],
                      rows: Sequence[OtaAttempt | OtaJob]) -> None:
    """Store what a PoR batch changed on its attempts or jobs in one executemany, and mark
    the objects stored: the ORM's own flush of a few objects costs more than the batch's
    statements. What changes later (a job's effects) the ORM still flushes."""
    dirty = uow.session.dirty
    changed = [r for r in rows if r in dirty]
    if not changed:
        return
    await bulk.update_rows(uow.session, table, names,
                           [tuple(getattr(r, n) for n in names) for r in changed])
    for row in changed:
        for name in names[:-1]:
            set_committed_value(row, name, getattr(row, name))


_Card = tuple[int, str, bytes, int]  # id, ICCID, sealed keys, enterprise


async def _candidate_cards(uow: UnitOfWork, numbers: set[str]) -> dict[str, list[_Card]]:
    """Cards that were sent packets at each number (usually one; two after a replacement)."""
    out: dict[str, list[_Card]] = {}
    for number, cid, iccid, sealed, enterprise in await _CANDIDATES.rows(
            uow.session, {"numbers": list(numbers)}):
        out.setdefault(number, []).append((int(cid), str(iccid), bytes(sealed), int(enterprise)))
    for cards in out.values():
        cards.sort(key=lambda c: -c[0])  # the newest card first
    return out


def _verify(item: PorIn, cards: list[_Card], keys: KeyCache,
            settings: OtaSettings) -> _Verified | tuple[str, str, int | None, int | None]:
    """The PoR checked with the keys of one of the sender's cards, or why it was refused."""
    if not cards:
        return ("unknown_sender", "no OTA command was ever sent to this number", None, None)
    first: OtaError | None = None
    for card_id, iccid, sealed, enterprise in cards:
        try:
            por = verify_por(item.tp_ud, settings.spi, keys.get(card_id, iccid, sealed))
        except OtaError as exc:
            first = first or exc
            continue
        return _Verified(item, card_id, enterprise, por)
    assert first is not None
    kind = "bad_cc" if isinstance(first, RcCcDsFailed) else "bad_por"
    return (kind, first.detail, cards[0][3], cards[0][0])


async def _attempts(uow: UnitOfWork, verified: Sequence[_Verified]
                    ) -> dict[tuple[int, int], tuple[OtaAttempt, OtaJob]]:
    if not verified:
        return {}
    stmt = _ATTEMPTS_OF if uow.is_sqlite else _ATTEMPTS_OF_LOCKED
    rows = (await uow.session.execute(stmt, {
        "cards": list({v.card_id for v in verified}),
        "counters": list({v.por.counter for v in verified})})).all()
    return {(a.card_id, a.counter): (a, j) for a, j in rows}


# Statements of every PoR batch, built once (``gateway.db.fast``).
_CANDIDATES = Query(
    select(OtaAttempt.msisdn, OtaAttempt.card_id, Card.iccid, Card.keys_sealed,
           Card.enterprise_id).join(Card, Card.id == OtaAttempt.card_id)
    .where(OtaAttempt.msisdn.in_(bindparam("numbers", expanding=True))).distinct())
_ATTEMPTS_OF = (select(OtaAttempt, OtaJob).join(OtaJob, OtaJob.id == OtaAttempt.job_id)
                .where(OtaAttempt.card_id.in_(bindparam("cards", expanding=True)),
                       OtaAttempt.counter.in_(bindparam("counters", expanding=True))))
_ATTEMPTS_OF_LOCKED = _ATTEMPTS_OF.with_for_update(of=OtaJob)


async def _apply(uow: UnitOfWork, v: _Verified, found: tuple[OtaAttempt, OtaJob] | None,
                 settings: OtaSettings, fx: Effects) -> str:
    por, msisdn = v.por, v.item.msisdn
    where = {"enterprise_id": v.enterprise_id, "card_id": v.card_id}
    if found is None:
        return alert(uow, "unknown_counter", msisdn, counter=por.counter,
                     reason="no packet was sent with this counter", **where)
    attempt, job = found
    if attempt.tar != por.tar.hex():
        return alert(uow, "tar_mismatch", msisdn, job_id=job.id, counter=por.counter,
                     reason=f"PoR TAR {por.tar.hex()} for a packet to {attempt.tar}", **where)
    if attempt.por_at is not None:
        return alert(uow, "replayed_counter", msisdn, job_id=job.id, counter=por.counter,
                     status=int(por.status), reason="a PoR for this counter was applied before",
                     **where)
    attempt.por_at, attempt.por_status = uow.clock(), int(por.status)
    report = PorReport(int(por.status), por.secured, por.data)
    if job.state in FINAL_STATES:
        attempt.outcome = "after the job ended"
        if por.ok and job.state is not JobState.CONFIRMED:
            return alert(uow, "late_por", msisdn, job_id=job.id, counter=por.counter,
                         reason=f"the card answered after the job {job.state.value}", **where)
        return "late"
    outcome = interpret(job.kind, script_of(job.kind, job.params, attempt.ops), job.progress,
                        report)
    attempt.outcome = _describe(outcome)[:300]
    await _decide(uow, job, attempt, outcome, settings, fx)
    return "applied"


def _describe(outcome: Outcome) -> str:
    if isinstance(outcome, Done):
        return "done"
    if isinstance(outcome, Fail | Progress):
        return outcome.reason
    return getattr(outcome, "reason", "more time")


async def _decide(uow: UnitOfWork, job: OtaJob, attempt: OtaAttempt, outcome: Outcome,
                  settings: OtaSettings, fx: Effects) -> None:
    stale = job.counter != attempt.counter  # the PoR of an earlier attempt came late
    if stale and not isinstance(outcome, Done | Fail | Progress):
        return  # the latest attempt is still out; only a conclusion may overtake it
    if stale and isinstance(outcome, Progress) and job.state is JobState.SENT:
        job.progress = list(dict.fromkeys([*job.progress, *outcome.done]))
        return
    decision = decide(outcome, job.attempts, settings.policy, uow.clock())
    await settle(uow, job, decision, fx)

