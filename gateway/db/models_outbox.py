"""Tables of the SMS outbox and of inbound SMS, and their vocabulary (same declarative base).

An outgoing SMS is one ``sms_outbox`` row; the SMSC's view of it is one ``sms_outbox_parts``
row per segment, written when the SMSC accepted that segment (submit_sm_resp with a
message_id). A part row therefore means "the SMSC has it": after a crash only the segments
without a row are sent again. Receipts move parts to a final state; the message follows when
every part is final.

Message states (``SmsState``)::

    queued ──► submitted ──► delivered
      │  ▲         ├───────► failed      (a part UNDELIV/REJECTD, or a permanent SMSC refusal)
      │  └ retry   └───────► expired     (a part EXPIRED, or no final receipt by valid_until)
      ├──► failed / expired               (refused before every part was accepted; not sent in time)
      └──► opted_out                      (the member refused this kind of SMS: never sent)

A queued row is *claimed* by one dispatcher (``claimed_by`` until ``lease_until``); claims of a
dead process lapse with their lease, a graceful stop releases them at once.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base, BigId, IntPK


class SmsKind(enum.StrEnum):
    """Why an SMS is sent: it decides the price per segment (``billing.cdr.SmsKind``, same
    names) and whether a member's opt-out applies."""

    # About the member's own card and money: answers to the member's requests (balance, app
    # deletion), and confirmations of what was done to the card (lifecycle changes, top-ups,
    # issuance). An opt-out (TD) does not stop them: a member must learn of a loss report.
    SERVICE = "service"
    NOTICE = "notice"  # the enterprise's notices to its staff (CSV uploads); opt-out applies
    BILL = "bill"  # attendance and consumption bills


class SmsState(enum.StrEnum):
    QUEUED = "queued"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    OPTED_OUT = "opted_out"


FINAL_SMS_STATES = frozenset(
    {SmsState.DELIVERED, SmsState.FAILED, SmsState.EXPIRED, SmsState.OPTED_OUT}
)


class PartState(enum.StrEnum):
    SUBMITTED = "submitted"  # the SMSC accepted the segment; no final receipt yet
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"


class InboundKind(enum.StrEnum):
    MO = "mo"  # a mobile-originated message no handler consumed
    RECEIPT = "receipt"  # a delivery receipt no message of ours matched


class OutboxMessage(Base):
    """One outgoing SMS to one handset."""

    __tablename__ = "sms_outbox"
    __table_args__ = (
        # What the dispatchers poll: due rows of a state, oldest first.
        Index("ix_sms_outbox_state_due", "state", "due_at"),
        Index("ix_sms_outbox_enterprise_id_id", "enterprise_id", "id"),
    )

    id: Mapped[IntPK]
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    msisdn: Mapped[str] = mapped_column(String(24), index=True)
    kind: Mapped[SmsKind]
    # The text as sent, signature included. Kept for the admin's view; never logged.
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(24))  # None: the link's service number
    state: Mapped[SmsState]
    segments: Mapped[int] = mapped_column(SmallInteger)
    # "<enterprise id or 0>/<caller's key>": enqueue is idempotent per enterprise and key.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    batch_id: Mapped[str | None] = mapped_column(String(64), index=True)  # e.g. one bill run
    urgent: Mapped[bool] = mapped_column(Boolean, default=True)
    not_before: Mapped[datetime | None]  # the caller's earliest send time
    due_at: Mapped[datetime]  # when a dispatcher may take it (deferral, quiet hours, retry)
    valid_until: Mapped[datetime]  # not delivered by then: expired
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # temporary failures so far
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(64))  # SMPP status or receipt state
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]  # every part accepted by the SMSC
    done_at: Mapped[datetime | None]


class OutboxPart(Base):
    """One segment the SMSC accepted, with its message_id (normalised by the link's IdPolicy)."""

    __tablename__ = "sms_outbox_parts"
    __table_args__ = (UniqueConstraint("message_id", "seq"),)

    id: Mapped[IntPK]
    message_id: Mapped[int] = mapped_column(ForeignKey("sms_outbox.id"))
    seq: Mapped[int] = mapped_column(SmallInteger)  # 1-based segment number
    # Not unique: an SMSC may reuse ids after its own restart (the simulator counts from 1).
    smsc_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[PartState]
    error: Mapped[int | None] = mapped_column(Integer)  # receipt err: / network error code
    submitted_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class InboundMessage(Base):
    """A deliver_sm that no handler consumed: kept, so that nothing the SMSC gave us is lost."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[InboundKind]
    source: Mapped[str] = mapped_column(String(24))
    destination: Mapped[str] = mapped_column(String(24))
    protocol_id: Mapped[int] = mapped_column(SmallInteger, default=0)
    data_coding: Mapped[int] = mapped_column(SmallInteger, default=0)
    esm_class: Mapped[int] = mapped_column(SmallInteger, default=0)
    udh: Mapped[bytes | None] = mapped_column(LargeBinary)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    # Receipts: the receipted id; the outbox adopts the receipt if a part with it turns up.
    smsc_id: Mapped[str | None] = mapped_column(String(64), index=True)
    receipt_state: Mapped[str | None] = mapped_column(String(16))
    parts: Mapped[int] = mapped_column(SmallInteger, default=1)
    received_at: Mapped[datetime] = mapped_column(index=True)
    handled_at: Mapped[datetime | None]


__all__ = [
    "FINAL_SMS_STATES",
    "InboundKind",
    "InboundMessage",
    "OutboxMessage",
    "OutboxPart",
    "PartState",
    "SmsKind",
    "SmsState",
]
