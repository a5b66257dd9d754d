"""Enterprises: operator-created, readable (own one only) by enterprise admins."""

from __future__ import annotations

from aiohttp import web

from gateway.api.base import Ctx, ok
from gateway.domain import EnterpriseStatus, Module
from gateway.services import enterprises


async def create(request: web.Request) -> web.Response:
    c = Ctx(request)
    b = c.body
    cmd = enterprises.EnterpriseIn(
        code=b["code"], name=b["name"], sms_signature=b["sms_signature"],
        modules=tuple(Module(m) for m in b.get("modules", [Module.ATTENDANCE.value])),
        monthly_fee_fen=b.get("monthly_fee_fen", 300),
        balance_expiry_days=b.get("balance_expiry_days"),
        master_key=bytes.fromhex(b["master_key"]) if "master_key" in b else None,
        master_key_ref=b.get("master_key_ref"))
    return ok(await enterprises.create(c.deps, c.principal, cmd, c.idem), 201)


async def get(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await enterprises.get(c.deps, c.principal, c.int_param("enterprise_id")))


async def list_(request: web.Request) -> web.Response:
    c = Ctx(request)
    status = c.query.get("status")
    return ok(await enterprises.list_enterprises(
        c.deps, c.principal, c.page, c.query.get("code"),
        EnterpriseStatus(status) if status else None))


async def update(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await enterprises.update(c.deps, c.principal, c.int_param("enterprise_id"),
                                       c.body, c.idem))
