"""Tenant isolation, route by route: the admin of enterprise B tries every route of the route
table against enterprise A's rows. A new route without a case here fails
``test_every_route_has_a_case``: whoever adds a tenant-scoped route adds its case here.

Before each attempt A's admin makes rows in every area (a loss report queues an SMS and an OTA
job, a top-up, a bill run), so that paths and listings have something of A's to leak.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.api.base import Auth
from gateway.openapi import path_of
from gateway.routes import ROUTES
from tests.gateway.helpers import World, idem, new_iccid, new_msisdn

V1 = "/api/v1"
Build = Callable[[World], Any]


@dataclass(frozen=True)
class Case:
    path: Build
    expect: int  # 403 / 404 for a refusal; 200 for a listing that must not show A's rows
    body: Build | None = None
    data: bytes | None = None


async def a_rows(w: World) -> None:
    """Rows of A in the outbox, OTA and bill areas, made through A's own admin."""
    api, a = w.api, w.a
    await api.ok("POST", f"{V1}/cards/{a.cards[1]['iccid']}/loss", token=a.token, body={},
                 key=idem())
    topup = await api.ok("POST", f"{V1}/cards/{a.iccid}/topups", 202, token=a.token,
                         body={"amount_fen": 100}, key=idem())
    run = await api.ok("POST", f"{V1}/bill-runs", token=a.token, body={"period": "2026-10"})
    sms = (await api.ok("GET", f"{V1}/sms", token=a.token))["items"]
    jobs = (await api.ok("GET", f"{V1}/ota/jobs", token=a.token))["items"]
    assert sms and jobs
    w.extra.update(topup=topup["id"], run=run["id"], sms=sms[0]["id"], job=jobs[0]["id"])


def a_member(w: World) -> int:
    return int(w.a.members[0]["id"])


def a_terminal(w: World) -> int:
    return int(w.a.terminal_rows["door"]["id"])


def a_card(w: World, op: str = "") -> str:
    return f"{V1}/cards/{w.a.iccid}{op}"


CASES: dict[tuple[str, str], Case] = {
    ("POST", "/enterprises"): Case(lambda w: f"{V1}/enterprises", 403,
                                   lambda w: {"code": "X", "name": "x", "sms_signature": "xx"}),
    ("GET", "/enterprises"): Case(lambda w: f"{V1}/enterprises", 200),
    ("GET", "/enterprises/{enterprise_id}"): Case(lambda w: f"{V1}/enterprises/{w.a.id}", 404),
    ("PATCH", "/enterprises/{enterprise_id}"): Case(
        lambda w: f"{V1}/enterprises/{w.a.id}", 404, lambda w: {"balance_expiry_days": 30}),
    ("POST", "/admins"): Case(lambda w: f"{V1}/admins", 403, lambda w: {
        "login": "intruder", "name": "x", "role": "enterprise_admin", "enterprise_id": w.a.id}),
    ("GET", "/admins"): Case(lambda w: f"{V1}/admins", 200),
    ("GET", "/admins/{admin_id}"): Case(lambda w: f"{V1}/admins/{w.a.admin['id']}", 404),
    ("PATCH", "/admins/{admin_id}"): Case(lambda w: f"{V1}/admins/{w.a.admin['id']}", 404,
                                          lambda w: {"disabled": True}),
    ("POST", "/admins/{admin_id}/tokens"): Case(
        lambda w: f"{V1}/admins/{w.a.admin['id']}/tokens", 404, lambda w: {}),
    ("DELETE", "/admins/{admin_id}/tokens/{token_id}"): Case(
        lambda w: f"{V1}/admins/{w.a.admin['id']}/tokens/1", 404),
    ("POST", "/members"): Case(lambda w: f"{V1}/members", 403, lambda w: {
        "msisdn": new_msisdn(), "name": "x", "enterprise_id": w.a.id}),
    ("POST", "/members/import"): Case(lambda w: f"{V1}/members/import?enterprise_id={w.a.id}",
                                      403, data=f"msisdn,name\n{new_msisdn()},x\n".encode()),
    ("GET", "/members"): Case(lambda w: f"{V1}/members", 200),
    ("GET", "/members/{member_id}"): Case(lambda w: f"{V1}/members/{a_member(w)}", 404),
    ("PATCH", "/members/{member_id}"): Case(lambda w: f"{V1}/members/{a_member(w)}", 404,
                                            lambda w: {"name": "x"}),
    ("PUT", "/members/{member_id}/service-password"): Case(
        lambda w: f"{V1}/members/{a_member(w)}/service-password", 404,
        lambda w: {"password": "123456"}),
    ("POST", "/cards"): Case(lambda w: f"{V1}/cards", 404, lambda w: {
        "iccid": new_iccid(), "member_id": w.a.members[2]["id"]}),
    ("GET", "/cards"): Case(lambda w: f"{V1}/cards", 200),
    ("GET", "/cards/{iccid}"): Case(lambda w: a_card(w), 404),
    ("PATCH", "/cards/{iccid}"): Case(lambda w: a_card(w), 404, lambda w: {"note": "x"}),
    ("GET", "/cards/{iccid}/statement"): Case(lambda w: a_card(w, "/statement"), 404),
    ("POST", "/cards/{iccid}/loss"): Case(lambda w: a_card(w, "/loss"), 404, lambda w: {}),
    ("POST", "/cards/{iccid}/unfreeze"): Case(lambda w: a_card(w, "/unfreeze"), 404,
                                              lambda w: {}),
    ("POST", "/cards/{iccid}/replace"): Case(lambda w: a_card(w, "/replace"), 404,
                                             lambda w: {"new_iccid": new_iccid()}),
    ("POST", "/cards/{iccid}/deregister"): Case(lambda w: a_card(w, "/deregister"), 404,
                                                lambda w: {}),
    ("POST", "/terminals"): Case(lambda w: f"{V1}/terminals", 403, lambda w: {
        "code": "INTRUDER", "kind": "door", "name": "x", "enterprise_id": w.a.id}),
    ("GET", "/terminals"): Case(lambda w: f"{V1}/terminals", 200),
    ("GET", "/terminals/{terminal_id}"): Case(lambda w: f"{V1}/terminals/{a_terminal(w)}", 404),
    ("PATCH", "/terminals/{terminal_id}"): Case(
        lambda w: f"{V1}/terminals/{a_terminal(w)}", 404, lambda w: {"status": "disabled"}),
    ("POST", "/terminals/{terminal_id}/secret"): Case(
        lambda w: f"{V1}/terminals/{a_terminal(w)}/secret", 404),
    ("GET", "/records"): Case(lambda w: f"{V1}/records", 200),
    ("GET", "/blacklist"): Case(lambda w: f"{V1}/blacklist?enterprise_id={w.a.id}", 403),
    ("GET", "/audit"): Case(lambda w: f"{V1}/audit", 200),
    ("GET", "/billing/reconciliation"): Case(
        lambda w: f"{V1}/billing/reconciliation?period=2026-11&enterprise_id={w.a.id}", 403),
    # Carrier billing configuration, exports and re-rating are the operator's alone.
    ("PUT", "/billing/carriers/{code}"): Case(lambda w: f"{V1}/billing/carriers/XX", 403,
                                              lambda w: {"name": "x", "node_id": "N1"}),
    ("GET", "/billing/carriers"): Case(lambda w: f"{V1}/billing/carriers", 403),
    ("PUT", "/billing/plans/{code}"): Case(lambda w: f"{V1}/billing/plans/XX", 403, lambda w: {
        "name": "x", "tariffs": [{"effective_from": "2026-01", "service_fee": "300"}]}),
    ("GET", "/billing/plans/{code}"): Case(lambda w: f"{V1}/billing/plans/XX", 403),
    ("PUT", "/billing/accounts/{enterprise_id}"): Case(
        lambda w: f"{V1}/billing/accounts/{w.a.id}", 403, lambda w: {"carrier": "XX",
                                                                     "plan": "XX"}),
    ("POST", "/billing/one-off-charges"): Case(lambda w: f"{V1}/billing/one-off-charges", 403,
                                               lambda w: {"enterprise_id": w.a.id}),
    ("POST", "/billing/exports"): Case(lambda w: f"{V1}/billing/exports", 403,
                                       lambda w: {"carrier": "XX", "period": "2026-10"}),
    ("GET", "/billing/exports"): Case(lambda w: f"{V1}/billing/exports", 403),
    ("GET", "/billing/exports/{job_id}"): Case(lambda w: f"{V1}/billing/exports/1", 403),
    ("POST", "/billing/exports/{job_id}/run"): Case(lambda w: f"{V1}/billing/exports/1/run",
                                                    403),
    ("POST", "/billing/rerate"): Case(lambda w: f"{V1}/billing/rerate", 403,
                                      lambda w: {"carrier": "XX", "period": "2026-10"}),
    # The SMS outbox (gateway.api.sms)
    ("GET", "/sms"): Case(lambda w: f"{V1}/sms", 200),
    ("GET", "/sms/{sms_id}"): Case(lambda w: f"{V1}/sms/{w.extra['sms']}", 404),
    # Over the air (gateway.api.ota)
    ("POST", "/cards/{iccid}/apps"): Case(lambda w: a_card(w, "/apps"), 404,
                                          lambda w: {"apps": ["door"]}),
    ("DELETE", "/cards/{iccid}/apps/{app}"): Case(lambda w: a_card(w, "/apps/door"), 404),
    ("PUT", "/cards/{iccid}/menu"): Case(lambda w: a_card(w, "/menu"), 404,
                                         lambda w: {"items": ["余额查询"]}),
    ("POST", "/cards/{iccid}/topups"): Case(lambda w: a_card(w, "/topups"), 404,
                                            lambda w: {"amount_fen": 100}),
    ("GET", "/topups/{topup_id}"): Case(lambda w: f"{V1}/topups/1", 404),
    ("GET", "/ota/jobs"): Case(lambda w: f"{V1}/ota/jobs", 200),
    ("GET", "/ota/jobs/{job_id}"): Case(lambda w: f"{V1}/ota/jobs/1", 404),
    ("GET", "/ota/alerts"): Case(lambda w: f"{V1}/ota/alerts", 200),
    ("GET", "/ota/reconciliation"): Case(lambda w: f"{V1}/ota/reconciliation", 200),
    # SMS bills, notices and opt-outs (gateway.api.bills): naming A is refused, A's rows are
    # not found.
    **{(m, p): Case(lambda w, p=p: f"{V1}{p}?enterprise_id={w.a.id}", 403, body)
       for m, p, body in [
           ("GET", "/bill-settings", None),
           ("PUT", "/bill-settings", lambda w: {"max_segments": 1}),
           ("GET", "/bill-templates", None),
           ("GET", "/bill-schedules", None)]},
    ("GET", "/bill-templates/{kind}"): Case(
        lambda w: f"{V1}/bill-templates/attendance?enterprise_id={w.a.id}", 403),
    ("PUT", "/bill-templates/{kind}"): Case(
        lambda w: f"{V1}/bill-templates/attendance?enterprise_id={w.a.id}", 403,
        lambda w: {"source": "x"}),
    ("DELETE", "/bill-templates/{kind}"): Case(
        lambda w: f"{V1}/bill-templates/attendance?enterprise_id={w.a.id}", 403),
    ("POST", "/bill-templates/{kind}/preview"): Case(
        lambda w: f"{V1}/bill-templates/attendance/preview", 404,
        lambda w: {"member_id": a_member(w)}),
    ("PUT", "/bill-schedules/{cadence}"): Case(
        lambda w: f"{V1}/bill-schedules/monthly?enterprise_id={w.a.id}", 403, lambda w: {}),
    ("DELETE", "/bill-schedules/{cadence}"): Case(
        lambda w: f"{V1}/bill-schedules/monthly?enterprise_id={w.a.id}", 403),
    ("POST", "/bill-runs"): Case(lambda w: f"{V1}/bill-runs", 403,
                                 lambda w: {"period": "2026-10", "enterprise_id": w.a.id}),
    ("GET", "/bill-runs"): Case(lambda w: f"{V1}/bill-runs", 200),
    ("GET", "/bill-runs/{run_id}"): Case(lambda w: f"{V1}/bill-runs/1", 404),
    ("POST", "/bill-runs/{run_id}/cancel"): Case(lambda w: f"{V1}/bill-runs/1/cancel", 404),
    ("GET", "/bill-runs/{run_id}/report"): Case(lambda w: f"{V1}/bill-runs/1/report", 404),
    ("GET", "/bill-runs/{run_id}/report.csv"): Case(lambda w: f"{V1}/bill-runs/1/report.csv",
                                                    404),
    ("POST", "/notices"): Case(
        lambda w: f"{V1}/notices?template=general&enterprise_id={w.a.id}", 403,
        data="工号,内容\nE1,x\n".encode()),
    ("GET", "/notices"): Case(lambda w: f"{V1}/notices", 200),
    ("GET", "/notices/{notice_id}"): Case(lambda w: f"{V1}/notices/1", 404),
    ("GET", "/notices/{notice_id}/items"): Case(lambda w: f"{V1}/notices/1/items", 404),
    ("POST", "/notices/{notice_id}/send"): Case(lambda w: f"{V1}/notices/1/send", 404,
                                                lambda w: {"mode": "valid"}),
    ("POST", "/notices/{notice_id}/discard"): Case(lambda w: f"{V1}/notices/1/discard", 404),
    ("GET", "/opt-outs"): Case(lambda w: f"{V1}/opt-outs", 200),
    ("POST", "/opt-outs"): Case(lambda w: f"{V1}/opt-outs", 404,
                                lambda w: {"member_id": a_member(w)}),
    ("DELETE", "/opt-outs/{member_id}"): Case(lambda w: f"{V1}/opt-outs/{a_member(w)}", 404),
}
# Listings that take an enterprise filter: naming A's id is refused outright.
FILTERED = {"/bill-runs", "/notices", "/opt-outs",
            "/admins", "/members", "/cards", "/terminals", "/records", "/audit", "/ota/jobs",
            "/ota/alerts", "/ota/reconciliation"}


def _key(spec_path: str) -> str:
    return path_of(spec_path).removeprefix(V1)


def sample_path(spec_path: str) -> str:
    """A concrete path for a template: 1 for numeric ids, XX for codes."""
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1).endswith("_id") else "XX",
                  path_of(spec_path))


ADMIN_ROUTES = [r for r in ROUTES if r.tenant_scoped and r.auth in (Auth.ADMIN, Auth.OPERATOR)]


def test_every_route_has_a_case() -> None:
    missing = [(r.method, _key(r.path)) for r in ADMIN_ROUTES
               if (r.method, _key(r.path)) not in CASES]
    assert not missing, f"add tenant-isolation cases for {missing}"
    # Routes outside the walk: public ones, terminal ones (tested below) and operator-only ones
    # (every one of which refuses admins, tested below).
    exempt = [r for r in ROUTES if not r.tenant_scoped]
    assert {r.auth for r in exempt} <= {Auth.PUBLIC, Auth.TERMINAL, Auth.OPERATOR}


@pytest.mark.parametrize("spec", ADMIN_ROUTES, ids=lambda r: f"{r.method} {_key(r.path)}")
async def test_admin_of_b_cannot_reach_a(world: World, spec: Any) -> None:
    case = CASES[(spec.method, _key(spec.path))]
    api, b = world.api, world.b
    await a_rows(world)
    before = await snapshot(world)
    reply = await api.call(spec.method, case.path(world), token=b.token,
                           body=case.body(world) if case.body else None, data=case.data,
                           key=idem())
    assert reply.status == case.expect, reply.body
    if case.expect == 200:
        assert not leaks(reply.body["items"], world), reply.body
    if case.expect == 200 and "enterprise_id" in (spec.query or {}).get("properties", {}):
        # A listing that takes an enterprise filter refuses A's id outright.
        named = await api.call("GET", f"{case.path(world)}?enterprise_id={world.a.id}",
                               token=b.token)
        assert named.status == 403, named.body
    assert await snapshot(world) == before


def leaks(items: list[dict[str, Any]], world: World) -> bool:
    a = world.a.id
    return any(item.get("enterprise_id") == a or
               (set(item) >= {"code", "sms_signature"} and item["id"] == a) for item in items)


async def snapshot(world: World) -> Any:
    """What A looks like to its own admin: nothing of it may change through B."""
    api, a = world.api, world.a
    return [
        await api.ok("GET", f"{V1}/enterprises/{a.id}", token=a.token),
        await api.ok("GET", a_card(world), token=a.token),
        await api.ok("GET", f"{V1}/members/{a_member(world)}", token=a.token),
        await api.ok("GET", f"{V1}/terminals/{a_terminal(world)}", token=a.token),
        await api.ok("GET", f"{V1}/admins/{a.admin['id']}", token=a.token),
        len((await api.ok("GET", f"{V1}/cards", token=a.token))["items"]),
    ]


async def test_operator_only_routes_refuse_admins(world: World) -> None:
    operator_only = [r for r in ROUTES if r.auth is Auth.OPERATOR]
    assert operator_only
    for spec in operator_only:
        reply = await world.api.call(spec.method, sample_path(spec.path), token=world.a.token,
                                     body={})
        assert reply.status == 403, (spec.path, reply.body)


async def test_terminals_of_b_see_only_b(world: World) -> None:
    api, a, b = world.api, world.a, world.b
    await api.ok("POST", a_card(world, "/loss"), token=a.token, body={}, key=idem())
    door = b.terminals["door"]
    assert (await door.blacklist(0))["entries"] == []
    reply = await door.upload([door.record("door", a.iccid)])
    assert reply["flagged"] == [{"seq": 1, "flags": ["foreign_card"]}]
    rows = await api.ok("GET", f"{V1}/records", token=b.token)
    assert rows["items"][0]["card_id"] is None  # A's card is not linked into B's records


async def test_admin_b_cannot_create_a_member_with_a_number_of_a_by_guessing(
    world: World,
) -> None:
    # One number, one card across enterprises: B learns only that the number is taken.
    reply = await world.api.call("POST", f"{V1}/members", token=world.b.token,
                                 body={"msisdn": world.a.members[0]["msisdn"], "name": "x"})
    assert reply.status == 409 and reply["error"] == "already_exists"
