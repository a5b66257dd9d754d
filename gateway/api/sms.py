"""The SMS outbox over the API: list outgoing SMS and read one with its segments.

An enterprise admin sees its own enterprise's SMS only; SMS of no enterprise (system messages)
are the operator's. ``ROUTES`` is spliced into ``gateway.routes.ROUTES``.
"""

from __future__ import annotations

from aiohttp import web

from gateway import identifiers
from gateway.api.base import Ctx, RouteSpec, ok
from gateway.api.schemas import ID, MSISDN, enum_of, query, text
from gateway.db.models_outbox import SmsKind, SmsState
from gateway.services import outbox

V1 = "/api/v1"
Q_SMS = query(enterprise_id=ID, state=enum_of(SmsState), kind=enum_of(SmsKind), msisdn=MSISDN,
              member_id=ID, batch_id=text(1, 64))


async def list_(request: web.Request) -> web.Response:
    c = Ctx(request)
    q = c.query
    flt = outbox.SmsFilter(
        enterprise_id=q.get("enterprise_id"),
        state=SmsState(q["state"]) if "state" in q else None,
        kind=SmsKind(q["kind"]) if "kind" in q else None,
        msisdn=identifiers.msisdn(q["msisdn"]) if "msisdn" in q else None,
        member_id=q.get("member_id"), batch_id=q.get("batch_id"))
    return ok(await outbox.list_sms(c.deps, c.principal, flt, c.page))


async def get(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await outbox.get_sms(c.deps, c.principal, c.int_param("sms_id")))


ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("GET", f"{V1}/sms", list_, "list outgoing SMS (the outbox)", "sms", query=Q_SMS),
    RouteSpec("GET", f"{V1}/sms/{{sms_id:\\d+}}", get, "read an outgoing SMS with its segments",
              "sms"),
)
