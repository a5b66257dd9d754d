"""Read-only views across an enterprise: terminal records, the blacklist, the audit log."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from gateway import identifiers
from gateway.api.base import Ctx, ok
from gateway.domain import RecordKind
from gateway.services import audit, blacklist, records


async def list_records(request: web.Request) -> web.Response:
    c = Ctx(request)
    q = c.query
    flt = records.RecordFilter(
        enterprise_id=q.get("enterprise_id"), terminal_id=q.get("terminal_id"),
        kind=RecordKind(q["type"]) if "type" in q else None,
        iccid=identifiers.iccid(q["iccid"]) if "iccid" in q else None,
        flagged=q.get("flagged"),
        since=datetime.fromisoformat(q["since"]) if "since" in q else None,
        until=datetime.fromisoformat(q["until"]) if "until" in q else None)
    return ok(await records.list_records(c.deps, c.principal, flt, c.page))


async def get_blacklist(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await blacklist.delta(c.deps, c.principal, c.query.get("enterprise_id"),
                                    c.query["since"], c.query["limit"]))


async def list_audit(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await audit.list_audit(c.deps, c.principal, c.query.get("enterprise_id"),
                                     c.query.get("action"), c.page))
