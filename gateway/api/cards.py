"""Cards: registration, reading, listing, notes, purse statement."""

from __future__ import annotations

from aiohttp import web

from gateway import cardkeys, identifiers
from gateway.api.base import Ctx, ok
from gateway.domain import AppKind, CardState
from gateway.services import cards


async def create(request: web.Request) -> web.Response:
    c = Ctx(request)
    b = c.body
    cmd = cards.CardIn(iccid=identifiers.iccid(b["iccid"]), member_id=b["member_id"],
                       keys=cardkeys.from_json(b["keys"]) if "keys" in b else None,
                       apps=tuple(AppKind(a) for a in b.get("apps", [])),
                       app_data=b.get("app_data", {}), note=b.get("note"))
    return ok(await cards.register(c.deps, c.principal, cmd, c.idem), 201)


async def get(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await cards.get(c.deps, c.principal, c.iccid_param()))


async def list_(request: web.Request) -> web.Response:
    c = Ctx(request)
    q = c.query
    flt = cards.CardFilter(enterprise_id=q.get("enterprise_id"), member_id=q.get("member_id"),
                           state=CardState(q["state"]) if "state" in q else None)
    return ok(await cards.list_cards(c.deps, c.principal, flt, c.page))


async def update(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await cards.update_note(c.deps, c.principal, c.iccid_param(), c.body, c.idem))


async def statement(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await cards.statement(c.deps, c.principal, c.iccid_param(), c.page))
