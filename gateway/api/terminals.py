"""Terminal administration: registration (the key is shown once), listing, updates, new key."""

from __future__ import annotations

from aiohttp import web

from gateway.api.base import Ctx, ok
from gateway.domain import TerminalKind
from gateway.services import terminals


async def create(request: web.Request) -> web.Response:
    c = Ctx(request)
    b = c.body
    cmd = terminals.TerminalIn(code=b["code"], kind=TerminalKind(b["kind"]), name=b["name"],
                               location=b.get("location"), enterprise_id=b.get("enterprise_id"))
    return ok(await terminals.create(c.deps, c.principal, cmd, c.idem), 201)


async def get(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await terminals.get(c.deps, c.principal, c.int_param("terminal_id")))


async def list_(request: web.Request) -> web.Response:
    c = Ctx(request)
    kind = c.query.get("kind")
    return ok(await terminals.list_terminals(
        c.deps, c.principal, c.query.get("enterprise_id"),
        TerminalKind(kind) if kind else None, c.page))


async def update(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await terminals.update(c.deps, c.principal, c.int_param("terminal_id"), c.body,
                                     c.idem))


async def rotate_secret(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await terminals.rotate_secret(c.deps, c.principal, c.int_param("terminal_id"),
                                            c.idem))
