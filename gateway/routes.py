"""Every route of the gateway, as one table: method, path, handler, who may call it, what it
takes. Middleware enforces the table (auth, input schemas, Idempotency-Key), the OpenAPI
document is generated from it, and the tenant-isolation test walks it.
"""

from __future__ import annotations

from aiohttp import web

from gateway import keys
from gateway.api import (
    admins,
    billing,
    bills,
    cards,
    enterprises,
    lifecycle,
    members,
    ota,
    reports,
    sms,
    system,
    terminal_api,
    terminals,
)
from gateway.api import schemas as s
from gateway.api.base import Auth, BodyKind, Idem, RouteSpec

V1 = "/api/v1"
E = f"{V1}/enterprises/{{enterprise_id:\\d+}}"
A = f"{V1}/admins/{{admin_id:\\d+}}"
M = f"{V1}/members/{{member_id:\\d+}}"
C = f"{V1}/cards/{{iccid}}"
T = f"{V1}/terminals/{{terminal_id:\\d+}}"
J, OPT, REQ = BodyKind.JSON, Idem.OPTIONAL, Idem.REQUIRED

ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("GET", "/healthz", system.healthz, "liveness and database health", "system",
              Auth.PUBLIC, tenant_scoped=False),
    RouteSpec("GET", "/metrics", system.metrics, "Prometheus metrics", "system", Auth.PUBLIC,
              tenant_scoped=False),
    RouteSpec("GET", f"{V1}/openapi.json", system.openapi, "this document", "system",
              Auth.PUBLIC, tenant_scoped=False),
    # Enterprises
    RouteSpec("POST", f"{V1}/enterprises", enterprises.create, "create an enterprise",
              "enterprises", Auth.OPERATOR, s.ENTERPRISE_CREATE, J, idem=OPT, status=201),
    RouteSpec("GET", f"{V1}/enterprises", enterprises.list_, "list enterprises",
              "enterprises", query=s.Q_ENTERPRISES),
    RouteSpec("GET", E, enterprises.get, "read an enterprise", "enterprises"),
    RouteSpec("PATCH", E, enterprises.update, "update an enterprise", "enterprises",
              body=s.ENTERPRISE_PATCH, body_kind=J, idem=OPT),
    # Admins and tokens
    RouteSpec("POST", f"{V1}/admins", admins.create, "create an admin (token shown once)",
              "admins", body=s.ADMIN_CREATE, body_kind=J, idem=OPT, status=201),
    RouteSpec("GET", f"{V1}/admins", admins.list_, "list admins", "admins", query=s.Q_ADMINS),
    RouteSpec("GET", A, admins.get, "read an admin", "admins"),
    RouteSpec("PATCH", A, admins.update, "update an admin", "admins", body=s.ADMIN_PATCH,
              body_kind=J, idem=OPT),
    RouteSpec("POST", f"{A}/tokens", admins.issue_token, "issue a bearer token (shown once)",
              "admins", body=s.TOKEN_CREATE, body_kind=J, idem=OPT, status=201),
    RouteSpec("DELETE", f"{A}/tokens/{{token_id:\\d+}}", admins.revoke_token,
              "revoke a bearer token", "admins"),
    # Members
    RouteSpec("POST", f"{V1}/members", members.create, "enrol a member", "members",
              body=s.MEMBER_CREATE, body_kind=J, idem=OPT, status=201),
    RouteSpec("POST", f"{V1}/members/import", members.import_csv,
              "enrol members from CSV (all or nothing)", "members", body_kind=BodyKind.CSV,
              body={"description": "UTF-8 (BOM or not) or GB18030; header msisdn,name"
                                   "[,employee_no][,department] in any order; every bad line "
                                   "is reported by number and nothing is enrolled",
                    "example": "msisdn,name,employee_no,department\n"
                               "8613800000001,张三,E001,生产部\n"},
              query=s.Q_IMPORT, idem=OPT, status=201),
    RouteSpec("GET", f"{V1}/members", members.list_, "list members", "members",
              query=s.Q_MEMBERS),
    RouteSpec("GET", M, members.get, "read a member", "members"),
    RouteSpec("PATCH", M, members.update, "update a member", "members", body=s.MEMBER_PATCH,
              body_kind=J, idem=OPT),
    RouteSpec("PUT", f"{M}/service-password", members.set_password,
              "set the member's service password (服务密码)", "members",
              body=s.SERVICE_PASSWORD, body_kind=J, idem=OPT),
    # Cards and lifecycle
    RouteSpec("POST", f"{V1}/cards", cards.create, "register a card to a member", "cards",
              body=s.CARD_CREATE, body_kind=J, idem=OPT, status=201),
    RouteSpec("GET", f"{V1}/cards", cards.list_, "list cards", "cards", query=s.Q_CARDS),
    RouteSpec("GET", C, cards.get, "read a card (with apps and purse balance)", "cards"),
    RouteSpec("PATCH", C, cards.update, "update a card's note", "cards", body=s.CARD_PATCH,
              body_kind=J, idem=OPT),
    RouteSpec("GET", f"{C}/statement", cards.statement, "purse ledger entries", "cards",
              query=s.Q_STATEMENT),
    RouteSpec("POST", f"{C}/loss", lifecycle.report_loss, "report loss (挂失)", "lifecycle",
              body=s.LOSS, body_kind=J, idem=REQ),
    RouteSpec("POST", f"{C}/unfreeze", lifecycle.unfreeze, "cancel a loss report (解挂)",
              "lifecycle", body=s.UNFREEZE, body_kind=J, idem=REQ),
    RouteSpec("POST", f"{C}/replace", lifecycle.replace, "replace the card (补换卡)",
              "lifecycle", body=s.REPLACE, body_kind=J, idem=REQ),
    RouteSpec("POST", f"{C}/deregister", lifecycle.deregister, "deregister the card (注销)",
              "lifecycle", body=s.DEREGISTER, body_kind=J, idem=REQ),
    # Terminals (administration)
    RouteSpec("POST", f"{V1}/terminals", terminals.create, "register a terminal (key shown "
              "once)", "terminals", body=s.TERMINAL_CREATE, body_kind=J, idem=OPT, status=201),
    RouteSpec("GET", f"{V1}/terminals", terminals.list_, "list terminals", "terminals",
              query=s.Q_TERMINALS),
    RouteSpec("GET", T, terminals.get, "read a terminal (with open sequence gaps)",
              "terminals"),
    RouteSpec("PATCH", T, terminals.update, "update a terminal", "terminals",
              body=s.TERMINAL_PATCH, body_kind=J, idem=OPT),
    RouteSpec("POST", f"{T}/secret", terminals.rotate_secret, "issue a new terminal key",
              "terminals", idem=OPT),
    # Reports
    RouteSpec("GET", f"{V1}/records", reports.list_records, "list terminal records",
              "reports", query=s.Q_RECORDS),
    RouteSpec("GET", f"{V1}/blacklist", reports.get_blacklist,
              "an enterprise's blacklist since a version", "reports", query=s.Q_BLACKLIST),
    RouteSpec("GET", f"{V1}/audit", reports.list_audit, "the audit log", "reports",
              query=s.Q_AUDIT),
    # Terminal API
    RouteSpec("POST", f"{V1}/terminal/records", terminal_api.upload,
              "upload a batch of records", "terminal", Auth.TERMINAL, s.UPLOAD, J,
              tenant_scoped=False),
    RouteSpec("POST", f"{V1}/terminal/undo", terminal_api.undo,
              "undo the last purchase (撤销)", "terminal", Auth.TERMINAL, s.UNDO, J,
              tenant_scoped=False),
    RouteSpec("GET", f"{V1}/terminal/blacklist", terminal_api.pull_blacklist,
              "blacklist delta since a version", "terminal", Auth.TERMINAL,
              query=s.Q_TERMINAL_BLACKLIST, tenant_scoped=False),
    *billing.ROUTES,  # carriers, plans, accounts, exports, reconciliation (gateway.api.billing)
    *sms.ROUTES,  # the SMS outbox (gateway.api.sms)
    *ota.ROUTES,  # over-the-air issuance, top-ups, jobs, reconciliation (gateway.api.ota)
    *bills.ROUTES,  # SMS bills, bill runs, notices, opt-outs (gateway.api.bills)
)


def setup_routes(app: web.Application) -> None:
    specs: dict[web.AbstractRoute, RouteSpec] = {}
    for spec in ROUTES:
        route = app.router.add_route(spec.method, spec.path, spec.handler)
        specs[route] = spec
    app[keys.SPECS] = specs
