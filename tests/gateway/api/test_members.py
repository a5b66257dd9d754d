"""Members: enrolment (single and CSV), one number one card, updates, service password."""

from __future__ import annotations

from datetime import timedelta

from gateway import keys
from gateway.ports import utcnow
from gateway.services import members
from gateway.services.base import SYSTEM
from tests.gateway.helpers import World, new_iccid, new_msisdn

V1 = "/api/v1"


async def test_enrol_normalises_the_number(world: World) -> None:
    api, a = world.api, world.a
    member = await api.ok("POST", f"{V1}/members", token=a.token, body={
        "msisdn": "139 0000 1111", "name": "李四", "employee_no": "E7"})
    assert member["msisdn"] == "8613900001111" and member["enterprise_id"] == a.id
    dup = await api.call("POST", f"{V1}/members", token=world.b.token, body={
        "msisdn": "+86 13900001111", "name": "x"})
    assert dup.status == 409 and dup["field"] == "msisdn"
    bad = await api.call("POST", f"{V1}/members", token=a.token, body={
        "msisdn": "12", "name": "x"})
    assert bad.status == 422 and bad["field"] == "msisdn"


async def test_csv_enrolment(world: World) -> None:
    api, a = world.api, world.a
    numbers = [new_msisdn() for _ in range(3)]
    csv = "\ufeffmsisdn,name,employee_no,department\n" + "".join(
        f"{n},员工{i},E{i},财务部\n" for i, n in enumerate(numbers))
    out = await api.ok("POST", f"{V1}/members/import", token=a.token, data=csv.encode(),
                       headers={"Content-Type": "text/csv"})
    assert out["created"] == 3 and [m["msisdn"] for m in out["members"]] == numbers
    assert out["members"][0]["department"] == "财务部"
    gbk = f"msisdn,name\n{new_msisdn()},王五\n".encode("gb18030")
    assert (await api.ok("POST", f"{V1}/members/import", token=a.token, data=gbk))["created"]


async def test_csv_errors_name_every_bad_line_and_enrol_nothing(world: World) -> None:
    api, a = world.api, world.a
    taken = a.members[0]["msisdn"]
    good = new_msisdn()
    csv = f"msisdn,name\n{good},ok\n12,short\n{good},again\n,nobody\n"
    reply = await api.call("POST", f"{V1}/members/import", token=a.token, data=csv.encode())
    assert reply.status == 422
    assert [(e["line"], e["field"]) for e in reply["errors"]] == [
        (3, "msisdn"), (4, "msisdn"), (5, "msisdn")]
    clash = await api.call("POST", f"{V1}/members/import", token=a.token,
                           data=f"msisdn,name\n{good},ok\n{taken},dup\n".encode())
    assert clash.status == 409 and clash["line"] == 3
    listing = await api.ok("GET", f"{V1}/members", token=a.token, params={"msisdn": good})
    assert listing["items"] == []
    header = await api.call("POST", f"{V1}/members/import", token=a.token,
                            data=b"phone,name\n1,2\n")
    assert header.status == 422 and header["field"] == "csv"
    empty = await api.call("POST", f"{V1}/members/import", token=a.token, data=b"msisdn,name\n")
    assert empty.status == 422


async def test_filters_and_updates(world: World) -> None:
    api, a = world.api, world.a
    m = a.members[2]
    updated = await api.ok("PATCH", f"{V1}/members/{m['id']}", token=a.token, body={
        "department": "Sales", "sms_opt_out": True})
    assert updated["department"] == "Sales" and updated["sms_opt_out"] is True
    found = await api.ok("GET", f"{V1}/members", token=a.token, params={"department": "Sales"})
    assert [x["id"] for x in found["items"]] == [m["id"]]
    left = await api.ok("PATCH", f"{V1}/members/{m['id']}", token=a.token,
                        body={"status": "left"})
    assert left["status"] == "left"
    # The number is free again for a new member.
    again = await api.ok("POST", f"{V1}/members", token=a.token,
                         body={"msisdn": m["msisdn"], "name": "returner"})
    assert again["msisdn"] == m["msisdn"]
    back = await api.call("PATCH", f"{V1}/members/{m['id']}", token=a.token,
                          body={"status": "active"})
    assert back.status == 409


async def test_a_member_with_a_card_cannot_leave(world: World) -> None:
    api, a = world.api, world.a
    reply = await api.call("PATCH", f"{V1}/members/{a.members[0]['id']}", token=a.token,
                           body={"status": "left"})
    assert reply.status == 409 and "deregister" in reply["detail"]


async def test_service_password_attempts_and_lock_out(world: World) -> None:
    api, a = world.api, world.a
    member = a.members[0]
    view = await api.ok("PUT", f"{V1}/members/{member['id']}/service-password",
                        token=a.token, body={"password": "246810"})
    assert view["service_password_set"] is True and "service_password_hash" not in view
    assert (await api.call("PUT", f"{V1}/members/{member['id']}/service-password",
                           token=a.token, body={"password": "12ab56"})).status == 422
    deps = api.client.app[keys.DEPS]
    check = members.verify_service_password
    assert await check(deps, SYSTEM, member["msisdn"], "246810")
    for _ in range(members.MAX_PASSWORD_ATTEMPTS):
        assert not await check(deps, SYSTEM, member["msisdn"], "000000")
    locked = await api.ok("GET", f"{V1}/members/{member['id']}", token=a.token)
    assert locked["service_password_locked_until"] is not None
    assert not await check(deps, SYSTEM, member["msisdn"], "246810")  # locked out
    assert not await check(deps, SYSTEM, new_msisdn(), "246810")  # unknown number
    # Unlocked once the lock-out has passed.
    later = deps.clock() + members.LOCK_OUT + timedelta(seconds=1)
    object.__setattr__(deps, "clock", lambda: later)
    try:
        assert await check(deps, SYSTEM, member["msisdn"], "246810")
    finally:
        object.__setattr__(deps, "clock", utcnow)


async def test_one_number_one_card(world: World) -> None:
    api, a = world.api, world.a
    reply = await api.call("POST", f"{V1}/cards", token=a.token, body={
        "iccid": new_iccid(), "member_id": a.members[0]["id"]})
    assert reply.status == 409 and "one card" in reply["detail"]
