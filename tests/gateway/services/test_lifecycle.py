"""Every lifecycle path (seed 7.3) through the API, with its blacklist and ledger effects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.helpers import Api, Tenant, World, idem, new_iccid

V1 = "/api/v1"


async def lifecycle(api: Api, t: Tenant, iccid: str, op: str, body: dict[str, Any] | None = None,
                    key: str | None = None, status: int = 200) -> Any:
    return await api.ok("POST", f"{V1}/cards/{iccid}/{op}", status, token=t.token,
                        body=body or {}, key=key or idem())


async def admin_blacklist(api: Api, t: Tenant, since: int = 0) -> Any:
    return await api.ok("GET", f"{V1}/blacklist", token=t.token, params={"since": since})


async def test_loss_report_blocks_the_card_and_blacklists_it(world: World) -> None:
    api, a = world.api, world.a
    card = await lifecycle(api, a, a.iccid, "loss", {"reason": "phone stolen"})
    assert card["state"] == "lost" and card["lost_at"] is not None
    assert card["blacklist_version"] == 1
    pulled = await a.terminals["door"].blacklist(0)
    assert pulled.status == 200
    assert pulled["full"] is True and pulled["version"] == 1
    assert [(e["iccid"], e["action"], e["reason"]) for e in pulled["entries"]] == [
        (a.iccid, "add", "lost")]
    events = await api.ok("GET", f"{V1}/audit", token=a.token,
                          params={"action": "card.report_loss"})
    assert events["items"][0]["detail"]["reason"] == "phone stolen"


async def test_unfreeze_takes_the_card_off_the_blacklist(world: World) -> None:
    api, a = world.api, world.a
    await lifecycle(api, a, a.iccid, "loss")
    card = await lifecycle(api, a, a.iccid, "unfreeze")
    assert card["state"] == "active" and card["lost_at"] is None
    door = a.terminals["door"]
    delta = await door.blacklist(1)
    assert delta["full"] is False and delta["version"] == 2
    assert [(e["action"], e["reason"]) for e in delta["entries"]] == [("remove", "unfrozen")]
    assert (await door.blacklist(0))["entries"] == []  # the current list is empty again


async def test_replacement_moves_balance_and_apps_and_blacklists_the_old_card(
    world: World,
) -> None:
    api, a = world.api, world.a
    assert (await world.topup(a, a.iccid, 12_345)).status == 200
    await lifecycle(api, a, a.iccid, "loss")
    new = new_iccid()
    out = await lifecycle(api, a, a.iccid, "replace", {"new_iccid": new, "reason": "lost"})
    assert out["moved_fen"] == 12_345
    assert out["old"]["state"] == "replaced" and out["old"]["balance_fen"] == 0
    assert out["old"]["replaced_by_id"] == out["new"]["id"]
    assert out["new"]["state"] == "active" and out["new"]["balance_fen"] == 12_345
    assert out["new"]["member_id"] == out["old"]["member_id"]
    assert {x["app"]: x["state"] for x in out["new"]["apps"]} == {
        "door": "pending", "attendance": "pending", "purse": "pending"}
    assert {x["state"] for x in out["old"]["apps"]} == {"removed"}
    snapshot = await a.terminals["pos"].blacklist(0)
    assert [(e["iccid"], e["reason"]) for e in snapshot["entries"]] == [(a.iccid, "replaced")]
    statement = await api.ok("GET", f"{V1}/cards/{new}/statement", token=a.token)
    assert [(x["kind"], x["amount_fen"]) for x in statement["items"]] == [("transfer", 12_345)]


async def test_replacement_of_an_active_card_is_allowed(world: World) -> None:
    api, a = world.api, world.a
    out = await lifecycle(api, a, a.iccid, "replace", {"new_iccid": new_iccid()})
    assert out["moved_fen"] == 0 and out["new"]["keys"]["source"] == "derived"


async def test_deregistration_settles_the_balance_first(world: World) -> None:
    api, a = world.api, world.a
    await world.topup(a, a.iccid, 5_000)
    card = await lifecycle(api, a, a.iccid, "deregister", {"reason": "left the company"})
    assert card["state"] == "deregistered" and card["refund_fen"] == 5_000
    assert card["balance_fen"] == 0 and card["personalised"] is False
    assert {x["state"] for x in card["apps"]} == {"removed"}
    statement = await api.ok("GET", f"{V1}/cards/{a.iccid}/statement", token=a.token)
    assert [(x["kind"], x["amount_fen"]) for x in statement["items"]] == [
        ("topup", 5_000), ("refund", -5_000)]
    listing = await admin_blacklist(api, a)
    assert [(e["iccid"], e["reason"]) for e in listing["entries"]] == [(a.iccid, "deregistered")]


async def test_member_can_get_a_new_card_after_deregistration(world: World) -> None:
    api, a = world.api, world.a
    await lifecycle(api, a, a.iccid, "deregister")
    new = await api.ok("POST", f"{V1}/cards", token=a.token, body={
        "iccid": new_iccid(), "member_id": a.cards[0]["member_id"]})
    assert new["state"] == "active"


@pytest.mark.parametrize(("first", "then"), [
    ("unfreeze", None),                      # not lost
    ("loss", "loss"),                        # already lost
    ("deregister", "loss"),                  # closed
    ("deregister", "unfreeze"),
    ("deregister", "deregister"),
    ("deregister", "replace"),
])
async def test_refused_transitions_say_why(world: World, first: str, then: str | None) -> None:
    api, a = world.api, world.a
    if then is None:
        reply = await api.call("POST", f"{V1}/cards/{a.iccid}/{first}", token=a.token, body={},
                               key=idem())
    else:
        await lifecycle(api, a, a.iccid, first)
        body = {"new_iccid": new_iccid()} if then == "replace" else {}
        reply = await api.call("POST", f"{V1}/cards/{a.iccid}/{then}", token=a.token,
                               body=body, key=idem())
    assert reply.status == 409
    assert reply["error"] == "invalid_state" and "state" in reply.body


async def test_each_change_bumps_the_blacklist_version_once(world: World) -> None:
    api, a = world.api, world.a
    second = a.cards[1]["iccid"]
    await lifecycle(api, a, a.iccid, "loss")
    await lifecycle(api, a, second, "loss")
    await lifecycle(api, a, a.iccid, "unfreeze")
    await lifecycle(api, a, second, "replace", {"new_iccid": new_iccid()})
    ent = await api.ok("GET", f"{V1}/enterprises/{a.id}", token=a.token)
    assert ent["blacklist_version"] == 4
    delta = await a.terminals["door"].blacklist(0)
    assert [(e["iccid"], e["reason"]) for e in delta["entries"]] == [(second, "replaced")]
    # Enterprise B's terminals never see A's changes.
    assert (await world.b.terminals["door"].blacklist(0))["version"] == 0


async def test_lifecycle_needs_an_idempotency_key(world: World) -> None:
    reply = await world.api.call("POST", f"{V1}/cards/{world.a.iccid}/loss",
                                 token=world.a.token, body={})
    assert reply.status == 400 and reply["error"] == "idempotency_key_required"


async def test_replacement_refuses_a_registered_iccid(world: World) -> None:
    api, a = world.api, world.a
    reply = await api.call("POST", f"{V1}/cards/{a.iccid}/replace", token=a.token,
                           body={"new_iccid": a.cards[1]["iccid"]}, key=idem())
    assert reply.status == 409 and reply["error"] == "already_exists"
    assert reply["field"] == "iccid"
    card = await api.ok("GET", f"{V1}/cards/{a.iccid}", token=a.token)
    assert card["state"] == "active"  # nothing half-done
