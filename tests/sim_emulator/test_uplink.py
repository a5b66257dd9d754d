"""Terminal simulators uploading to the real gateway terminal API (aiohttp server, SQLite)."""

from __future__ import annotations

import asyncio
import datetime
import json
import pathlib
import secrets

from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.services.terminals import sign as gateway_sign
from ota.onecard_apdu import Credit, SubApp
from sim_emulator.desk import PersonalisationPlan, SubAppPlan, personalise
from sim_emulator.factory import new_card_state, open_card
from sim_emulator.profile import Identity
from sim_emulator.sam import Sam
from sim_emulator.terminals import AccessTerminal, PosTerminal, terminal_id_of
from sim_emulator.transport import InMemoryTransport
from sim_emulator.uplink import GatewayUplink, RecordFile, sign
from tests.gateway.conftest import api, client, sqlite_settings, sqlite_template, world
from tests.gateway.helpers import World
from tests.sim_emulator.helpers import OtaSender

__all__ = ["api", "client", "sqlite_settings", "sqlite_template", "world"]  # fixtures
MASTER = bytes(range(64, 80))
NOW = datetime.datetime.now(datetime.UTC)


def test_signature_matches_the_gateway() -> None:
    key = secrets.token_bytes(32)
    args = ("POST", "/api/v1/terminal/records?x=1", "1700000000", "abcdefgh12", b"{}")
    assert sign(key, *args) == gateway_sign(key, *args)


async def test_terminals_upload_signed_records(
        world: World, client: TestClient[web.Request, web.Application]) -> None:
    tenant = world.a
    iccid = tenant.iccid
    state, secrets_ = new_card_state(Identity(iccid, "460001234567890", "8613800099999"))
    card = open_card(state)
    personalise(InMemoryTransport(card), PersonalisationPlan(
        enterprise_id=tenant.id, sam_master=MASTER, transport_key=secrets_.transport_key,
        sub_apps=(SubAppPlan(SubApp.DOOR, "1", b"door"),
                  SubAppPlan(SubApp.PURSE, "1", b"cred", 100_000))))
    OtaSender(card, secrets_.ota).onecard(Credit(2_000, bytes(16)))
    base = str(client.make_url("/")).rstrip("/")
    link = InMemoryTransport(card)

    door_row = tenant.terminal_rows["door"]
    door = AccessTerminal(door_row["code"], Sam(tenant.id, MASTER, terminal_id_of(
        door_row["code"])))
    door.present(link, NOW)
    uplink = GatewayUplink(base, door_row["code"], bytes.fromhex(door_row["secret"]))
    reply = await asyncio.to_thread(uplink.upload, door.take_pending())
    assert reply is not None

    pos_row = tenant.terminal_rows["pos"]
    pos = PosTerminal(pos_row["code"], Sam(tenant.id, MASTER, terminal_id_of(pos_row["code"])))
    pos.purchase(link, 300, NOW)
    pos.undo(link, NOW)
    batch = pos.take_pending()
    pos_link = GatewayUplink(base, pos_row["code"], bytes.fromhex(pos_row["secret"]))
    await asyncio.to_thread(pos_link.upload, batch)
    await asyncio.to_thread(pos_link.upload, batch)  # a retry: idempotent by sequence number
    records = await world.api.ok("GET", f"/api/v1/records?iccid={iccid}", token=tenant.token)
    kinds = sorted(r["type"] for r in records["items"])
    assert kinds == ["door", "purchase", "undo"]

    # Loss report (挂失): the door terminal's next blacklist pull refuses the card.
    await world.api.ok("POST", f"/api/v1/cards/{iccid}/loss", token=tenant.token, body={},
                       headers={"Idempotency-Key": secrets.token_hex(8)})
    await asyncio.to_thread(uplink.pull_blacklist, door.blacklist)
    assert door.blacklist.blocks(iccid, SubApp.DOOR)
    assert door.present(link, NOW).reason == "blacklisted"


def test_record_file(tmp_path: pathlib.Path) -> None:
    state, secrets_ = new_card_state()
    card = open_card(state)
    personalise(InMemoryTransport(card), PersonalisationPlan(
        enterprise_id=1, sam_master=MASTER, transport_key=secrets_.transport_key,
        sub_apps=(SubAppPlan(SubApp.ATTENDANCE, "9", b"attn"),)))
    clock = AccessTerminal("77", Sam(1, MASTER, terminal_id_of("77")), SubApp.ATTENDANCE)
    clock.present(InMemoryTransport(card), NOW)
    key = secrets.token_bytes(32)
    path = tmp_path / "records.jsonl"
    RecordFile(path, "77", key).upload(clock.take_pending())
    (line,) = path.read_text().splitlines()
    entry = json.loads(line)
    body = json.dumps(entry["record"], sort_keys=True).encode()
    assert entry["record"]["type"] == "attendance" and entry["record"]["result"] == "granted"
    assert entry["signature"] == sign(key, "POST", "/api/v1/terminal/records",
                                      entry["timestamp"], entry["nonce"], body)
