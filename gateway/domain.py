"""Domain vocabulary of the gateway: one enum per state machine or category, and the transitions.

The card lifecycle follows the seed manual, section 7.3 (RFID-SIM卡服务流程): 挂失 (loss report),
解挂 (unfreeze), 补换卡 (replacement) and 注销 (deregistration). Its transitions are data
(``CARD_TRANSITIONS``) so that the services, the OpenAPI document and the tests read one table.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """Who is calling. Operators are the carrier; enterprise admins see one enterprise only."""

    OPERATOR = "operator"
    ENTERPRISE_ADMIN = "enterprise_admin"
    TERMINAL = "terminal"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"  # public routes (health, metrics, OpenAPI): never authorised


class Module(enum.StrEnum):
    """Functions an enterprise subscribes to (seed 四: 考勤, 门禁, 消费, 企业短信)."""

    DOOR = "door"
    ATTENDANCE = "attendance"
    PURCHASE = "purchase"
    TOPUP = "topup"
    SMS = "sms"


class EnterpriseStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class MemberStatus(enum.StrEnum):
    ACTIVE = "active"
    # A member who left frees the MSISDN: one number, one card, among members still present.
    LEFT = "left"


class CardState(enum.StrEnum):
    ACTIVE = "active"
    LOST = "lost"
    REPLACED = "replaced"
    DEREGISTERED = "deregistered"


# A member holds at most one live card (seed 四 FAQ 2: one MSISDN, one RFID-SIM).
LIVE_CARD_STATES = frozenset({CardState.ACTIVE, CardState.LOST})
# Terminals refuse a card in these states; they are the reason it is on the blacklist.
BLOCKED_CARD_STATES = frozenset({CardState.LOST, CardState.REPLACED, CardState.DEREGISTERED})


class LifecycleOp(enum.StrEnum):
    REPORT_LOSS = "report_loss"
    UNFREEZE = "unfreeze"
    REPLACE = "replace"
    DEREGISTER = "deregister"


# (state, operation) -> new state. A pair that is absent is refused with 409 invalid_state.
CARD_TRANSITIONS: dict[tuple[CardState, LifecycleOp], CardState] = {
    (CardState.ACTIVE, LifecycleOp.REPORT_LOSS): CardState.LOST,
    (CardState.LOST, LifecycleOp.UNFREEZE): CardState.ACTIVE,
    (CardState.ACTIVE, LifecycleOp.REPLACE): CardState.REPLACED,
    (CardState.LOST, LifecycleOp.REPLACE): CardState.REPLACED,
    (CardState.ACTIVE, LifecycleOp.DEREGISTER): CardState.DEREGISTERED,
    (CardState.LOST, LifecycleOp.DEREGISTER): CardState.DEREGISTERED,
}


class AppKind(enum.StrEnum):
    """Enterprise sub-applications (企业子应用) on the card."""

    DOOR = "door"
    ATTENDANCE = "attendance"
    PURSE = "purse"


class AppState(enum.StrEnum):
    # Waiting for air issuance (空中发卡) by the OTA job engine, e.g. after a replacement.
    PENDING = "pending"
    ACTIVE = "active"
    # Removed by deregistration, replacement (the old card) or member-requested deletion.
    REMOVED = "removed"


class TerminalKind(enum.StrEnum):
    """门禁/考勤/消费/充值/发卡终端 (seed 三)."""

    DOOR = "door"
    ATTENDANCE = "attendance"
    POS = "pos"
    TOPUP = "topup"
    ISSUING = "issuing"


class TerminalStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class RecordKind(enum.StrEnum):
    DOOR = "door"
    ATTENDANCE = "attendance"
    PURCHASE = "purchase"
    TOPUP = "topup"
    # 撤销: undo of the last purchase on a POS (seed 四 FAQ 11).
    UNDO = "undo"


# Which record kinds each terminal kind may upload.
RECORD_KINDS_BY_TERMINAL: dict[TerminalKind, frozenset[RecordKind]] = {
    TerminalKind.DOOR: frozenset({RecordKind.DOOR}),
    TerminalKind.ATTENDANCE: frozenset({RecordKind.ATTENDANCE}),
    TerminalKind.POS: frozenset({RecordKind.PURCHASE, RecordKind.UNDO}),
    TerminalKind.TOPUP: frozenset({RecordKind.TOPUP}),
    TerminalKind.ISSUING: frozenset(),
}

# The module an enterprise needs before it can install a terminal of a kind.
MODULE_FOR_TERMINAL: dict[TerminalKind, Module | None] = {
    TerminalKind.DOOR: Module.DOOR,
    TerminalKind.ATTENDANCE: Module.ATTENDANCE,
    TerminalKind.POS: Module.PURCHASE,
    TerminalKind.TOPUP: Module.TOPUP,
    TerminalKind.ISSUING: None,
}


class RecordFlag(enum.StrEnum):
    """Why a stored terminal record was not applied to the ledger (kept for review)."""

    BLACKLISTED = "blacklisted"
    UNKNOWN_CARD = "unknown_card"
    FOREIGN_CARD = "foreign_card"
    WRONG_TERMINAL_KIND = "wrong_terminal_kind"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNDO_TARGET_MISSING = "undo_target_missing"
    UNDO_NOT_LAST = "undo_not_last"
    UNDO_TARGET_NOT_POSTED = "undo_target_not_posted"
    ALREADY_UNDONE = "already_undone"
    CARD_MISMATCH = "card_mismatch"


class BlacklistAction(enum.StrEnum):
    ADD = "add"
    REMOVE = "remove"


class BlacklistReason(enum.StrEnum):
    LOST = "lost"
    UNFROZEN = "unfrozen"
    REPLACED = "replaced"
    DEREGISTERED = "deregistered"
    APP_DELETED = "app_deleted"


class AccountKind(enum.StrEnum):
    """Ledger accounts. Balances are integer fen; only purses are held to be non-negative."""

    PURSE = "purse"  # a card's electronic purse (the card holds a replica of this balance)
    CASH = "cash"  # money the enterprise took in at top-up terminals or over the air
    REVENUE = "revenue"  # purchases in the enterprise canteen and shops
    REFUND = "refund"  # balances paid back to members at deregistration
    SUSPENSE = "suspense"  # reconciliation differences awaiting review


class PostingKind(enum.StrEnum):
    TOPUP = "topup"
    PURCHASE = "purchase"
    UNDO = "undo"
    TRANSFER = "transfer"  # purse to purse on card replacement
    REFUND = "refund"
    REVERSAL = "reversal"
    ADJUSTMENT = "adjustment"


class HoldState(enum.StrEnum):
    HELD = "held"
    CAPTURED = "captured"
    RELEASED = "released"

# The module an enterprise needs before a sub-application can be put on its cards.
MODULE_FOR_APP: dict[AppKind, Module] = {
    AppKind.DOOR: Module.DOOR,
    AppKind.ATTENDANCE: Module.ATTENDANCE,
    AppKind.PURSE: Module.PURCHASE,
}
