"""The terminal API (signed by each terminal's key): record uploads, blacklist pulls, undo."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway import identifiers
from gateway.api.base import Ctx, ok
from gateway.domain import RecordKind
from gateway.errors import ValidationError
from gateway.services import blacklist, records

_NEEDS_AMOUNT = (RecordKind.PURCHASE, RecordKind.TOPUP)
_EXTRA = ("result", "direction")


def _when(value: Any, field: str) -> datetime:
    if isinstance(value, int):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValidationError(field, "Unix time out of range") from None
    return datetime.fromisoformat(value).astimezone(UTC)


def parse_record(raw: dict[str, Any], path: str) -> records.RecordIn:
    kind = RecordKind(raw["type"])
    if kind in _NEEDS_AMOUNT and "amount_fen" not in raw:
        raise ValidationError(f"{path}.amount_fen", f"required for a {kind.value} record")
    if kind is RecordKind.UNDO and "undo_seq" not in raw:
        raise ValidationError(f"{path}.undo_seq", "required for an undo record")
    return records.RecordIn(
        seq=raw["seq"], kind=kind, iccid=identifiers.iccid(raw["iccid"], f"{path}.iccid"),
        at=_when(raw["at"], f"{path}.at"), amount_fen=raw.get("amount_fen"),
        card_balance_fen=raw.get("card_balance_fen"), undo_seq=raw.get("undo_seq"),
        extra={k: raw[k] for k in _EXTRA if k in raw})


async def upload(request: web.Request) -> web.Response:
    c = Ctx(request)
    batch = [parse_record(r, f"records[{i}]") for i, r in enumerate(c.body["records"])]
    return ok(await records.ingest(c.deps, c.principal, batch))


async def undo(request: web.Request) -> web.Response:
    c = Ctx(request)
    record = parse_record({**c.body, "type": RecordKind.UNDO.value}, "body")
    return ok(await records.ingest(c.deps, c.principal, [record]))


async def pull_blacklist(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await blacklist.terminal_pull(c.deps, c.principal, c.query["since"],
                                            c.query["limit"]))
