"""JSON views of rows, as the API returns them. Secrets never appear here: sealed keys and
password hashes are left out, and one-time secrets (tokens, terminal keys) are added by the use
case that creates them, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gateway.db.models import (
    Account,
    Admin,
    AuditEntry,
    BlacklistEntry,
    Card,
    CardApp,
    Enterprise,
    Entry,
    Member,
    Posting,
    Terminal,
    TerminalRecord,
)

View = dict[str, Any]


def ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def enterprise(row: Enterprise) -> View:
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "sms_signature": row.sms_signature,
        "modules": list(row.modules),
        "status": row.status.value,
        "monthly_fee_fen": row.monthly_fee_fen,
        "balance_expiry_days": row.balance_expiry_days,
        "master_key_ref": row.master_key_ref,
        "blacklist_version": row.blacklist_version,
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
    }


def admin(row: Admin) -> View:
    return {
        "id": row.id,
        "enterprise_id": row.enterprise_id,
        "role": row.role.value,
        "login": row.login,
        "name": row.name,
        "disabled": row.disabled,
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
    }


def member(row: Member) -> View:
    return {
        "id": row.id,
        "enterprise_id": row.enterprise_id,
        "msisdn": row.msisdn,
        "name": row.name,
        "employee_no": row.employee_no,
        "department": row.department,
        "status": row.status.value,
        "sms_opt_out": row.sms_opt_out,
        "service_password_set": row.service_password_hash is not None,
        "service_password_locked_until": ts(row.service_password_locked_until),
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
    }


def card_app(row: CardApp) -> View:
    return {"app": row.app.value, "state": row.state.value, "data": dict(row.data)}


def card(row: Card, apps: Sequence[CardApp], purse: Account | None) -> View:
    return {
        "iccid": row.iccid,
        "id": row.id,
        "enterprise_id": row.enterprise_id,
        "member_id": row.member_id,
        "state": row.state.value,
        "keys": {"source": row.keys_source, "version": row.key_version},
        "ota_counter": row.ota_counter,
        "personalised": row.personalised,
        "replaced_by_id": row.replaced_by_id,
        "note": row.note,
        "apps": [card_app(app) for app in apps],
        "balance_fen": purse.balance if purse else 0,
        "held_fen": purse.held if purse else 0,
        "lost_at": ts(row.lost_at),
        "closed_at": ts(row.closed_at),
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
    }


def terminal(row: Terminal) -> View:
    return {
        "id": row.id,
        "enterprise_id": row.enterprise_id,
        "code": row.code,
        "kind": row.kind.value,
        "name": row.name,
        "location": row.location,
        "status": row.status.value,
        "high_seq": row.high_seq,
        "blacklist_version": row.blacklist_version,
        "last_seen_at": ts(row.last_seen_at),
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
    }


def record(row: TerminalRecord) -> View:
    return {
        "id": row.id,
        "terminal_id": row.terminal_id,
        "seq": row.seq,
        "enterprise_id": row.enterprise_id,
        "type": row.kind.value,
        "iccid": row.iccid,
        "card_id": row.card_id,
        "member_id": row.member_id,
        "at": ts(row.occurred_at),
        "received_at": ts(row.received_at),
        "amount_fen": row.amount_fen,
        "card_balance_fen": row.card_balance_fen,
        "undo_seq": row.undo_seq,
        "flags": list(row.flags),
        "posting_id": row.posting_id,
        **({"extra": dict(row.extra)} if row.extra else {}),
    }


def blacklist_entry(row: BlacklistEntry) -> View:
    return {
        "version": row.version,
        "iccid": row.iccid,
        "app": row.app.value if row.app else None,
        "action": row.action.value,
        "reason": row.reason.value,
        "at": ts(row.created_at),
    }


def audit_entry(row: AuditEntry) -> View:
    return {
        "id": row.id,
        "at": ts(row.at),
        "actor": row.actor,
        "role": row.role.value,
        "enterprise_id": row.enterprise_id,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "detail": dict(row.detail),
        "request_id": row.request_id,
    }


def posting(row: Posting, entries: Sequence[Entry], codes: dict[int, str]) -> View:
    return {
        "id": row.id,
        "reference": row.reference,
        "kind": row.kind.value,
        "memo": row.memo,
        "at": ts(row.created_at),
        "entries": [{"account": codes[e.account_id], "amount_fen": e.amount} for e in entries],
    }


def statement_line(entry: Entry, posting_row: Posting) -> View:
    return {
        "entry_id": entry.id,
        "amount_fen": entry.amount,
        "reference": posting_row.reference,
        "kind": posting_row.kind.value,
        "memo": posting_row.memo,
        "at": ts(posting_row.created_at),
    }


def page(items: list[View], limit: int, cursor_key: str = "id") -> View:
    """A page of a keyset listing; ``next`` is the ``after`` for the following page."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next": items[-1][cursor_key] if more and items else None}
