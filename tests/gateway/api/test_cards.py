"""Cards: registration with derived or given keys, reading, listing, notes, statement."""

from __future__ import annotations

from gateway import cardkeys, keys
from tests.gateway.helpers import World, new_iccid

V1 = "/api/v1"


async def test_register_with_derived_keys_sealed_at_rest(world: World) -> None:
    api, a = world.api, world.a
    member = a.members[2]
    card = await api.ok("POST", f"{V1}/cards", token=a.token, body={
        "iccid": new_iccid() + "F", "member_id": member["id"], "apps": ["attendance"],
        "app_data": {"attendance": {"shift": "day"}}, "note": "desk 4"})
    assert card["keys"] == {"source": "derived", "version": 1}
    assert card["apps"] == [{"app": "attendance", "state": "active", "data": {"shift": "day"}}]
    assert not card["iccid"].endswith("F") and card["balance_fen"] == 0
    deps = api.client.app[keys.DEPS]
    async with deps.uow(readonly=True) as uow:
        row = await uow.cards.by_iccid(card["iccid"])
        assert row is not None
        keyset = cardkeys.unseal(deps.vault, row.iccid, row.keys_sealed)
        assert keyset.kic.hex() not in row.keys_sealed.hex()


async def test_register_with_given_keys(world: World) -> None:
    api, a = world.api, world.a
    card = await api.ok("POST", f"{V1}/cards", token=a.token, body={
        "iccid": new_iccid(), "member_id": a.members[2]["id"],
        "keys": {"kic": "01" * 16, "kid": "02" * 16, "kic_algorithm": "TDES_2KEY_CBC",
                 "kid_algorithm": "TDES_2KEY_CBC_MAC", "key_index": 2}})
    assert card["keys"]["source"] == "provided"
    bad = await api.call("POST", f"{V1}/cards", token=a.token, body={
        "iccid": new_iccid(), "member_id": a.members[2]["id"],
        "keys": {"kic": "01" * 8, "kid": "02" * 16, "kic_algorithm": "TDES_2KEY_CBC"}})
    assert bad.status == 422 and bad["field"] == "keys"


async def test_apps_need_the_module(world: World) -> None:
    api = world.api
    ent = await api.ok("POST", f"{V1}/enterprises", body={
        "code": "ATT-ONLY", "name": "x", "sms_signature": "xx", "modules": ["attendance"]})
    member = await api.ok("POST", f"{V1}/members", body={
        "msisdn": "8613700000001", "name": "x", "enterprise_id": ent["id"]})
    reply = await api.call("POST", f"{V1}/cards", body={
        "iccid": new_iccid(), "member_id": member["id"], "apps": ["purse"]})
    assert reply.status == 422 and reply["field"] == "apps"


async def test_read_list_filter_update(world: World) -> None:
    api, a = world.api, world.a
    got = await api.ok("GET", f"{V1}/cards/{a.iccid}", token=a.token)
    assert got["iccid"] == a.iccid and len(got["apps"]) == 3
    noted = await api.ok("PATCH", f"{V1}/cards/{a.iccid}", token=a.token, body={"note": "VIP"})
    assert noted["note"] == "VIP"
    await api.ok("POST", f"{V1}/cards/{a.cards[1]['iccid']}/loss", token=a.token, body={},
                 key="k-1")
    lost = await api.ok("GET", f"{V1}/cards", token=a.token, params={"state": "lost"})
    assert [c["iccid"] for c in lost["items"]] == [a.cards[1]["iccid"]]
    mine = await api.ok("GET", f"{V1}/cards", token=a.token,
                        params={"member_id": a.members[0]["id"]})
    assert [c["iccid"] for c in mine["items"]] == [a.iccid]
    assert (await api.call("GET", f"{V1}/cards/12345", token=a.token)).status == 422
    assert (await api.call("GET", f"{V1}/cards/{new_iccid()}", token=a.token)).status == 404


async def test_statement_follows_the_ledger(world: World) -> None:
    api, a = world.api, world.a
    await world.topup(a, a.iccid, 2_000)
    pos = a.terminals["pos"]
    await pos.upload([pos.record("purchase", a.iccid, amount_fen=150)])
    statement = await api.ok("GET", f"{V1}/cards/{a.iccid}/statement", token=a.token)
    assert [(x["kind"], x["amount_fen"]) for x in statement["items"]] == [
        ("topup", 2_000), ("purchase", -150)]
    assert statement["balance_fen"] == 1_850


async def test_ota_counter_is_strictly_increasing(world: World) -> None:
    from gateway.services.cards import reserve_ota_counter

    deps = world.api.client.app[keys.DEPS]
    card_id = int(world.a.cards[0]["id"])
    seen = []
    for _ in range(3):
        async with deps.uow() as uow:
            seen.append(await reserve_ota_counter(uow, card_id))
            await uow.commit()
    assert seen == [1, 2, 3]
