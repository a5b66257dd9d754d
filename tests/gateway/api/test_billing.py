"""The billing routes through a real gateway: operator configuration, exports, re-rating,
and reconciliation, which an enterprise admin may read for its own enterprise only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.billing import conftest as billing
from tests.billing.conftest import Clock
from tests.gateway.helpers import Api, World

# The billing tests' fixtures: a gateway with a test clock, a world with billing configured.
bclient, bapi, bworld, clock = billing.bclient, billing.bapi, billing.bworld, billing.clock

B = "/api/v1/billing"


async def test_configuration_is_listed_and_validated(bapi: Api, bworld: World) -> None:
    carriers = await bapi.ok("GET", f"{B}/carriers")
    assert carriers["items"][0]["layouts"] == ["csv_v1", "fixed_v1", "ber"]
    bad: list[tuple[str, str, dict[str, Any], int, str]] = [
        (
            "PUT",
            f"{B}/carriers/X1",
            {"name": "x", "node_id": "N", "layouts": ["nope"]},
            422,
            "invalid_layout",
        ),
        (
            "PUT",
            f"{B}/carriers/X1",
            {"name": "x", "node_id": "N", "node_address": "gw.local"},
            422,
            "invalid_ber",
        ),
        (
            "PUT",
            f"{B}/plans/P1",
            {"name": "x", "tariffs": [{"effective_from": "2026-01", "service_fee": "600"}]},
            422,
            "invalid_tariff",
        ),
        (
            "PUT",
            f"{B}/plans/P1",
            {"name": "x", "tariffs": [{"effective_from": "2026-13", "service_fee": "400"}]},
            422,
            "validation_failed",
        ),
        (
            "PUT",
            f"{B}/accounts/{bworld.a.id}",
            {"carrier": "NOPE", "plan": "STD"},
            404,
            "not_found",
        ),
        ("GET", f"{B}/plans/NOPE", {}, 404, "not_found"),
    ]
    for method, path, body, status, code in bad:
        reply = await bapi.call(method, path, body=body or None)
        assert (reply.status, reply["error"]) == (status, code), (path, reply.body)


async def test_export_run_and_rerate_over_http(
    bapi: Api,
    bworld: World,
    clock: Clock,
    tmp_path: Path,
) -> None:
    clock.at(11, 1, 2)
    created = await bapi.ok(
        "POST", f"{B}/exports", 201, body={"carrier": "CMCC-GD", "period": "2026-10"}
    )
    assert created["records"] == 4 and len(created["written"]) == 3
    # Four member-months: A 500 x 27/31 x 2, B 400 x 2 (full month).
    assert created["amount_fen"] == round(2 * 500 * 27 / 31) + 800
    job = await bapi.ok("GET", f"{B}/exports/{created['job_id']}")
    assert job["state"] == "done" and [f["sequence"] for f in job["files"]] == [1, 1, 1]
    again = await bapi.ok("POST", f"{B}/exports/{created['job_id']}/run")
    assert again["written"] == [] and again["files"] == created["files"]
    listed = await bapi.ok("GET", f"{B}/exports", params={"carrier": "CMCC-GD"})
    assert [j["job_id"] for j in listed["items"]] == [created["job_id"]]
    assert (await bapi.ok("POST", f"{B}/rerate", body={"carrier": "CMCC-GD", "period": "2026-10"}))[
        "adjustments"
    ] == []
    refused = await bapi.call(
        "POST", f"{B}/exports", body={"carrier": "CMCC-GD", "period": "2026-11"}
    )
    assert (refused.status, refused["error"]) == (409, "export_failed")
    missing = await bapi.call("GET", f"{B}/exports/999")
    assert (missing.status, missing["error"]) == (404, "not_found")


async def test_reconciliation_is_scoped_to_the_admins_enterprise(
    bapi: Api,
    bworld: World,
    clock: Clock,
) -> None:
    clock.at(11, 1, 2)
    q = {"period": "2026-10"}
    everyone = await bapi.ok("GET", f"{B}/reconciliation", params={**q, "carrier": "CMCC-GD"})
    assert len(everyone["enterprises"]) == 2 and everyone["exported"] is False
    a = bworld.a
    own = await bapi.ok("GET", f"{B}/reconciliation", token=a.token, params=q)
    assert [e["enterprise_id"] for e in own["enterprises"]] == [a.enterprise["code"]]
    # Naming a carrier does not widen an admin's view.
    widened = await bapi.ok(
        "GET", f"{B}/reconciliation", token=a.token, params={**q, "carrier": "CMCC-GD"}
    )
    assert widened == own
    other = await bapi.call(
        "GET", f"{B}/reconciliation", token=a.token, params={**q, "enterprise_id": bworld.b.id}
    )
    assert other.status == 403
    vague = await bapi.call("GET", f"{B}/reconciliation", params=q)
    assert (vague.status, vague["error"]) == (422, "validation_failed")
    exports = await bapi.call("GET", f"{B}/exports", token=a.token)
    assert exports.status == 403


async def test_one_off_charges_in_instalments(bapi: Api, bworld: World) -> None:
    body = {
        "enterprise_id": bworld.a.id,
        "item": "DEVICE",
        "amount_fen": 100_000,
        "order": "PO-2026-17",
        "first_period": "2026-10",
        "instalments": 3,
    }
    first = await bapi.ok("POST", f"{B}/one-off-charges", 201, body=body)
    assert first["recorded"] == 3
    assert [(i["period"], i["amount_fen"], i["reference"]) for i in first["instalments"]] == [
        ("2026-10", 33_334, "1/3"),
        ("2026-11", 33_333, "2/3"),
        ("2026-12", 33_333, "3/3"),
    ]
    again = await bapi.ok("POST", f"{B}/one-off-charges", 201, body=body)
    assert again["recorded"] == 0  # the same order: nothing charged twice
    missing = await bapi.call("POST", f"{B}/one-off-charges", body={**body, "enterprise_id": 999})
    assert missing.status == 404
