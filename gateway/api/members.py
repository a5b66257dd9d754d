"""Members: enrolment (one, or a CSV file), reading, updates, the service password."""

from __future__ import annotations

from aiohttp import web

from gateway import identifiers
from gateway.api.base import Ctx, ok
from gateway.domain import MemberStatus
from gateway.services import members


async def create(request: web.Request) -> web.Response:
    c = Ctx(request)
    b = c.body
    cmd = members.MemberIn(msisdn=identifiers.msisdn(b["msisdn"]), name=b["name"],
                           employee_no=b.get("employee_no"), department=b.get("department"),
                           enterprise_id=b.get("enterprise_id"))
    return ok(await members.create(c.deps, c.principal, cmd, c.idem), 201)


async def import_csv(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await members.import_csv(c.deps, c.principal, c.query.get("enterprise_id"),
                                       c.input.raw, c.idem), 201)


async def get(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await members.get(c.deps, c.principal, c.int_param("member_id")))


async def list_(request: web.Request) -> web.Response:
    c = Ctx(request)
    q = c.query
    flt = members.MemberFilter(
        enterprise_id=q.get("enterprise_id"),
        msisdn=identifiers.msisdn(q["msisdn"]) if "msisdn" in q else None,
        status=MemberStatus(q["status"]) if "status" in q else None,
        department=q.get("department"))
    return ok(await members.list_members(c.deps, c.principal, flt, c.page))


async def update(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await members.update(c.deps, c.principal, c.int_param("member_id"), c.body,
                                   c.idem))


async def set_password(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await members.set_service_password(c.deps, c.principal, c.int_param("member_id"),
                                                 c.body["password"], c.idem))
