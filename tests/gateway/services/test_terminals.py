"""Terminal keys across two gateway nodes sharing one database."""

from __future__ import annotations

from typing import Any

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.gateway.helpers import Api, TerminalClient, tenant

V1 = "/api/v1"


async def test_a_new_key_reaches_other_nodes_within_the_cache_lifetime(
    aiohttp_client: Any, sqlite_settings: Settings,
) -> None:
    node_a = Api(await aiohttp_client(create_app(sqlite_settings)))
    node_b = Api(await aiohttp_client(create_app(sqlite_settings)))
    t = await tenant(node_a, "TWO", members=1, cards=1)
    row = t.terminal_rows["door"]
    now = [0.0]
    node_b.client.app[keys.TERMINAL_KEYS]._clock = lambda: now[0]
    old = TerminalClient(node_b, row["code"], row["secret"])
    assert (await old.upload([old.record("door", t.iccid)])).status == 200
    rotated = await node_a.ok("POST", f"{V1}/terminals/{row['id']}/secret", token=t.token)
    # Node A forgets the old key at once; node B serves it until its cache entry expires.
    assert (await TerminalClient(node_a, row["code"], row["secret"]).upload(
        [old.record("door", t.iccid)])).status == 401
    assert (await old.upload([old.record("door", t.iccid)])).status == 200
    now[0] += node_b.client.app[keys.TERMINAL_KEYS].ttl_s + 1
    assert (await old.upload([old.record("door", t.iccid)])).status == 401
    new = TerminalClient(node_b, row["code"], rotated["secret"])
    new.seq = old.seq
    assert (await new.upload([new.record("door", t.iccid)])).status == 200
