"""空中发卡, the STK menu update, and the OTA jobs lifecycle changes make, end to end over real
sockets: loss report locks the card's sub-applications, unfreezing unlocks them, a replacement
card put in the same phone gets the carried sub-applications issued over the air.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from billing.models import CdrRow
from gateway.settings import Settings
from ota.keys import derive_card_keyset
from sim_emulator.factory import new_card_state, open_card
from sim_emulator.profile import Identity
from tests.gateway.helpers import idem, new_iccid
from tests.gateway.ota_stack import OtaStack, eventually, stack_of


@pytest.fixture
async def stack(aiohttp_client: Any, sqlite_settings: Settings) -> AsyncIterator[OtaStack]:
    async for built in stack_of(aiohttp_client, sqlite_settings, phones=1):
        yield built


async def test_admin_issues_apps_over_the_air(stack: OtaStack) -> None:
    phone = stack.phones[0]
    key = idem()
    job = await stack.ok("POST", f"/cards/{phone.iccid}/apps", 202, key=key, body={
        "apps": ["door", "purse"], "purse_limit_fen": 30_000, "valid_until": "2030-12-31"})
    assert (job["kind"], job["state"]) == ("issue", "pending")
    assert all("credential" not in a for a in job["params"]["apps"])  # never shown
    replay = await stack.ok("POST", f"/cards/{phone.iccid}/apps", 202, key=key, body={
        "apps": ["door", "purse"], "purse_limit_fen": 30_000, "valid_until": "2030-12-31"})
    assert replay["id"] == job["id"]
    done = await stack.job(job["id"])
    assert done["state"] == "confirmed", done
    assert done["result"] == {"apps": {"door": "personalised", "purse": "personalised"}}
    assert phone.apps() == {"door": "personalised", "purse": "personalised"}
    sub = phone.onecard.state.sub_apps
    assert {s.member_number for s in sub.values()} == {"1000"}  # the employee number's digits
    assert {s.valid_until for s in sub.values()} == {"20301231"}
    assert phone.onecard.state.purse.limit == 30_000
    card = await stack.card(phone)
    assert {a["app"]: a["state"] for a in card["apps"]} == {"door": "active", "purse": "active"}
    await eventually(lambda: any("开通门禁、消费应用" in t for t in phone.texts),
                     what="the issuance SMS")
    async with stack.deps.uow(readonly=True) as uow:
        cdrs = sorted(await uow.session.scalars(select(CdrRow.detail).where(
            CdrRow.iccid == phone.iccid, CdrRow.detail == "INSTALL")))
    assert cdrs == ["INSTALL", "INSTALL"]


async def test_issuance_is_refused_when_it_cannot_be_done(stack: OtaStack) -> None:
    phone = stack.phones[0]
    await stack.issue(phone, ["door"])
    again = await stack.call("POST", f"/cards/{phone.iccid}/apps", body={"apps": ["door"]},
                             key=idem())
    assert again.status == 409 and again["app"] == "door"
    bad = await stack.call("POST", f"/cards/{phone.iccid}/apps", body={"apps": ["sauna"]},
                           key=idem())
    assert bad.status == 422
    await stack.ok("POST", f"/cards/{phone.iccid}/loss", body={}, key=idem())
    lost = await stack.call("POST", f"/cards/{phone.iccid}/apps", body={"apps": ["purse"]},
                            key=idem())
    assert lost.status == 409 and lost["state"] == "lost"


async def test_an_app_already_on_the_card_is_personalised_anyway(stack: OtaStack) -> None:
    phone = stack.phones[0]
    await stack.issue(phone, ["door"])
    await stack.ok("DELETE", f"/cards/{phone.iccid}/apps/door", 202, key=idem())
    await eventually(lambda: "door" not in phone.apps(), what="door deleted")
    await eventually(lambda: _app_state(stack, phone.iccid, "door", "removed"),
                     what="door removed in the gateway")
    done = await stack.issue(phone, ["door"])  # the app is installed again
    assert done["attempts"] == 1 and phone.apps() == {"door": "personalised"}


async def _app_state(stack: OtaStack, iccid: str, app: str, state: str) -> bool:
    card = await stack.ok("GET", f"/cards/{iccid}")
    return any(a["app"] == app and a["state"] == state for a in card["apps"])


async def test_menu_update_over_the_air(stack: OtaStack) -> None:
    phone = stack.phones[0]
    job = await stack.ok("PUT", f"/cards/{phone.iccid}/menu", 202, key=idem(),
                         body={"items": ["余额查询", "应用删除", "账单查询", "客服热线"]})
    assert (await stack.job(job["id"]))["state"] == "confirmed"
    await eventually(lambda: phone.handset.menu_items[-1:] == ["客服热线"],
                     what="the handset's new menu")


async def test_loss_locks_and_unfreeze_unlocks_the_card(stack: OtaStack) -> None:
    phone = stack.phones[0]
    await stack.issue(phone, ["door", "attendance", "purse"])
    await stack.ok("POST", f"/cards/{phone.iccid}/loss", body={}, key=idem())
    (lock,) = await stack.jobs(kind="lock")
    assert (await stack.job(lock.id))["state"] == "confirmed"
    assert set(phone.apps().values()) == {"locked"}
    await stack.ok("POST", f"/cards/{phone.iccid}/unfreeze", body={}, key=idem())
    (unlock,) = await stack.jobs(kind="unlock")
    assert (await stack.job(unlock.id))["state"] == "confirmed"
    assert set(phone.apps().values()) == {"personalised"}
    await eventually(lambda: any("解除挂失" in t for t in phone.texts), what="unfreeze SMS")


async def test_replacement_card_gets_its_apps_over_the_air(stack: OtaStack) -> None:
    phone = stack.phones[0]
    await stack.issue(phone, ["door", "purse"])
    new_iccid_ = new_iccid()
    keyset = derive_card_keyset(stack.master, new_iccid_)
    await stack.ok("POST", f"/cards/{phone.iccid}/replace", key=idem(), body={
        "new_iccid": new_iccid_, "keys": {"kic": keyset.kic.hex(), "kid": keyset.kid.hex()}})
    state, _ = new_card_state(Identity(new_iccid_, "460009999999999", phone.msisdn),
                              ota_master=stack.master)
    await phone.handset.insert(open_card(state))  # the member puts the new card in the phone
    (issue,) = await stack.jobs(kind="issue", iccid=new_iccid_)
    assert issue.origin == "replacement"
    assert (await stack.job(issue.id))["state"] == "confirmed"
    assert phone.apps() == {"door": "personalised", "purse": "personalised"}
    card = await stack.ok("GET", f"/cards/{new_iccid_}")
    assert {a["app"]: a["state"] for a in card["apps"]} == {"door": "active", "purse": "active"}


async def test_a_lifecycle_change_stands_without_a_job_it_cannot_make(stack: OtaStack) -> None:
    member = await stack.ok("POST", "/members", 201, body={"msisdn": "8613912345678",
                                                           "name": "数据有误"})
    old = new_iccid()
    await stack.ok("POST", "/cards", 201, body={
        "iccid": old, "member_id": member["id"], "apps": ["door"],
        "app_data": {"door": {"member_number": "not digits"}}})
    replaced = await stack.call("POST", f"/cards/{old}/replace", key=idem(),
                                body={"new_iccid": new_iccid()})
    assert replaced.status == 200, replaced.body
    assert await stack.jobs(kind="issue", origin="replacement") == []
