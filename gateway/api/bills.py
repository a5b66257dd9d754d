"""SMS bills over the API: settings (shift rules, quiet hours, rate), templates with preview,
schedules, and bill runs (start, list, watch, cancel, report as JSON or CSV).

Every route works on one enterprise: an enterprise admin's own (``enterprise_id`` may be
omitted), or the one an operator names. ``ROUTES`` (with the notice and opt-out routes of
``gateway.api.notices``) is spliced into ``gateway.routes.ROUTES``.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api import notices, optouts
from gateway.api.base import BodyKind, Ctx, Idem, RouteSpec, ok
from gateway.api.schemas import ID, nullable, obj, query, text
from gateway.bills import config, reports, runs
from gateway.bills.render import BILL_KINDS, TemplateKind
from gateway.db.models_bills import Cadence, RunState
from gateway.errors import NotFound
from gateway.workers.bills import BILL_WORKER

V1 = "/api/v1"
KIND = "{kind:[a-z_]{3,24}}"
RUN = "{run_id:\\d+}"
CADENCE = "{cadence:daily|weekly|monthly}"
HHMM = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}
PERIOD = {"type": "string", "pattern": r"^\d{4}-(\d{2}|W\d{2}|\d{2}-\d{2})$",
          "description": "2026-10 (month), 2026-W44 (ISO week) or 2026-10-31 (day)"}
BILL_KIND = {"type": "string", "enum": [k.value for k in BILL_KINDS] + ["both"]}

Q_ONE = {"type": "object", "additionalProperties": False, "properties": {"enterprise_id": ID}}
Q_RUNS = query(enterprise_id=ID, state={"type": "string", "enum": [s.value for s in RunState]})
SHIFT_RULES = obj(
    (), work_start=HHMM, work_end=HHMM, day_cutoff=HHMM,
    late_grace_min={"type": "integer", "minimum": 0, "maximum": 240},
    early_grace_min={"type": "integer", "minimum": 0, "maximum": 240},
    workdays={"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7},
              "minItems": 1, "maxItems": 7, "uniqueItems": True},
    holidays={"type": "array", "items": {"type": "string", "format": "date"}, "maxItems": 400},
    extra_workdays={"type": "array", "items": {"type": "string", "format": "date"},
                    "maxItems": 400})
SETTINGS = obj(
    (), shift_rules=SHIFT_RULES,
    quiet_hours=nullable({"type": "string", "pattern": "^\\d{2}:\\d{2}-\\d{2}:\\d{2}$"}),
    rate_per_s=nullable({"type": "number", "minimum": 0.1, "maximum": 100000}),
    max_segments={"type": "integer", "minimum": 1, "maximum": config.MAX_SEGMENTS_LIMIT},
    opt_out_text=text(0, 24))
TEMPLATE = obj(("source",), source=text(1, 4000))
PREVIEW = obj((), source=text(1, 4000), member_id=ID, period=PERIOD)
SCHEDULE = obj((), kinds={"type": "array", "items": {"type": "string",
                                                     "enum": [k.value for k in BILL_KINDS]},
                          "minItems": 1, "uniqueItems": True},
               send_at=HHMM, enabled={"type": "boolean"})
RUN_CREATE = obj(("period",), period=PERIOD, enterprise_id=ID,
                 kinds={"type": "array", "items": BILL_KIND, "minItems": 1, "maxItems": 3},
                 urgent={"type": "boolean", "description": "send in quiet hours too"},
                 force={"type": "boolean",
                        "description": "bill a period again that a run billed already"})


def _kind(c: Ctx) -> TemplateKind:
    value = c.request.match_info["kind"]
    try:
        return TemplateKind(value)
    except ValueError:
        raise NotFound(f"no template kind {value!r}") from None


def _enterprise(c: Ctx) -> int | None:
    value = c.query.get("enterprise_id")
    return int(value) if value is not None else None


async def get_settings(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await config.get_settings(c.deps, c.principal, _enterprise(c)))


async def put_settings(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await config.put_settings(c.deps, c.principal, _enterprise(c), c.body, c.idem))


async def list_templates(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await config.list_templates(c.deps, c.principal, _enterprise(c)))


async def get_template(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await config.get_template(c.deps, c.principal, _enterprise(c), _kind(c)))


async def put_template(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await config.put_template(c.deps, c.principal, _enterprise(c), _kind(c),
                                        c.body["source"], c.idem))


async def reset_template(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await config.reset_template(c.deps, c.principal, _enterprise(c), _kind(c),
                                          c.idem))


async def preview_template(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await runs.preview(c.deps, c.principal, _enterprise(c), _kind(c), c.body))


async def list_schedules(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await config.list_schedules(c.deps, c.principal, _enterprise(c)))


async def put_schedule(request: web.Request) -> web.Response:
    c = Ctx(request)
    cadence = Cadence(request.match_info["cadence"])
    return ok(await config.put_schedule(c.deps, c.principal, _enterprise(c), cadence, c.body,
                                        c.idem))


async def delete_schedule(request: web.Request) -> web.Response:
    c = Ctx(request)
    cadence = Cadence(request.match_info["cadence"])
    return ok(await config.delete_schedule(c.deps, c.principal, _enterprise(c), cadence,
                                           c.idem))


async def create_run(request: web.Request) -> web.Response:
    c, b = Ctx(request), Ctx(request).body
    cmd = runs.RunIn(period=b["period"], kinds=b.get("kinds", ["both"]),
                     enterprise_id=b.get("enterprise_id"), urgent=b.get("urgent", False),
                     force=b.get("force", False))
    view = await runs.create(c.deps, c.principal, cmd, c.idem)
    _wake_worker(request)
    return ok(view, 201)


def _wake_worker(request: web.Request) -> None:
    worker = request.app.get(BILL_WORKER)
    if worker is not None:
        worker.wake()


async def list_runs(request: web.Request) -> web.Response:
    c = Ctx(request)
    state = RunState(c.query["state"]) if "state" in c.query else None
    return ok(await runs.list_runs(c.deps, c.principal, c.query.get("enterprise_id"), state,
                                   c.page))


async def get_run(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await runs.get(c.deps, c.principal, c.int_param("run_id")))


async def cancel_run(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await runs.cancel(c.deps, c.principal, c.int_param("run_id"), c.idem))


async def run_report(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await reports.report(c.deps, c.principal, c.int_param("run_id")))


async def run_report_csv(request: web.Request) -> web.Response:
    c = Ctx(request)
    run_id = c.int_param("run_id")
    body = await reports.report_csv(c.deps, c.principal, run_id)
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="bill-run-{run_id}.csv"'})


J, OPT, T = BodyKind.JSON, Idem.OPTIONAL, "bills"

ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("GET", f"{V1}/bill-settings", get_settings,
              "an enterprise's shift rules, quiet hours, send rate and segment limit", T,
              query=Q_ONE),
    RouteSpec("PUT", f"{V1}/bill-settings", put_settings, "change bill settings", T,
              body=SETTINGS, body_kind=J, query=Q_ONE, idem=OPT),
    RouteSpec("GET", f"{V1}/bill-templates", list_templates,
              "every template kind: source, custom or default, sample text and segments", T,
              query=Q_ONE),
    RouteSpec("GET", f"{V1}/bill-templates/{KIND}", get_template, "one template", T,
              query=Q_ONE),
    RouteSpec("PUT", f"{V1}/bill-templates/{KIND}", put_template,
              "store a template (refused with the count when over the segment limit)", T,
              body=TEMPLATE, body_kind=J, query=Q_ONE, idem=OPT),
    RouteSpec("DELETE", f"{V1}/bill-templates/{KIND}", reset_template,
              "back to the default template", T, query=Q_ONE, idem=OPT),
    RouteSpec("POST", f"{V1}/bill-templates/{KIND}/preview", preview_template,
              "render a template for a member's real bill or sample values", T,
              body=PREVIEW, body_kind=J, query=Q_ONE),
    RouteSpec("GET", f"{V1}/bill-schedules", list_schedules, "an enterprise's schedules", T,
              query=Q_ONE),
    RouteSpec("PUT", f"{V1}/bill-schedules/{CADENCE}", put_schedule,
              "bill daily, weekly or monthly by itself", T, body=SCHEDULE, body_kind=J,
              query=Q_ONE, idem=OPT),
    RouteSpec("DELETE", f"{V1}/bill-schedules/{CADENCE}", delete_schedule,
              "stop a schedule", T, query=Q_ONE, idem=OPT),
    RouteSpec("POST", f"{V1}/bill-runs", create_run, "start a bill run", T, body=RUN_CREATE,
              body_kind=J, idem=OPT, status=201),
    RouteSpec("GET", f"{V1}/bill-runs", list_runs, "bill runs, newest first", T,
              query=Q_RUNS),
    RouteSpec("GET", f"{V1}/bill-runs/{RUN}", get_run, "a bill run with its progress", T),
    RouteSpec("POST", f"{V1}/bill-runs/{RUN}/cancel", cancel_run,
              "cancel a run (unsent SMS are withdrawn)", T, idem=OPT),
    RouteSpec("GET", f"{V1}/bill-runs/{RUN}/report", run_report,
              "sent, delivered, failed, opted out", T),
    RouteSpec("GET", f"{V1}/bill-runs/{RUN}/report.csv", run_report_csv,
              "one line per member and bill (UTF-8 with BOM)", T),
    *notices.ROUTES,
    *optouts.ROUTES,
)
