"""Over-the-air operations: issuance (空中发卡), top-ups (空中充值), app deletion, the STK menu,
job state, alerts and balance reconciliation. ``ROUTES`` is spliced into
``gateway.routes.ROUTES``.

The mutations answer 202: the job is queued (and committed with its ledger posting, for a
top-up); the card confirms later. ``GET`` of a top-up or a job takes ``wait`` (seconds, up to
30): the answer comes as soon as the job finishes, or when the wait is over.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from gateway.api import schemas as s
from gateway.api.base import BodyKind, Ctx, Idem, RouteSpec, ok
from gateway.domain import AppKind
from gateway.ota_core import JobKind, JobState
from gateway.services import ota_jobs, ota_reconcile, topups
from gateway.workers.ota import ENGINE, wake
from ota.mo_request import MenuFile

V1 = "/api/v1"
C = f"{V1}/cards/{{iccid}}"
J, REQ = BodyKind.JSON, Idem.REQUIRED
MAX_WAIT_S = 30

DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "YYYY-MM-DD"}
ISSUE = s.obj(
    ("apps",),
    apps={"type": "array", "items": s.enum_of(AppKind), "minItems": 1, "maxItems": 3,
          "uniqueItems": True},
    purse_limit_fen={**s.FEN, "description": "most the purse may hold (default 2,000 yuan)"},
    valid_until={**DATE, "description": "last day the sub-applications are valid"},
)
TOPUP = s.obj(("amount_fen",), amount_fen=s.FEN)
MENU = s.obj(("items",), title=s.text(1, 20),
             items={"type": "array", "items": s.text(1, 20), "minItems": 1, "maxItems": 8},
             service_number={"type": "string", "pattern": r"^\+?\d{3,20}$"})
WAIT = {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_S,
        "description": "seconds to wait for the job to finish before answering"}
Q_WAIT = {"type": "object", "additionalProperties": False, "properties": {"wait": WAIT}}
Q_JOBS = s.query(enterprise_id=s.ID, iccid=s.ICCID, kind=s.enum_of(JobKind),
                 state=s.enum_of(JobState))
Q_ALERTS = s.query(enterprise_id=s.ID)
Q_RECONCILE = s.query(enterprise_id=s.ID, all={
    "type": "boolean", "description": "every card's latest report, not only differences"})


async def issue_apps(request: web.Request) -> web.Response:
    c = Ctx(request)
    b = c.body
    until = datetime.date.fromisoformat(b["valid_until"]) if "valid_until" in b else None
    cmd = ota_jobs.IssueIn(tuple(AppKind(a) for a in b["apps"]), b.get("purse_limit_fen"),
                           until)
    view = await ota_jobs.issue(c.deps, c.principal, c.iccid_param(), cmd, c.idem_required)
    wake(request.app)
    return ok(view, 202)


async def delete_app(request: web.Request) -> web.Response:
    c = Ctx(request)
    app = AppKind(request.match_info["app"])
    view = await ota_jobs.delete_app(c.deps, c.principal, c.iccid_param(), app, c.idem_required)
    wake(request.app)
    return ok(view, 202)


async def update_menu(request: web.Request) -> web.Response:
    c = Ctx(request)
    b = c.body
    default = MenuFile()
    menu = MenuFile(b.get("title", default.title), tuple(b["items"]),
                    b.get("service_number", default.service_number))
    view = await ota_jobs.update_menu(c.deps, c.principal, c.iccid_param(), menu,
                                      c.idem_required)
    wake(request.app)
    return ok(view, 202)


async def topup(request: web.Request) -> web.Response:
    c = Ctx(request)
    # No wake-up: the request hands its CREDIT to the engine, or wakes the sender itself when
    # the card has another job open.
    view = await topups.request(c.deps, c.principal, c.iccid_param(), c.body["amount_fen"],
                                c.idem_required)
    return ok(view, 202)


async def _waited(request: web.Request, job_id: int | None, final: bool) -> bool:
    """Wait (``?wait=``) for job ``job_id`` unless it is final; True if there was a wait."""
    seconds = float(Ctx(request).query.get("wait", 0))
    engine = request.app.get(ENGINE)
    if final or not seconds or job_id is None or engine is None:
        return False
    await engine.wait(job_id, seconds)
    return True


async def get_topup(request: web.Request) -> web.Response:
    c = Ctx(request)
    topup_id = c.int_param("topup_id")
    view = await topups.get(c.deps, c.principal, topup_id)
    if await _waited(request, view["job_id"], topups.is_final(view)):
        view = await topups.get(c.deps, c.principal, topup_id)
    return ok(view)


async def get_job(request: web.Request) -> web.Response:
    c = Ctx(request)
    job_id = c.int_param("job_id")
    view = await ota_jobs.get_job(c.deps, c.principal, job_id)
    final = view["state"] not in (JobState.PENDING.value, JobState.SENT.value)
    if await _waited(request, job_id, final):
        view = await ota_jobs.get_job(c.deps, c.principal, job_id)
    return ok(view)


async def list_jobs(request: web.Request) -> web.Response:
    c = Ctx(request)
    q: dict[str, Any] = c.query
    flt = ota_jobs.JobFilter(q.get("enterprise_id"), q.get("iccid"),
                             JobKind(q["kind"]) if "kind" in q else None,
                             JobState(q["state"]) if "state" in q else None)
    return ok(await ota_jobs.list_jobs(c.deps, c.principal, flt, c.page))


async def list_alerts(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await ota_jobs.list_alerts(c.deps, c.principal, c.query.get("enterprise_id"),
                                         c.page))


async def reconciliation(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await ota_reconcile.reconciliation(c.deps, c.principal,
                                                 c.query.get("enterprise_id"),
                                                 bool(c.query.get("all", False)), c.page))


ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("POST", f"{C}/apps", issue_apps, "issue sub-applications over the air (空中发卡)",
              "ota", body=ISSUE, body_kind=J, idem=REQ, status=202),
    RouteSpec("DELETE", f"{C}/apps/{{app:door|attendance|purse}}", delete_app,
              "delete a sub-application over the air", "ota", idem=REQ, status=202),
    RouteSpec("PUT", f"{C}/menu", update_menu, "rewrite the card's STK menu over the air",
              "ota", body=MENU, body_kind=J, idem=REQ, status=202),
    RouteSpec("POST", f"{C}/topups", topup, "top up the purse over the air (空中充值)", "ota",
              body=TOPUP, body_kind=J, idem=REQ, status=202),
    RouteSpec("GET", f"{V1}/topups/{{topup_id:\\d+}}", get_topup,
              "a top-up: state and the balance the card reported", "ota", query=Q_WAIT),
    RouteSpec("GET", f"{V1}/ota/jobs", list_jobs, "list OTA jobs", "ota", query=Q_JOBS),
    RouteSpec("GET", f"{V1}/ota/jobs/{{job_id:\\d+}}", get_job, "an OTA job", "ota",
              query=Q_WAIT),
    RouteSpec("GET", f"{V1}/ota/alerts", list_alerts,
              "PoRs and STK requests refused (bad CC, replayed counter...)", "ota",
              query=Q_ALERTS),
    RouteSpec("GET", f"{V1}/ota/reconciliation", reconciliation,
              "card balances reported by PoRs and terminals against the ledger", "ota",
              query=Q_RECONCILE),
)
