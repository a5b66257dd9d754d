"""Carrier billing over the API: carriers, fee plans, accounts, exports, re-rating, reconciliation.

Configuration, exports and re-rating are the carrier operator's; an enterprise admin may read
the reconciliation of its own enterprise only. ``ROUTES`` is spliced into
``gateway.routes.ROUTES``. Billing errors become gateway errors here, with their own status
and code (``billing.errors``).

``POST /billing/exports`` runs the export in the request (a month of a large carrier takes
seconds to a minute); if the client goes away the job stays claimed and ``POST
/billing/exports/{id}/run`` or ``onecard export --resume`` finishes it with the same bytes.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from aiohttp import web

from billing import accounts, jobs, reconciliation
from billing.cdr import OneOffItem
from billing.errors import BillingError
from billing.period import Period
from billing.tariffs import Proration, Tariff
from gateway.api.base import Auth, BodyKind, Ctx, Handler, Idem, RouteSpec, ok
from gateway.api.schemas import CODE, ID, obj, text
from gateway.errors import GatewayError, ValidationError

V1 = "/api/v1/billing"
PERIOD = {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}
PRICE = {"type": ["string", "integer"], "pattern": r"^\d{1,9}(\.\d{1,4})?$", "minimum": 0}
NAME = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,32}$"}
TARIFF = obj(
    ("effective_from", "service_fee"),
    effective_from=PERIOD,
    service_fee=PRICE,
    proration={"type": "string", "enum": [p.value for p in Proration]},
    sms_bill=PRICE, sms_notice=PRICE, sms_service=PRICE, ota=PRICE, topup_fee=PRICE,
    topup_percent={"type": ["string", "integer"], "pattern": r"^\d{1,3}(\.\d{1,2})?$"},
    ota_overrides={"type": "object"},
)
CARRIER = obj(
    ("name", "node_id"),
    name=text(1, 64),
    node_id=NAME,
    node_address=text(2, 45),
    layouts={"type": "array", "items": NAME, "minItems": 1, "maxItems": 8, "uniqueItems": True},
    name_pattern=text(5, 128),
    template_set=NAME,
)
PLAN = obj(("name", "tariffs"), name=text(1, 64),
           tariffs={"type": "array", "items": TARIFF, "minItems": 1, "maxItems": 120})
ACCOUNT = obj(("carrier", "plan"), carrier=CODE, plan=CODE, group_account=text(0, 32))
EXPORT = obj(("carrier", "period"), carrier=CODE, period=PERIOD)
ONE_OFF = obj(
    ("enterprise_id", "item", "amount_fen", "order", "first_period"),
    enterprise_id=ID,
    item={"type": "string", "enum": [i.name for i in OneOffItem]},
    amount_fen={"type": "integer", "minimum": 1, "maximum": 10**12},
    order=NAME,
    first_period=PERIOD,
    instalments={"type": "integer", "minimum": 1, "maximum": 60, "default": 1},
)
Q_EXPORTS = {"type": "object", "additionalProperties": False, "properties": {"carrier": CODE}}
Q_RECONCILE = {"type": "object", "additionalProperties": False, "required": ["period"],
               "properties": {"period": PERIOD, "carrier": CODE, "enterprise_id": ID}}
_TEMPLATE_SETS = "billing-templates"  # under data_dir: operators' own layout templates


_GATEWAY_ERRORS: dict[type[BillingError], type[GatewayError]] = {}


def _gateway_error(kind: type[BillingError]) -> type[GatewayError]:
    """The gateway error class standing for a billing error class: same status, same code."""
    found = _GATEWAY_ERRORS.get(kind)
    if found is None:
        found = type(kind.__name__, (GatewayError,), {"http_status": kind.http_status,
                                                      "code": kind.code})
        _GATEWAY_ERRORS[kind] = found
    return found


def _billing(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except BillingError as exc:
            raise _gateway_error(type(exc))(str(exc)) from exc

    return wrapped


def _tariff(body: dict[str, Any]) -> Tariff:
    overrides = body.get("ota_overrides", {})
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in overrides.values()):
        raise ValidationError("ota_overrides", "prices are strings or integers")
    return Tariff.from_dict(body)


@_billing
async def put_carrier(request: web.Request) -> web.StreamResponse:
    c, b = Ctx(request), Ctx(request).body
    template_dir = None
    if "template_set" in b:
        template_dir = str(Path(c.deps.settings.data_dir) / _TEMPLATE_SETS / b["template_set"])
    cmd = accounts.CarrierIn(
        request.match_info["code"], b["name"], b["node_id"], b.get("node_address", "127.0.0.1"),
        tuple(b.get("layouts", accounts.CarrierIn.layouts)),
        b.get("name_pattern", accounts.CarrierIn.name_pattern), template_dir)
    return ok(await accounts.put_carrier(c.deps, cmd))


@_billing
async def list_carriers(request: web.Request) -> web.StreamResponse:
    return ok({"items": await accounts.list_carriers(Ctx(request).deps)})


@_billing
async def put_plan(request: web.Request) -> web.StreamResponse:
    c = Ctx(request)
    tariffs = [_tariff(t) for t in c.body["tariffs"]]
    return ok(await accounts.put_plan(c.deps, request.match_info["code"], c.body["name"], tariffs))


@_billing
async def get_plan(request: web.Request) -> web.StreamResponse:
    c = Ctx(request)
    return ok(await accounts.get_plan(c.deps, request.match_info["code"]))


@_billing
async def put_account(request: web.Request) -> web.StreamResponse:
    c, b = Ctx(request), Ctx(request).body
    return ok(await accounts.put_account(c.deps, c.int_param("enterprise_id"), b["carrier"],
                                         b["plan"], b.get("group_account", "")))


@_billing
async def charge_one_off(request: web.Request) -> web.StreamResponse:
    c, b = Ctx(request), Ctx(request).body
    view = await accounts.charge_one_off(
        c.deps, b["enterprise_id"], OneOffItem[b["item"]], b["amount_fen"], b["order"],
        Period.parse(b["first_period"]), b["instalments"])
    return ok(view, status=201)


@_billing
async def create_export(request: web.Request) -> web.StreamResponse:
    c = Ctx(request)
    result = await jobs.export(c.deps, c.body["carrier"], Period.parse(c.body["period"]))
    return ok(result.to_dict(), status=201)


@_billing
async def run_export(request: web.Request) -> web.StreamResponse:
    c = Ctx(request)
    return ok((await jobs.run_job(c.deps, c.int_param("job_id"))).to_dict())


@_billing
async def list_exports(request: web.Request) -> web.StreamResponse:
    c = Ctx(request)
    return ok({"items": await jobs.list_jobs(c.deps, c.query.get("carrier"))})


@_billing
async def get_export(request: web.Request) -> web.StreamResponse:
    c = Ctx(request)
    return ok(await jobs.get_job(c.deps, c.int_param("job_id")))


@_billing
async def rerate(request: web.Request) -> web.StreamResponse:
    c = Ctx(request)
    records = await jobs.rerate(c.deps, c.body["carrier"], Period.parse(c.body["period"]))
    return ok({"adjustments": [
        {"cdr_id": r.cdr_id, "enterprise": r.enterprise_id, "item": r.detail,
         "amount_fen": r.amount_fen, "reference": r.reference} for r in records]})


@_billing
async def reconcile(request: web.Request) -> web.StreamResponse:
    c = Ctx(request)
    enterprise_id = c.principal.enterprise_filter(c.query.get("enterprise_id"))
    carrier = c.query.get("carrier") if enterprise_id is None else None
    if enterprise_id is None and carrier is None:
        raise ValidationError("carrier", "name a carrier or an enterprise_id")
    report = await reconciliation.report(c.deps, Period.parse(c.query["period"]), carrier,
                                         enterprise_id)
    return ok(report.to_dict())


J, OPT, OP = BodyKind.JSON, Idem.OPTIONAL, Auth.OPERATOR
_CODE = "{code:[A-Za-z0-9_.-]{2,32}}"
_JOB = "{job_id:\\d+}"

ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("PUT", f"{V1}/carriers/{_CODE}", put_carrier, "configure a carrier's export",
              "billing", OP, CARRIER, J, idem=OPT),
    RouteSpec("GET", f"{V1}/carriers", list_carriers, "list carriers", "billing", OP),
    RouteSpec("PUT", f"{V1}/plans/{_CODE}", put_plan, "create or update a fee plan (tariffs "
              "of other months are kept)", "billing", OP, PLAN, J, idem=OPT),
    RouteSpec("GET", f"{V1}/plans/{_CODE}", get_plan, "a fee plan and its tariff history",
              "billing", OP),
    RouteSpec("PUT", f"{V1}/accounts/{{enterprise_id:\\d+}}", put_account,
              "an enterprise's carrier, plan and group account", "billing", OP, ACCOUNT, J,
              idem=OPT),
    RouteSpec("POST", f"{V1}/one-off-charges", charge_one_off, "charge a device or "
              "integration fee (seed 5.1.1), at once or in monthly instalments", "billing", OP,
              ONE_OFF, J, idem=OPT, status=201),
    RouteSpec("POST", f"{V1}/exports", create_export, "export a carrier's month to files",
              "billing", OP, EXPORT, J, idem=OPT, status=201),
    RouteSpec("GET", f"{V1}/exports", list_exports, "list export jobs", "billing", OP,
              query=Q_EXPORTS),
    RouteSpec("GET", f"{V1}/exports/{_JOB}", get_export, "an export job and its files",
              "billing", OP),
    RouteSpec("POST", f"{V1}/exports/{_JOB}/run", run_export,
              "finish or repeat an export (same bytes)", "billing", OP, idem=OPT),
    RouteSpec("POST", f"{V1}/rerate", rerate, "re-rate an exported month into adjustments",
              "billing", OP, EXPORT, J, idem=OPT),
    RouteSpec("GET", f"{V1}/reconciliation", reconcile,
              "rated vs exported vs ledger, per enterprise", "billing", query=Q_RECONCILE),
)
