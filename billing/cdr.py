"""Usage records (CDRs) that the gateway writes as things happen, and their stable ids.

A record says what happened, not what it costs: rating (``billing.rating``) prices it later
with the tariff of its month, so that re-rating a past month needs nothing but the records.

Record ids are derived from the event that caused the record (``make_cdr_id``): writing the
same event twice, after a retry or a crash, yields the same id, and the CDR table's primary key
turns the second write into a no-op. The scheme is versioned (``onecard-cdr/1``) so that a
change of scheme can never collide with ids already stored.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import IntEnum
from typing import NamedTuple

from billing.errors import CdrError
from billing.period import aware


class CdrKind(IntEnum):
    """What a record is about. The value is the ``recordType`` of the BER layout."""

    MEMBER_MONTH = 1  # one member in service for (part of) a month: the service fee, seed 5.1.2
    SMS = 2  # SMS segments sent to a member (detail: SmsKind)
    OTA = 3  # one OTA operation on a card (detail: OtaOperation)
    TOPUP = 4  # an over-the-air top-up (amount_fen: the amount credited)
    ONE_OFF = 5  # a one-off charge, seed 5.1.1 (detail: OneOffItem; amount_fen)
    ADJUSTMENT = 6  # a correction of a closed period found by re-rating (amount_fen, signed)
    # Membership events: not charged themselves; member-months are derived from them.
    SERVICE_START = 10  # member enrolled / service opened
    SERVICE_END = 11  # member deregistered (注销)
    CARD_REPLACED = 12  # 补换卡: same member, new card; service continues


MEMBERSHIP_KINDS = frozenset({CdrKind.SERVICE_START, CdrKind.SERVICE_END, CdrKind.CARD_REPLACED})
#: Kinds that appear in export files.
BILLABLE_KINDS = frozenset(CdrKind) - MEMBERSHIP_KINDS


class SmsKind(IntEnum):
    """Why an SMS was sent; each kind has its own per-segment price."""

    BILL = 1  # 考勤账单 / 消费账单
    NOTICE = 2  # notifications: top-up done, loss reported, app issued...
    SERVICE = 3  # answers to the member's own requests (balance query, password...)


class OtaOperation(IntEnum):
    """An OTA operation on a card, priced per operation (DESIGN: air issuance, top-up...)."""

    INSTALL = 1  # 空中发卡: install the enterprise sub-application
    PERSONALISE = 2
    CREDIT = 3  # 空中充值
    DELETE = 4  # app deletion from the STK menu or by the admin
    BLOCK = 5  # 挂失
    UNBLOCK = 6  # 解挂
    OTHER = 9


class TopupChannel(IntEnum):
    """Where a top-up was made; either way the ledger holds it, the carrier may bill it."""

    OTA = 1  # 空中充值, by the gateway over SMS
    TERMINAL = 2  # at the enterprise's top-up terminal


class OneOffItem(IntEnum):
    """One-off charges of seed 5.1.1, payable at once or in instalments."""

    DEVICE = 1  # 设备费: cards, terminals, key master card, SAM, wiring...
    INTEGRATION = 2  # 集成费: construction, commissioning, training


# Which enumeration names the ``detail`` of each kind; kinds not listed take no detail,
# except ADJUSTMENT, whose detail is the charge item it corrects (checked by rating).
_DETAIL_ENUMS: dict[CdrKind, type[IntEnum]] = {
    CdrKind.SMS: SmsKind,
    CdrKind.OTA: OtaOperation,
    CdrKind.ONE_OFF: OneOffItem,
    CdrKind.TOPUP: TopupChannel,
}
_ID_MAX = 64


class Cdr(NamedTuple):
    """One usage record. Empty strings stand for absent text fields.

    A named tuple rather than a frozen dataclass: an export reads a million of these, and a
    tuple is built five times faster. It is just as immutable; validation is explicit
    (``check_cdr``), done once where records enter the system (the recorder), not again on
    every read of a record that was valid when it was written.
    """

    cdr_id: str
    kind: CdrKind
    occurred_at: datetime
    enterprise_id: str
    member_id: str = ""
    msisdn: str = ""
    iccid: str = ""
    detail: str = ""
    quantity: int = 1
    amount_fen: int = 0
    reference: str = ""


def check_cdr(cdr: Cdr) -> Cdr:
    """``cdr`` if it is a well-formed record, else a ``CdrError`` saying what is wrong."""
    if not isinstance(cdr.kind, CdrKind):
        raise CdrError(f"kind must be a CdrKind, got {cdr.kind!r}")
    _check_text("cdr_id", cdr.cdr_id, required=True)
    _check_text("enterprise_id", cdr.enterprise_id, required=True)
    _check_text("member_id", cdr.member_id, required=False)
    _check_text("reference", cdr.reference, required=False)
    aware(cdr.occurred_at)
    if len(cdr.msisdn) > 15 or (cdr.msisdn and not cdr.msisdn.isdigit()):
        raise CdrError(f"msisdn must be up to 15 digits, got {cdr.msisdn!r}")
    if len(cdr.iccid) > 20 or (cdr.iccid and not cdr.iccid.isdigit()):
        raise CdrError(f"iccid must be up to 20 digits, got {cdr.iccid!r}")
    if cdr.quantity < 0:
        raise CdrError(f"quantity must not be negative, got {cdr.quantity}")
    if cdr.amount_fen < 0 and cdr.kind is not CdrKind.ADJUSTMENT:
        raise CdrError("only adjustments carry a negative amount")
    enum = _DETAIL_ENUMS.get(cdr.kind)
    if enum is not None and cdr.detail not in enum.__members__:
        raise CdrError(f"{cdr.kind.name} needs detail in {list(enum.__members__)}")
    if cdr.kind in MEMBERSHIP_KINDS and not cdr.member_id:
        raise CdrError(f"{cdr.kind.name} needs a member_id")
    return cdr


def _check_text(name: str, value: str, *, required: bool) -> None:
    if required and not value:
        raise CdrError(f"{name} is required")
    if len(value) > _ID_MAX or not value.isprintable() or not value.isascii():
        raise CdrError(f"{name} must be printable ASCII of at most {_ID_MAX} characters")


def make_cdr_id(kind: CdrKind, *source: str | int) -> str:
    """The stable id of the record of ``kind`` caused by the event named by ``source``.

    ``source`` names the event in the writer's own terms, e.g. ``("outbox", 1234, 2)`` for the
    second segment of outbox message 1234, or ``("topup", txn_id)``. Parts are joined with a
    unit separator so that ``("a", "bc")`` and ``("ab", "c")`` differ.
    """
    if not source:
        raise CdrError("a CDR id needs the source event's key")
    text = "\x1f".join(["onecard-cdr/1", kind.name, *(str(part) for part in source)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]
