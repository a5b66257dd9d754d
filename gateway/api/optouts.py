"""The opt-out list over the API: members who refused bills and notices (by MO keyword TD / R,
or recorded here by an admin), and taking a refusal back."""

from __future__ import annotations

from aiohttp import web

from gateway.api.base import BodyKind, Ctx, Idem, RouteSpec, ok
from gateway.api.schemas import ID, MSISDN, obj, query
from gateway.bills import optouts

V1 = "/api/v1/opt-outs"
ADD = obj((), member_id=ID, msisdn=MSISDN)


async def list_opt_outs(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await optouts.list_opt_outs(c.deps, c.principal, c.query.get("enterprise_id"),
                                          c.page))


async def add_opt_out(request: web.Request) -> web.Response:
    c = Ctx(request)
    view = await optouts.add(c.deps, c.principal, c.body.get("member_id"), c.body.get("msisdn"),
                             c.idem)
    return ok(view, 201 if view["new"] else 200)


async def remove_opt_out(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await optouts.remove(c.deps, c.principal, c.int_param("member_id"), c.idem))


T = "opt-outs"
ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("GET", V1, list_opt_outs, "members who refused bills and notices", T,
              query=query(enterprise_id=ID)),
    RouteSpec("POST", V1, add_opt_out, "record a member's refusal (member_id or msisdn)", T,
              body=ADD, body_kind=BodyKind.JSON, idem=Idem.OPTIONAL, status=201),
    RouteSpec("DELETE", f"{V1}/{{member_id:\\d+}}", remove_opt_out,
              "take a refusal back (the member asked to receive again)", T,
              idem=Idem.OPTIONAL),
)
