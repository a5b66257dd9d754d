"""Tables of the OTA job engine, on the gateway's ``Base`` (migration ``0300_ota_jobs``).

* ``ota_jobs``: one thing to do on one card over the air, with its state machine
  (``gateway.ota_core``), its parameters and what is done so far.
* ``ota_attempts``: one command packet sent for a job, with the SCP80 counter it carried. A PoR
  is matched to its attempt by (card, TAR, counter); the counter is unique per card because a
  card keeps one counter per key set (ETSI TS 102 225 5.1.1), whatever the TAR.
* ``ota_topups``: over-the-air top-ups (空中充值): amount in fen, the transaction id the card
  remembers, the ledger references, the balance the card reported.
* ``ota_card_state``: per card, the last MO counter accepted from its STK applet.
* ``ota_balance_reports``: each card balance reported by a PoR or a terminal upload, beside the
  ledger's figure at that moment; reconciliation lists the differences.
* ``ota_alerts``: PoRs and MO requests refused (bad CC, replayed or unknown counter...).
* ``stk_requests``: requests members made from the STK menu (应用删除, 余额查询, 账单查询).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base, IntPK
from gateway.ota_core import JobKind, JobState


class OtaJob(Base):
    __tablename__ = "ota_jobs"
    __table_args__ = (
        Index("ix_ota_jobs_state_not_before", "state", "not_before"),
        Index("ix_ota_jobs_card_state", "card_id", "state"),
    )

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    iccid: Mapped[str] = mapped_column(String(20))
    # Where the command packets go: the member's number when the job was made.
    msisdn: Mapped[str] = mapped_column(String(16))
    kind: Mapped[JobKind]
    state: Mapped[JobState]
    origin: Mapped[str] = mapped_column(String(32))  # api, stk, lifecycle, replacement
    params: Mapped[dict[str, Any]]
    # Op keys done so far (``gateway.ota_core``): what a new attempt leaves out.
    progress: Mapped[list[str]]
    result: Mapped[dict[str, Any] | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    counter: Mapped[int | None] = mapped_column(BigInteger)  # of the latest attempt
    # Pending: the earliest next send. Sent: the deadline for the PoR.
    not_before: Mapped[datetime]
    # Jobs made by event subscribers carry one, so a replayed event makes no second job.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    failure: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class OtaAttempt(Base):
    __tablename__ = "ota_attempts"
    __table_args__ = (
        UniqueConstraint("card_id", "counter"),
        Index("ix_ota_attempts_msisdn_card_id", "msisdn", "card_id"),
    )

    id: Mapped[IntPK]
    job_id: Mapped[int] = mapped_column(ForeignKey("ota_jobs.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    msisdn: Mapped[str] = mapped_column(String(16))
    tar: Mapped[str] = mapped_column(String(6))  # hex
    spi: Mapped[str] = mapped_column(String(4))  # hex, as sent: the PoR is checked against it
    counter: Mapped[int] = mapped_column(BigInteger)
    ops: Mapped[list[str]]
    sent_at: Mapped[datetime]
    por_at: Mapped[datetime | None]
    por_status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(300))


class OtaTopup(Base):
    __tablename__ = "ota_topups"

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    iccid: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # The CREDIT transaction id (16 octets, hex) the applet remembers: never credited twice.
    transaction_id: Mapped[str] = mapped_column(String(32), unique=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("ota_jobs.id"), unique=True)
    state: Mapped[JobState]
    posting_ref: Mapped[str] = mapped_column(String(128))
    hold_ref: Mapped[str] = mapped_column(String(128))
    card_balance_fen: Mapped[int | None] = mapped_column(BigInteger)
    load_counter: Mapped[int | None] = mapped_column(Integer)
    replayed: Mapped[bool | None] = mapped_column(Boolean)
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    reversed_at: Mapped[datetime | None]


class OtaCardState(Base):
    __tablename__ = "ota_card_state"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    # CNTR of the last MO request accepted from the card's STK applet (``ota.mo_request``).
    mo_counter: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class BalanceReport(Base):
    """A card balance as the card (PoR) or a terminal reported it, and the ledger's view then."""

    __tablename__ = "ota_balance_reports"
    __table_args__ = (Index("ix_ota_balance_reports_card_id_id", "card_id", "id"),)

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    source: Mapped[str] = mapped_column(String(16))  # por, terminal
    reference: Mapped[str] = mapped_column(String(64))  # job or terminal record
    reported_fen: Mapped[int] = mapped_column(BigInteger)
    ledger_fen: Mapped[int] = mapped_column(BigInteger)
    difference_fen: Mapped[int] = mapped_column(BigInteger)
    load_counter: Mapped[int | None] = mapped_column(Integer)
    ledger_loads: Mapped[int | None] = mapped_column(Integer)
    explanation: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime]


class OtaAlert(Base):
    __tablename__ = "ota_alerts"
    __table_args__ = (Index("ix_ota_alerts_enterprise_id_id", "enterprise_id", "id"),)

    id: Mapped[IntPK]
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("ota_jobs.id"))
    msisdn: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]]


class StkRequest(Base):
    __tablename__ = "stk_requests"
    __table_args__ = (UniqueConstraint("card_id", "mo_counter"),)

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    msisdn: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # balance, app_delete, bill
    request_id: Mapped[int] = mapped_column(BigInteger)  # the card's running number
    mo_counter: Mapped[int] = mapped_column(BigInteger)
    app: Mapped[str | None] = mapped_column(String(16))
    # accepted (a job runs), done, refused (with the reason the member was told)
    state: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(200))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("ota_jobs.id"), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


__all__ = [
    "BalanceReport",
    "OtaAlert",
    "OtaAttempt",
    "OtaCardState",
    "OtaJob",
    "OtaTopup",
    "StkRequest",
]
