"""Terminal administration: registration, modules, listing, updates, key rotation."""

from __future__ import annotations

from tests.gateway.helpers import TerminalClient, World

V1 = "/api/v1"


async def test_register_list_update_rotate(world: World) -> None:
    api, a = world.api, world.a
    row = await api.ok("POST", f"{V1}/terminals", token=a.token, body={
        "code": "GATE-N", "kind": "door", "name": "north gate", "location": "北门"})
    assert len(row["secret"]) == 64 and row["status"] == "active"
    listed = await api.ok("GET", f"{V1}/terminals", token=a.token, params={"kind": "door"})
    assert {t["code"] for t in listed["items"]} == {"ENT-A-door", "GATE-N"}
    assert all("secret" not in t for t in listed["items"])
    updated = await api.ok("PATCH", f"{V1}/terminals/{row['id']}", token=a.token,
                           body={"location": None, "name": "N"})
    assert updated["location"] is None and updated["name"] == "N"
    old = TerminalClient(api, row["code"], row["secret"])
    rotated = await api.ok("POST", f"{V1}/terminals/{row['id']}/secret", token=a.token)
    assert rotated["secret"] != row["secret"]
    assert (await old.upload([old.record("door", a.iccid)])).status == 401
    new = TerminalClient(api, row["code"], rotated["secret"])
    assert (await new.upload([new.record("door", a.iccid)])).status == 200


async def test_terminal_kind_needs_the_module(world: World) -> None:
    api = world.api
    ent = await api.ok("POST", f"{V1}/enterprises", body={
        "code": "NOPOS", "name": "x", "sms_signature": "xx", "modules": ["attendance"]})
    reply = await api.call("POST", f"{V1}/terminals", body={
        "code": "POS-1", "kind": "pos", "name": "x", "enterprise_id": ent["id"]})
    assert reply.status == 422 and reply["field"] == "kind"
    dup = await api.call("POST", f"{V1}/terminals", token=world.a.token, body={
        "code": "ENT-A-door", "kind": "door", "name": "x"})
    assert dup.status == 409 and dup["field"] == "code"
