"""Enterprises and admins: creation, reading, listing with paging and filters, updates, tokens."""

from __future__ import annotations

from tests.gateway.helpers import OPERATOR_TOKEN, Api, World, idem

V1 = "/api/v1"


async def test_create_read_list_update(api: Api) -> None:
    ent = await api.ok("POST", f"{V1}/enterprises", body={
        "code": "SCHOOL-1", "name": "第一中学", "sms_signature": "一中", "modules":
        ["attendance", "purchase"], "monthly_fee_fen": 500, "balance_expiry_days": 365})
    assert ent["master_key_ref"] == "KMC-SCHOOL-1-1" and "master_key" not in ent
    assert ent["modules"] == ["attendance", "purchase"] and ent["blacklist_version"] == 0
    got = await api.ok("GET", f"{V1}/enterprises/{ent['id']}")
    assert got == ent
    updated = await api.ok("PATCH", f"{V1}/enterprises/{ent['id']}", body={
        "status": "suspended", "balance_expiry_days": None, "modules": ["door"]})
    assert updated["status"] == "suspended" and updated["balance_expiry_days"] is None
    listed = await api.ok("GET", f"{V1}/enterprises", params={"status": "suspended"})
    assert [e["code"] for e in listed["items"]] == ["SCHOOL-1"]


async def test_paging(api: Api) -> None:
    for i in range(5):
        await api.ok("POST", f"{V1}/enterprises", body={
            "code": f"P{i}", "name": "x", "sms_signature": "xx"})
    first = await api.ok("GET", f"{V1}/enterprises", params={"limit": 2})
    second = await api.ok("GET", f"{V1}/enterprises", params={"limit": 2,
                                                             "after": first["next"]})
    third = await api.ok("GET", f"{V1}/enterprises", params={"limit": 2,
                                                            "after": second["next"]})
    codes = [e["code"] for page in (first, second, third) for e in page["items"]]
    assert codes == ["P0", "P1", "P2", "P3", "P4"] and third["next"] is None


async def test_duplicate_code_and_validation(api: Api) -> None:
    body = {"code": "DUP", "name": "x", "sms_signature": "xx"}
    await api.ok("POST", f"{V1}/enterprises", body=body)
    dup = await api.call("POST", f"{V1}/enterprises", body=body)
    assert dup.status == 409 and dup["field"] == "code"
    for field, value in (("code", "has space"), ("monthly_fee_fen", 100),
                         ("modules", ["teleport"]), ("sms_signature", "x"),
                         ("master_key", "abc"), ("extra", 1)):
        reply = await api.call("POST", f"{V1}/enterprises", body={**body, "code": "VV",
                                                                  field: value})
        assert reply.status == 422, field
        assert reply["field"].startswith(field), reply.body
    missing = await api.call("POST", f"{V1}/enterprises", body={"code": "M"})
    assert missing.status == 422 and missing["field"] == "name"


async def test_imported_key_master_root_derives_card_keys(api: Api) -> None:
    ent = await api.ok("POST", f"{V1}/enterprises", body={
        "code": "KMC", "name": "x", "sms_signature": "xx", "master_key": "00" * 16,
        "master_key_ref": "KMC-0042"})
    assert ent["master_key_ref"] == "KMC-0042"


async def test_admin_may_change_only_the_balance_expiry(world: World) -> None:
    api, a = world.api, world.a
    ok = await api.ok("PATCH", f"{V1}/enterprises/{a.id}", token=a.token,
                      body={"balance_expiry_days": 90})
    assert ok["balance_expiry_days"] == 90
    refused = await api.call("PATCH", f"{V1}/enterprises/{a.id}", token=a.token,
                             body={"monthly_fee_fen": 300})
    assert refused.status == 403 and refused["field"] == "monthly_fee_fen"
    mine = await api.ok("GET", f"{V1}/enterprises", token=a.token)
    assert [e["id"] for e in mine["items"]] == [a.id]


async def test_admins_and_tokens(world: World) -> None:
    api, a = world.api, world.a
    clerk = await api.ok("POST", f"{V1}/admins", token=a.token, body={
        "login": "clerk-a", "name": "Clerk", "role": "enterprise_admin"})
    assert clerk["enterprise_id"] == a.id and clerk["token"].startswith("oc_")
    assert (await api.call("GET", f"{V1}/cards", token=clerk["token"])).status == 200
    extra = await api.ok("POST", f"{V1}/admins/{clerk['id']}/tokens", token=a.token,
                         body={"label": "script", "ttl_days": 1})
    assert extra["expires_at"] is not None
    await api.ok("DELETE", f"{V1}/admins/{clerk['id']}/tokens/{extra['id']}", token=a.token)
    assert (await api.call("GET", f"{V1}/cards", token=extra["token"])).status == 401
    await api.ok("PATCH", f"{V1}/admins/{clerk['id']}", token=a.token, body={"disabled": True})
    disabled = await api.call("GET", f"{V1}/cards", token=clerk["token"])
    assert disabled.status == 401 and "disabled" in disabled["detail"]
    self_disable = await api.call("PATCH", f"{V1}/admins/{a.admin['id']}", token=a.token,
                                  body={"disabled": True})
    assert self_disable.status == 403
    operator = await api.call("POST", f"{V1}/admins", token=a.token, body={
        "login": "op2", "name": "x", "role": "operator"})
    assert operator.status == 403
    listing = await api.ok("GET", f"{V1}/admins", token=a.token)
    assert {x["login"] for x in listing["items"]} == {"admin-ent-a", "clerk-a"}


async def test_operator_bootstrap_token_and_new_operators(api: Api) -> None:
    op = await api.ok("POST", f"{V1}/admins", body={"login": "noc", "name": "NOC",
                                                    "role": "operator"}, key=idem())
    assert op["enterprise_id"] is None
    assert (await api.call("GET", f"{V1}/enterprises", token=op["token"])).status == 200
    assert (await api.call("GET", f"{V1}/enterprises", token=OPERATOR_TOKEN + "x")).status == 401
    bad = await api.call("POST", f"{V1}/admins", body={
        "login": "x-op", "name": "x", "role": "operator", "enterprise_id": 1})
    assert bad.status == 422 and bad["field"] == "enterprise_id"
    missing = await api.call("POST", f"{V1}/admins", body={
        "login": "x-adm", "name": "x", "role": "enterprise_admin"})
    assert missing.status == 422 and missing["field"] == "enterprise_id"
