"""The signed terminal API: authentication, batches, duplicates and gaps, flags, undo."""

from __future__ import annotations

import json
import time

from tests.gateway.helpers import Api, TerminalClient, World, idem

V1 = "/api/v1"


async def records_of(api: Api, token: str, **params: object) -> list[dict[str, object]]:
    body = await api.ok("GET", f"{V1}/records", token=token, params=params)
    return list(body["items"])


async def test_a_batch_is_stored_and_posted(world: World) -> None:
    a = world.a
    await world.topup(a, a.iccid, 1_000)
    pos = a.terminals["pos"]
    reply = await pos.upload([pos.record("purchase", a.iccid, amount_fen=250,
                                         card_balance_fen=750) for _ in range(3)])
    assert reply.status == 200, reply.body
    assert reply["accepted"] == 3 and reply["duplicates"] == [] and reply["gaps"] == []
    assert reply["flagged"] == [] and reply["high_seq"] == 3
    assert await world.balance(a.iccid) == 250
    rows = await records_of(world.api, a.token, type="purchase")
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert all(r["posting_id"] for r in rows)


async def test_door_and_attendance_records(world: World) -> None:
    a = world.a
    door, clock = a.terminals["door"], a.terminals["attendance"]
    assert (await door.upload([door.record("door", a.iccid, result="granted",
                                           direction="in")])).status == 200
    assert (await clock.upload([clock.record("attendance", a.iccid)])).status == 200
    rows = await records_of(world.api, a.token)
    kinds = {r["type"]: r for r in rows}
    assert kinds["door"]["extra"] == {"result": "granted", "direction": "in"}
    assert "attendance" in kinds and "topup" not in kinds


async def test_uploads_are_idempotent_and_report_duplicates(world: World) -> None:
    a = world.a
    door = a.terminals["door"]
    batch = [door.record("door", a.iccid) for _ in range(5)]
    first = await door.upload(batch)
    again = await door.upload(batch)
    assert first["accepted"] == 5
    assert again["accepted"] == 0 and again["duplicates"] == [1, 2, 3, 4, 5]
    assert again["conflicts"] == []
    changed = dict(batch[0], iccid=a.cards[1]["iccid"])
    conflict = await door.upload([changed])
    assert conflict["duplicates"] == [1] and conflict["conflicts"][0]["seq"] == 1
    assert len(await records_of(world.api, a.token)) == 5


async def test_gaps_are_reported_until_filled(world: World) -> None:
    a = world.a
    door = a.terminals["door"]
    recs = [door.record("door", a.iccid) for _ in range(10)]
    first = await door.upload([recs[0], recs[1], recs[5], recs[9]])
    assert first["gaps"] == [[3, 5], [7, 9]] and first["high_seq"] == 10
    second = await door.upload([recs[3], recs[7]])
    assert second["gaps"] == [[3, 3], [5, 5], [7, 7], [9, 9]]
    last = await door.upload([recs[2], recs[4], recs[6], recs[8]])
    assert last["gaps"] == []
    view = await world.api.ok("GET", f"{V1}/terminals/{a.terminal_rows['door']['id']}",
                              token=a.token)
    assert view["gaps"] == [] and view["high_seq"] == 10


async def test_duplicate_sequence_inside_one_batch(world: World) -> None:
    a = world.a
    door = a.terminals["door"]
    rec = door.record("door", a.iccid)
    reply = await door.upload([rec, rec])
    assert reply["accepted"] == 1 and reply["duplicates"] == [rec["seq"]]


async def test_blacklisted_unknown_and_foreign_cards_are_flagged(world: World) -> None:
    api, a, b = world.api, world.a, world.b
    await world.topup(a, a.iccid, 1_000)
    await api.ok("POST", f"{V1}/cards/{a.iccid}/loss", token=a.token, body={}, key=idem())
    pos = a.terminals["pos"]
    reply = await pos.upload([
        pos.record("purchase", a.iccid, amount_fen=100),
        pos.record("purchase", "89860099999999999999", amount_fen=100),
        pos.record("purchase", b.iccid, amount_fen=100),
        pos.record("purchase", a.cards[1]["iccid"], amount_fen=100),
    ])
    assert reply["accepted"] == 4
    assert reply["flagged"] == [{"seq": 1, "flags": ["blacklisted"]},
                                {"seq": 2, "flags": ["unknown_card"]},
                                {"seq": 3, "flags": ["foreign_card"]},
                                {"seq": 4, "flags": ["insufficient_funds"]}]
    assert await world.balance(a.iccid) == 1_000  # nothing posted for a blocked card
    flagged = await records_of(api, a.token, flagged="true")
    assert [r["seq"] for r in flagged if r["type"] == "purchase"] == [1, 2, 3, 4]


async def test_record_kind_must_match_the_terminal(world: World) -> None:
    a = world.a
    door = a.terminals["door"]
    reply = await door.upload([door.record("purchase", a.iccid, amount_fen=1)])
    assert reply["flagged"] == [{"seq": 1, "flags": ["wrong_terminal_kind"]}]


async def test_undo_reverses_the_last_purchase_once(world: World) -> None:
    a = world.a
    await world.topup(a, a.iccid, 1_000)
    pos = a.terminals["pos"]
    await pos.upload([pos.record("purchase", a.iccid, amount_fen=300)])
    assert await world.balance(a.iccid) == 700
    pos.seq += 1
    undo = {"seq": pos.seq, "iccid": a.iccid, "at": 1764057600, "undo_seq": 1}
    reply = await pos.post(f"{V1}/terminal/undo", undo)
    assert reply.status == 200 and reply["flagged"] == []
    assert await world.balance(a.iccid) == 1_000
    pos.seq += 1
    again = await pos.post(f"{V1}/terminal/undo", dict(undo, seq=pos.seq))
    assert again["flagged"] == [{"seq": pos.seq, "flags": ["already_undone"]}]
    assert await world.balance(a.iccid) == 1_000


async def test_undo_only_of_the_last_purchase_of_this_terminal(world: World) -> None:
    a = world.a
    await world.topup(a, a.iccid, 1_000)
    pos = a.terminals["pos"]
    reply = await pos.upload([
        pos.record("purchase", a.iccid, amount_fen=100),
        pos.record("purchase", a.iccid, amount_fen=200),
        pos.record("undo", a.iccid, undo_seq=1),
        pos.record("undo", a.cards[1]["iccid"], undo_seq=2),
        pos.record("undo", a.iccid, undo_seq=99),
        pos.record("undo", a.iccid, undo_seq=2),
    ])
    assert reply["flagged"] == [{"seq": 3, "flags": ["undo_not_last"]},
                                {"seq": 4, "flags": ["card_mismatch"]},
                                {"seq": 5, "flags": ["undo_target_missing"]}]
    assert await world.balance(a.iccid) == 900


async def test_validation_names_the_field(world: World) -> None:
    a = world.a
    pos = a.terminals["pos"]
    reply = await pos.upload([pos.record("purchase", a.iccid)])
    assert reply.status == 422 and reply["field"] == "records[0].amount_fen"
    reply = await pos.upload([pos.record("door", "1234", amount_fen=1)])
    assert reply.status == 422 and reply["field"] == "records[0].iccid"
    reply = await pos.upload([{"seq": 0, "type": "door", "iccid": a.iccid, "at": 0}])
    assert reply.status == 422 and reply["field"] == "records[0].seq"
    reply = await pos.upload([dict(pos.record("door", a.iccid), at="2026-11-25T08:00:00")])
    assert reply.status == 422 and reply["field"] == "records[0].at"
    assert (await pos.upload([])).status == 422


async def test_signature_timestamp_and_replay_are_checked(world: World) -> None:
    a = world.a
    api = world.api
    door = a.terminals["door"]
    path = f"{V1}/terminal/records"
    raw = json.dumps({"records": [door.record("door", a.iccid)]}).encode()
    good = {**door.headers("POST", path, raw), "Content-Type": "application/json"}
    assert (await api.call("POST", path, token=None, data=raw, headers=good)).status == 200
    replay = await api.call("POST", path, token=None, data=raw, headers=good)
    assert replay.status == 401 and "replayed" in replay["detail"]
    stale = {**door.headers("POST", path, raw, int(time.time()) - 3600)}
    reply = await api.call("POST", path, token=None, data=raw, headers=stale)
    assert reply.status == 401 and "X-Timestamp" in reply["detail"]
    forged = TerminalClient(api, door.code, "00" * 32)
    assert (await forged.upload([door.record("door", a.iccid)])).status == 401
    tampered = dict(door.headers("POST", path, raw))
    reply = await api.call("POST", path, token=None, data=raw + b" ", headers=tampered)
    assert reply.status == 401
    missing = await api.call("POST", path, token=None, data=raw)
    assert missing.status == 401 and "X-Signature" in missing["detail"]
    # An admin bearer token is not a terminal credential.
    assert (await api.call("POST", path, token=a.token, data=raw)).status == 401


async def test_a_disabled_terminal_is_refused(world: World) -> None:
    a = world.a
    await world.api.ok("PATCH", f"{V1}/terminals/{a.terminal_rows['door']['id']}",
                       token=a.token, body={"status": "disabled"})
    door = a.terminals["door"]
    assert (await door.upload([door.record("door", a.iccid)])).status == 401


async def test_blacklist_delta_pages_and_records_the_version_pulled(world: World) -> None:
    api, a = world.api, world.a
    for _ in range(3):
        await api.ok("POST", f"{V1}/cards/{a.iccid}/loss", token=a.token, body={}, key=idem())
        await api.ok("POST", f"{V1}/cards/{a.iccid}/unfreeze", token=a.token, body={},
                     key=idem())
    door = a.terminals["door"]
    path = f"{V1}/terminal/blacklist?since=2&limit=3"
    page = await api.call("GET", path, token=None, headers=door.headers("GET", path, b""))
    assert page["more"] is True and page["version"] == 5
    assert [e["version"] for e in page["entries"]] == [3, 4, 5]
    rest = await door.blacklist(5)
    assert rest["more"] is False and rest["version"] == 6
    assert [e["version"] for e in rest["entries"]] == [6]
    view = await api.ok("GET", f"{V1}/terminals/{a.terminal_rows['door']['id']}",
                        token=a.token)
    assert view["blacklist_version"] == 6
    # A terminal ahead of the server (restored from elsewhere) gets the full list.
    assert (await door.blacklist(1000))["full"] is True


async def test_upload_reports_the_blacklist_version(world: World) -> None:
    api, a = world.api, world.a
    await api.ok("POST", f"{V1}/cards/{a.iccid}/loss", token=a.token, body={}, key=idem())
    door = a.terminals["door"]
    reply = await door.upload([door.record("door", a.iccid)])
    assert reply["blacklist_version"] == 1
    assert reply["flagged"] == [{"seq": 1, "flags": ["blacklisted"]}]
