"""The embedded stack: ordered start, reverse stop, and a demo tenant that survives restarts."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import keys
from gateway.app import create_app
from gateway.embedded import DemoTenant, EmbeddedContext, EmbeddedStack
from gateway.settings import Settings
from tests.gateway.helpers import Api

V1 = "/api/v1"


class Recorder:
    def __init__(self, name: str, log: list[str], fail: bool = False) -> None:
        self.name = name
        self.log = log
        self.fail = fail

    async def start(self, ctx: EmbeddedContext) -> None:
        if self.fail:
            raise RuntimeError("cannot start")
        self.log.append(f"start {self.name}")
        ctx.extra[self.name] = True

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")


async def test_components_start_in_order_and_stop_in_reverse(client: Any) -> None:
    log: list[str] = []
    ctx = EmbeddedContext(deps=client.app[keys.DEPS], base_url="http://x")
    async with EmbeddedStack(ctx, [Recorder("smsc", log), Recorder("fleet", log)],
                             out=log.append):
        assert ctx.extra == {"smsc": True, "fleet": True}
    assert log == ["start smsc", "start fleet", "stop fleet", "stop smsc"]


async def test_a_failed_start_stops_what_started(client: Any) -> None:
    log: list[str] = []
    ctx = EmbeddedContext(deps=client.app[keys.DEPS], base_url="http://x")
    stack = EmbeddedStack(ctx, [Recorder("smsc", log), Recorder("fleet", log, fail=True)])
    with pytest.raises(RuntimeError):
        async with stack:
            pass
    assert log == ["start smsc", "stop smsc"]


async def test_demo_tenant_is_seeded_once(aiohttp_client: Any, sqlite_settings: Settings) -> None:
    settings = sqlite_settings.replace(operator_token=None, demo_members=2)
    tokens = []
    for _ in range(2):
        client = await aiohttp_client(create_app(settings))
        ctx = EmbeddedContext(deps=client.app[keys.DEPS], base_url="http://x")
        async with EmbeddedStack(ctx, [DemoTenant()], out=lambda line: None):
            tokens.append((ctx.operator_token, ctx.admin_token))
            assert len(ctx.cards) == 2 and len(ctx.terminal_keys) == 5
            api = Api(client)
            cards = await api.ok("GET", f"{V1}/cards", token=ctx.admin_token)
            # Without the SIM fleet nothing is issued over the air: cards have no apps yet.
            assert [(c["balance_fen"], c["apps"]) for c in cards["items"]] == [(0, []), (0, [])]
            door = next(code for code in ctx.terminal_keys if code.endswith("DOOR"))
            assert door == "DEMO-DOOR"
        await client.close()
    (op1, admin1), (op2, admin2) = tokens
    assert op1 != op2 and admin1 != admin2
    api = Api(client)
    client = await aiohttp_client(create_app(settings))
    api = Api(client)
    assert (await api.call("GET", f"{V1}/cards", token=admin1)).status == 401  # revoked
    assert (await api.call("GET", f"{V1}/cards", token=admin2)).status == 200
    assert (await api.call("GET", f"{V1}/enterprises", token=op2)).status == 200
