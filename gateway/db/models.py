"""Tables of the gateway (SQLAlchemy 2 typed mappings). Relationships are ``lazy="raise"``:
services load what they need explicitly, so no query hides behind an attribute access.

Money columns are integer fen. Secrets are stored sealed by ``gateway.vault`` (``*_sealed``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db.base import Base, BigId, Fen, IntPK
from gateway.domain import (
    AccountKind,
    AppKind,
    AppState,
    BlacklistAction,
    BlacklistReason,
    CardState,
    EnterpriseStatus,
    HoldState,
    MemberStatus,
    PostingKind,
    RecordKind,
    Role,
    TerminalKind,
    TerminalStatus,
)

_LIVE_CARD = text("state IN ('active', 'lost')")
_PRESENT_MEMBER = text("status <> 'left'")


class Enterprise(Base):
    """A group customer (集团客户): a company or campus with its own keys and terminals."""

    __tablename__ = "enterprises"

    id: Mapped[IntPK]
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    sms_signature: Mapped[str] = mapped_column(String(24))
    modules: Mapped[list[str]]
    status: Mapped[EnterpriseStatus]
    # Service fee per member and month (seed 5.1.2: 3-5 yuan); rated by billing/.
    monthly_fee_fen: Mapped[int] = mapped_column(Integer)
    # Purse balance expiry set by the enterprise (seed 四 FAQ 10); None: balances never expire.
    balance_expiry_days: Mapped[int | None] = mapped_column(Integer)
    # The key master card (密钥母卡): a label printed on it, and its root key, sealed.
    master_key_ref: Mapped[str] = mapped_column(String(64))
    master_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # Bumped by each blacklist change; terminals pull the delta since their last version.
    blacklist_version: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Admin(Base):
    """An operator (carrier staff, no enterprise) or an enterprise admin (企业管理员)."""

    __tablename__ = "admins"

    id: Mapped[IntPK]
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    role: Mapped[Role]
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ApiToken(Base):
    """Bearer tokens of admins. Only the SHA-256 of a token is kept (tokens are 256-bit random)."""

    __tablename__ = "api_tokens"

    id: Mapped[IntPK]
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    admin: Mapped[Admin] = relationship(lazy="raise")


class Member(Base):
    """A member (集团成员): one MSISDN, one card."""

    __tablename__ = "members"
    __table_args__ = (
        Index(
            "uq_members_present_msisdn", "msisdn", unique=True,
            sqlite_where=_PRESENT_MEMBER, postgresql_where=_PRESENT_MEMBER,
        ),
        Index("ix_members_enterprise_employee", "enterprise_id", "employee_no"),
    )

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    msisdn: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    employee_no: Mapped[str | None] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[MemberStatus]
    sms_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # 服务密码 for STK app deletion: a scrypt hash (gateway.passwords), tries and lock-out.
    service_password_hash: Mapped[str | None] = mapped_column(String(200))
    service_password_attempts: Mapped[int] = mapped_column(Integer, default=0)
    service_password_locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Card(Base):
    """An RFID-SIM card, bound to a member; carries sealed OTA keys and the OTA counter."""

    __tablename__ = "cards"
    __table_args__ = (
        Index(
            "uq_cards_live_member", "member_id", unique=True,
            sqlite_where=_LIVE_CARD, postgresql_where=_LIVE_CARD,
        ),
    )

    id: Mapped[IntPK]
    iccid: Mapped[str] = mapped_column(String(20), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    state: Mapped[CardState]
    # KIc, KID and KIK sealed together (gateway.cardkeys), with where they came from.
    keys_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    keys_source: Mapped[str] = mapped_column(String(16))
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    # SCP80 counter (ETSI TS 102 225 5.1.1): strictly increasing, persisted before each send.
    ota_counter: Mapped[int] = mapped_column(BigInteger, default=0)
    personalised: Mapped[bool] = mapped_column(Boolean, default=True)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    note: Mapped[str | None] = mapped_column(String(200))
    lost_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Optimistic check on top of row locks: a stale write raises instead of being lost.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy's protocol)


class CardApp(Base):
    """An enterprise sub-application (企业子应用) on a card, with its data."""

    __tablename__ = "card_apps"
    __table_args__ = (UniqueConstraint("card_id", "app"),)

    id: Mapped[IntPK]
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    app: Mapped[AppKind]
    state: Mapped[AppState]
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Account(Base):
    """A ledger account. ``balance`` is the sum of its entries; ``held`` the sum of open holds."""

    __tablename__ = "ledger_accounts"

    id: Mapped[IntPK]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[AccountKind]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), index=True)
    balance: Mapped[Fen]
    held: Mapped[Fen]
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Posting(Base):
    """A balanced ledger transaction; ``reference`` makes posting idempotent."""

    __tablename__ = "ledger_postings"

    id: Mapped[IntPK]
    reference: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[PostingKind]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    memo: Mapped[str | None] = mapped_column(String(200))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_postings.id"))
    created_at: Mapped[datetime]


class Entry(Base):
    """One leg of a posting: a signed amount on one account. A posting's legs sum to zero."""

    __tablename__ = "ledger_entries"

    id: Mapped[IntPK]
    posting_id: Mapped[int] = mapped_column(ForeignKey("ledger_postings.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class Hold(Base):
    """Money reserved on an account until it is captured into a posting or released."""

    __tablename__ = "ledger_holds"

    id: Mapped[IntPK]
    reference: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[HoldState]
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_postings.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]


class Terminal(Base):
    """A door, attendance, POS, top-up or issuing terminal; signs uploads with its own key."""

    __tablename__ = "terminals"

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[TerminalKind]
    name: Mapped[str] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[TerminalStatus]
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # Highest record sequence number received; lower missing numbers are in terminal_gaps.
    high_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    blacklist_version: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TerminalGap(Base):
    """A run of sequence numbers a terminal skipped and has not uploaded yet."""

    __tablename__ = "terminal_gaps"

    id: Mapped[IntPK]
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id"), index=True)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class TerminalRecord(Base):
    """A door, attendance, purchase, top-up or undo record, keyed by (terminal, sequence)."""

    __tablename__ = "terminal_records"
    __table_args__ = (
        UniqueConstraint("terminal_id", "seq"),
        Index("ix_terminal_records_enterprise_time", "enterprise_id", "occurred_at"),
        Index("ix_terminal_records_card_time", "card_id", "occurred_at"),
    )

    id: Mapped[IntPK]
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    kind: Mapped[RecordKind]
    iccid: Mapped[str] = mapped_column(String(20))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    card_balance_fen: Mapped[int | None] = mapped_column(BigInteger)
    undo_seq: Mapped[int | None] = mapped_column(BigInteger)
    flags: Mapped[list[str]]
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_postings.id"))
    extra: Mapped[dict[str, Any]]


class BlacklistEntry(Base):
    """One versioned blacklist change of an enterprise; terminals apply them in version order."""

    __tablename__ = "blacklist_entries"
    __table_args__ = (UniqueConstraint("enterprise_id", "version"),)

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    version: Mapped[int] = mapped_column(BigInteger)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    iccid: Mapped[str] = mapped_column(String(20), index=True)
    # None: the whole card; otherwise one sub-application (STK app deletion).
    app: Mapped[AppKind | None]
    action: Mapped[BlacklistAction]
    reason: Mapped[BlacklistReason]
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """Who changed what. Every mutation writes one in its own transaction; never secrets."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_enterprise_id_id", "enterprise_id", "id"),)

    id: Mapped[IntPK]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role]
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]
    request_id: Mapped[str | None] = mapped_column(String(64))


class IdempotencyKey(Base):
    """The first result of a mutation, replayed for a retry that carries the same key."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[IntPK]
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(index=True)


class DomainEvent(Base):
    """Durable log of what happened (card lost, replaced...), written with the change itself.

    Subsystems that were down when an event was published catch up from here by id.
    """

    __tablename__ = "domain_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


__all__ = [
    "Account",
    "Admin",
    "ApiToken",
    "AuditEntry",
    "Base",
    "BlacklistEntry",
    "Card",
    "CardApp",
    "DomainEvent",
    "Enterprise",
    "Entry",
    "Hold",
    "IdempotencyKey",
    "Member",
    "Posting",
    "Terminal",
    "TerminalGap",
    "TerminalRecord",
]
