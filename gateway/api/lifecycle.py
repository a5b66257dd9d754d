"""Card lifecycle (seed 7.3): loss report, unfreeze, replacement, deregistration.

Every one needs an ``Idempotency-Key``: a retry returns the first result.
"""

from __future__ import annotations

from aiohttp import web

from gateway import cardkeys, identifiers
from gateway.api.base import Ctx, ok
from gateway.services import lifecycle


async def report_loss(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await lifecycle.report_loss(c.deps, c.principal, c.iccid_param(),
                                          c.body.get("reason"), c.idem_required))


async def unfreeze(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await lifecycle.unfreeze(c.deps, c.principal, c.iccid_param(), c.idem_required))


async def replace(request: web.Request) -> web.Response:
    c = Ctx(request)
    cmd = lifecycle.ReplaceIn(new_iccid=identifiers.iccid(c.body["new_iccid"], "new_iccid"),
                              keys=cardkeys.from_json(c.body["keys"]) if "keys" in c.body else None,
                              reason=c.body.get("reason"))
    return ok(await lifecycle.replace(c.deps, c.principal, c.iccid_param(), cmd,
                                      c.idem_required))


async def deregister(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await lifecycle.deregister(c.deps, c.principal, c.iccid_param(),
                                         c.body.get("reason"), c.idem_required))
