"""Repositories: add rows and get rows. They never commit; the unit of work does.

``for_update=True`` takes a row lock on PostgreSQL, ``SELECT ... FOR NO KEY UPDATE``: it queues
writers of the row but not inserts that merely reference it (a foreign key takes ``KEY SHARE``),
so a terminal record pointing at a card never deadlocks with a lifecycle change of that card.
On SQLite the whole write transaction already holds the database write lock
(see ``gateway.db.engine``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.attributes import set_committed_value

from gateway.db import bulk
from gateway.db.models import (
    Account,
    Admin,
    ApiToken,
    AuditEntry,
    Base,
    BlacklistEntry,
    Card,
    CardApp,
    DomainEvent,
    Enterprise,
    Entry,
    Hold,
    IdempotencyKey,
    Member,
    Posting,
    Terminal,
    TerminalGap,
    TerminalRecord,
)
from gateway.domain import (
    LIVE_CARD_STATES,
    BlacklistAction,
    CardState,
    MemberStatus,
    RecordKind,
    TerminalKind,
    TerminalStatus,
)

M = TypeVar("M", bound=Base)


@dataclass(frozen=True)
class Page:
    """Keyset paging: rows with ``id > after``, at most ``limit`` of them, by id."""

    after: int | None = None
    limit: int = 50


class Repository(Generic[M]):
    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # The session's identity map holds rows weakly: rows read by id are kept here for the
        # transaction, so that reading one again (a subscriber after the use case) costs no
        # query.
        self._kept: dict[int, M] = {}

    def add(self, row: M) -> M:
        self.session.add(row)
        return row

    def add_all(self, rows: Sequence[M]) -> None:
        self.session.add_all(rows)

    async def get(self, row_id: int, *, for_update: bool = False) -> M | None:
        if for_update:
            row = await self.first(self._id_col() == row_id, for_update=True)
        else:  # a row this transaction already loaded is not read again
            row = await self.session.get(self.model, row_id)
        if row is not None:
            self._kept[row_id] = row
        return row

    async def first(self, *where: ColumnElement[bool], for_update: bool = False) -> M | None:
        stmt = select(self.model).where(*where)
        if for_update:
            stmt = stmt.with_for_update(key_share=True)
        return (await self.session.scalars(stmt.limit(1))).first()

    async def all(self, stmt: Select[M]) -> list[M]:
        return list((await self.session.scalars(stmt)).all())

    async def page(self, where: Sequence[ColumnElement[bool]], page: Page) -> list[M]:
        id_col = self._id_col()
        stmt = select(self.model).where(*where)
        if page.after is not None:
            stmt = stmt.where(id_col > page.after)
        return await self.all(stmt.order_by(id_col).limit(page.limit))

    def _id_col(self) -> InstrumentedAttribute[int]:
        column: InstrumentedAttribute[int] = self.model.id  # type: ignore[attr-defined]
        return column


class EnterpriseRepo(Repository[Enterprise]):
    model = Enterprise

    async def by_code(self, code: str) -> Enterprise | None:
        return await self.first(Enterprise.code == code)


class AdminRepo(Repository[Admin]):
    model = Admin

    async def by_login(self, login: str) -> Admin | None:
        return await self.first(Admin.login == login)


class TokenRepo(Repository[ApiToken]):
    model = ApiToken

    async def with_admin(self, token_hash: str) -> tuple[ApiToken, Admin] | None:
        stmt = select(ApiToken, Admin).join(Admin).where(ApiToken.token_hash == token_hash)
        row = (await self.session.execute(stmt)).first()
        return None if row is None else (row[0], row[1])

    async def for_admin(self, admin_id: int, label: str | None = None) -> list[ApiToken]:
        stmt = select(ApiToken).where(ApiToken.admin_id == admin_id)
        if label is not None:
            stmt = stmt.where(ApiToken.label == label)
        return await self.all(stmt)


class MemberRepo(Repository[Member]):
    model = Member

    async def present_by_msisdns(self, msisdns: Collection[str]) -> list[Member]:
        return await self.all(
            select(Member).where(Member.msisdn.in_(msisdns), Member.status != MemberStatus.LEFT)
        )


@dataclass(frozen=True)
class CardRef:
    """The few columns of a card that a terminal record needs (no ORM object per card)."""

    id: int
    iccid: str
    enterprise_id: int
    member_id: int
    state: CardState


class CardRepo(Repository[Card]):
    model = Card

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # Cards this transaction loaded, by ICCID (which never changes): the lifecycle
        # subscribers look up the card their event names, which the change itself just locked.
        self._loaded: dict[str, Card] = {}

    async def refs_by_iccids(self, iccids: Collection[str]) -> list[CardRef]:
        # Core, on the connection: a terminal batch asks for a hundred cards, and the ORM's
        # execution layers would cost more than the query.
        conn = await self.session.connection()
        rows = await conn.execute(_CARD_REFS, {"iccids": list(iccids)})
        return [CardRef(*row) for row in rows]

    async def by_iccid(self, iccid: str, *, for_update: bool = False) -> Card | None:
        card = None if for_update else self._loaded.get(iccid)
        if card is None:
            card = await self.first(Card.iccid == iccid, for_update=for_update)
            if card is not None:
                self._loaded[iccid] = card
        return card

    async def by_iccids(self, iccids: Collection[str]) -> list[Card]:
        cards = await self.all(select(Card).where(Card.iccid.in_(iccids)))
        self._loaded.update((c.iccid, c) for c in cards)
        return cards

    async def live_for_member(self, member_id: int) -> Card | None:
        return await self.first(Card.member_id == member_id, Card.state.in_(LIVE_CARD_STATES))

    async def live_for_members(self, member_ids: Collection[int]) -> list[Card]:
        return await self.all(
            select(Card).where(Card.member_id.in_(member_ids), Card.state.in_(LIVE_CARD_STATES))
        )


class CardAppRepo(Repository[CardApp]):
    model = CardApp

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # A card's apps as this transaction read them: a lifecycle change shows them in its
        # answer and its subscribers read them again. Apps are only ever added through this
        # repository (which forgets that card's list then), never deleted.
        self._of_card: dict[int, list[CardApp]] = {}

    def add(self, row: CardApp) -> CardApp:
        self._of_card.pop(row.card_id, None)
        return super().add(row)

    def add_all(self, rows: Sequence[CardApp]) -> None:
        for row in rows:
            self._of_card.pop(row.card_id, None)
        super().add_all(rows)

    async def for_card(self, card_id: int) -> list[CardApp]:
        found = self._of_card.get(card_id)
        if found is None:
            stmt = select(CardApp).where(CardApp.card_id == card_id).order_by(CardApp.id)
            found = self._of_card[card_id] = await self.all(stmt)
        return list(found)

    async def for_cards(self, card_ids: Collection[int]) -> list[CardApp]:
        stmt = select(CardApp).where(CardApp.card_id.in_(card_ids)).order_by(CardApp.id)
        return await self.all(stmt)


@dataclass
class Balance:
    """An account as a batch of postings sees it: its balance changes in memory, then
    ``LedgerRepo.write_balances`` stores the accounts that ``changed`` in one statement."""

    id: int
    code: str
    balance: int
    held: int
    allow_negative: bool
    changed: bool = False


class LedgerRepo(Repository[Account]):
    model = Account

    async def balances_by_codes(self, codes: Collection[str], *, for_update: bool = False
                                ) -> list[Balance]:
        """The accounts' balances (no ORM objects), locked in id order as accounts_by_codes."""
        stmt = select(Account.id, Account.code, Account.balance, Account.held,
                      Account.allow_negative).where(Account.code.in_(codes)).order_by(Account.id)
        if for_update:
            stmt = stmt.with_for_update(key_share=True)
        return [Balance(*row) for row in await self.session.execute(stmt)]

    async def write_balances(self, rows: Sequence[Balance], now: datetime) -> None:
        """Store new balances; accounts this session has loaded as objects see them too."""
        await bulk.update_rows(self.session, _ACCOUNTS, ("balance", "updated_at", "id"),
                               [(r.balance, now, r.id) for r in rows])
        changed = {r.id: r.balance for r in rows}
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, Account) and obj.id in changed:
                set_committed_value(obj, "balance", changed[obj.id])
                set_committed_value(obj, "updated_at", now)

    async def accounts_by_codes(
        self, codes: Collection[str], *, for_update: bool = False
    ) -> list[Account]:
        # Locks are taken in id order so that two postings on the same accounts cannot deadlock.
        stmt = select(Account).where(Account.code.in_(codes)).order_by(Account.id)
        if for_update:
            stmt = stmt.with_for_update(key_share=True)
        return await self.all(stmt)

    async def accounts_by_ids(
        self, ids: Collection[int], *, for_update: bool = False
    ) -> list[Account]:
        stmt = select(Account).where(Account.id.in_(ids)).order_by(Account.id)
        if for_update:
            stmt = stmt.with_for_update(key_share=True)
        return await self.all(stmt)

    async def postings_by_references(self, references: Collection[str]) -> list[Posting]:
        return list(
            await self.session.scalars(select(Posting).where(Posting.reference.in_(references)))
        )

    async def entries_of(self, posting_ids: Collection[int]) -> list[Entry]:
        stmt = select(Entry).where(Entry.posting_id.in_(posting_ids)).order_by(Entry.id)
        return list((await self.session.scalars(stmt)).all())

    async def hold_by_reference(self, reference: str, *, for_update: bool = False) -> Hold | None:
        stmt = select(Hold).where(Hold.reference == reference)
        if for_update:
            stmt = stmt.with_for_update(key_share=True)
        return (await self.session.scalars(stmt)).first()

    async def entries_page(self, account_id: int, page: Page) -> list[tuple[Entry, Posting]]:
        stmt = (
            select(Entry, Posting)
            .join(Posting, Entry.posting_id == Posting.id)
            .where(Entry.account_id == account_id)
        )
        if page.after is not None:
            stmt = stmt.where(Entry.id > page.after)
        rows = await self.session.execute(stmt.order_by(Entry.id).limit(page.limit))
        return [(row[0], row[1]) for row in rows]

    async def sum_entries(self, account_id: int) -> int:
        stmt = select(func.coalesce(func.sum(Entry.amount), 0)).where(
            Entry.account_id == account_id
        )
        return int((await self.session.execute(stmt)).scalar_one())


@dataclass
class Upload:
    """A terminal as a record upload reads and changes it (columns, not an ORM object)."""

    id: int
    enterprise_id: int
    code: str
    kind: TerminalKind
    status: TerminalStatus
    high_seq: int
    blacklist_version: int  # the enterprise's
    gaps: list[tuple[int, int, int]]  # (id, first, last), by first


class TerminalRepo(Repository[Terminal]):
    model = Terminal

    async def by_code(self, code: str, *, for_update: bool = False) -> Terminal | None:
        return await self.first(Terminal.code == code, for_update=for_update)

    async def for_uploads(self, terminal_ids: Collection[int]) -> dict[int, Upload]:
        """The terminals (locked, in id order), their enterprises' blacklist versions and their
        open gaps, in one round trip: an upload's write transaction starts with this."""
        conn = await self.session.connection()
        found: dict[int, Upload] = {}
        for r in await conn.execute(_FOR_UPLOADS, {"ids": list(terminal_ids)}):
            upload = found.get(r.id)
            if upload is None:
                upload = found[r.id] = Upload(r.id, r.enterprise_id, r.code, r.kind, r.status,
                                              r.high_seq, int(r.blacklist_version), [])
            if r.gap_id is not None:
                upload.gaps.append((r.gap_id, r.first_seq, r.last_seq))
        return found

    async def save_uploads(self, uploads: Sequence[Upload], now: datetime,
                           closed: Collection[int], opened: Collection[tuple[int, int, int]]
                           ) -> None:
        """Store the terminals' new high sequence numbers and gaps (``closed`` by id,
        ``opened`` as (terminal, first, last)); the terminals were last seen ``now``."""
        conn = await self.session.connection()
        await conn.execute(_SAVE_UPLOAD, [{"terminal": u.id, "high": u.high_seq, "seen": now}
                                          for u in uploads])
        if closed:
            await conn.execute(delete(TerminalGap).where(TerminalGap.id.in_(list(closed))))
        if opened:
            await conn.execute(insert(TerminalGap), [
                {"terminal_id": terminal, "first_seq": first, "last_seq": last}
                for terminal, first, last in opened])

    async def gaps(self, terminal_id: int, limit: int | None = None) -> list[TerminalGap]:
        stmt = (
            select(TerminalGap)
            .where(TerminalGap.terminal_id == terminal_id)
            .order_by(TerminalGap.first_seq)
        )
        return await self._gaps(stmt if limit is None else stmt.limit(limit))

    async def _gaps(self, stmt: Select[TerminalGap]) -> list[TerminalGap]:
        return list((await self.session.scalars(stmt)).all())


class RecordRepo(Repository[TerminalRecord]):
    model = TerminalRecord

    async def by_seqs(self, terminal_id: int, seqs: Collection[int]) -> list[TerminalRecord]:
        stmt = select(TerminalRecord).where(
            TerminalRecord.terminal_id == terminal_id, TerminalRecord.seq.in_(seqs)
        )
        return await self.all(stmt)

    async def existing_seqs(self, terminal_id: int, seqs: Collection[int]) -> set[int]:
        stmt = select(TerminalRecord.seq).where(
            TerminalRecord.terminal_id == terminal_id, TerminalRecord.seq.in_(seqs)
        )
        return set((await self.session.scalars(stmt)).all())

    async def purchase_between(self, terminal_id: int, low: int, high: int) -> bool:
        """Is there a purchase on the terminal with ``low < seq < high``?"""
        stmt = select(TerminalRecord.id).where(
            TerminalRecord.terminal_id == terminal_id,
            TerminalRecord.kind == RecordKind.PURCHASE,
            TerminalRecord.seq > low,
            TerminalRecord.seq < high,
        )
        return (await self.session.scalars(stmt.limit(1))).first() is not None

    async def insert_many(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows of ``RECORD_COLUMNS``, in one executemany without the ORM (gateway.db.bulk)."""
        await bulk.insert_rows(self.session, _RECORDS, RECORD_COLUMNS, rows)


_RECORDS = cast(Table, TerminalRecord.__table__)
# Statements of the upload path, built once (building and caching them costs per call).
_CARD_REFS = select(Card.id, Card.iccid, Card.enterprise_id, Card.member_id, Card.state).where(
    Card.iccid.in_(bindparam("iccids", expanding=True)))
_FOR_UPLOADS = (
    select(Terminal.id, Terminal.enterprise_id, Terminal.code, Terminal.kind, Terminal.status,
           Terminal.high_seq, Enterprise.blacklist_version, TerminalGap.id.label("gap_id"),
           TerminalGap.first_seq, TerminalGap.last_seq)
    .join(Enterprise, Enterprise.id == Terminal.enterprise_id)
    .outerjoin(TerminalGap, TerminalGap.terminal_id == Terminal.id)
    .where(Terminal.id.in_(bindparam("ids", expanding=True)))
    .order_by(Terminal.id, TerminalGap.first_seq)
    .with_for_update(of=Terminal, key_share=True)
)
_SAVE_UPLOAD = (update(Terminal).where(Terminal.id == bindparam("terminal"))
                .values(high_seq=bindparam("high"), last_seen_at=bindparam("seen")))
RECORD_COLUMNS = ("terminal_id", "seq", "enterprise_id", "kind", "iccid", "card_id", "member_id",
                  "occurred_at", "received_at", "amount_fen", "card_balance_fen", "undo_seq",
                  "flags", "flagged", "posting_id", "extra")
_ACCOUNTS = cast(Table, Account.__table__)


class BlacklistRepo(Repository[BlacklistEntry]):
    model = BlacklistEntry

    async def since(self, enterprise_id: int, version: int, limit: int) -> list[BlacklistEntry]:
        stmt = (
            select(BlacklistEntry)
            .where(BlacklistEntry.enterprise_id == enterprise_id, BlacklistEntry.version > version)
            .order_by(BlacklistEntry.version)
            .limit(limit)
        )
        return await self.all(stmt)

    async def snapshot(self, enterprise_id: int) -> list[BlacklistEntry]:
        """The newest entry of each (card, app) whose newest action is ADD: what is blocked now."""
        newest = (
            select(func.max(BlacklistEntry.version))
            .where(BlacklistEntry.enterprise_id == enterprise_id)
            .group_by(BlacklistEntry.iccid, BlacklistEntry.app)
        )
        stmt = (
            select(BlacklistEntry)
            .where(
                BlacklistEntry.enterprise_id == enterprise_id,
                BlacklistEntry.version.in_(newest),
                BlacklistEntry.action == BlacklistAction.ADD,
            )
            .order_by(BlacklistEntry.version)
        )
        return await self.all(stmt)


class AuditRepo(Repository[AuditEntry]):
    model = AuditEntry


class IdempotencyRepo(Repository[IdempotencyKey]):
    model = IdempotencyKey

    async def find(self, scope: str, key: str) -> IdempotencyKey | None:
        return await self.first(IdempotencyKey.scope == scope, IdempotencyKey.key == key)


class EventRepo(Repository[DomainEvent]):
    model = DomainEvent
