"""Admins and their bearer tokens."""

from __future__ import annotations

from aiohttp import web

from gateway.api.base import Ctx, ok
from gateway.domain import Role
from gateway.services import admins


async def create(request: web.Request) -> web.Response:
    c = Ctx(request)
    b = c.body
    cmd = admins.AdminIn(login=b["login"], name=b["name"], role=Role(b["role"]),
                         enterprise_id=b.get("enterprise_id"))
    return ok(await admins.create(c.deps, c.principal, cmd, c.idem), 201)


async def get(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await admins.get(c.deps, c.principal, c.int_param("admin_id")))


async def list_(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await admins.list_admins(c.deps, c.principal, c.query.get("enterprise_id"),
                                       c.page))


async def update(request: web.Request) -> web.Response:
    c = Ctx(request)
    patch = admins.AdminPatch(name=c.body.get("name"), disabled=c.body.get("disabled"))
    return ok(await admins.update(c.deps, c.principal, c.int_param("admin_id"), patch, c.idem))


async def issue_token(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await admins.issue_token(c.deps, c.principal, c.int_param("admin_id"),
                                       c.body["label"], c.body.get("ttl_days"), c.idem), 201)


async def revoke_token(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await admins.revoke_token(c.deps, c.principal, c.int_param("admin_id"),
                                        c.int_param("token_id")))
