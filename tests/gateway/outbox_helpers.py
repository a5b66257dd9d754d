"""A real SMS stack for the outbox tests: the SMSC simulator on a TCP port, the gateway (aiohttp
test server) whose SMSC link binds to it, and a fleet of emulated handsets bound for the
members' MSISDNs. Everything talks SMPP over loopback sockets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from gateway import keys
from gateway.app import create_app
from gateway.db.models_outbox import OutboxMessage, OutboxPart
from gateway.settings import OutboxSettings, Settings, SmscSettings
from gateway.smsc_link import SmscLink
from gateway.workers.outbox import Dispatcher
from sim_emulator.factory import new_card_state, open_card
from sim_emulator.handset import Fleet, Handset
from sim_emulator.profile import Identity
from smpp.simulator import Smsc, SmscConfig, Unrouted, User
from tests.gateway.helpers import Api

GATEWAY = User("gateway", "gwpass")
HANDSETS = User("handsets", "hspass")
SERVICE_NUMBER = "10658888"

Client = TestClient[web.Request, web.Application]


def smsc_config(**changes: Any) -> SmscConfig:
    base: dict[str, Any] = {"port": 0, "users": (GATEWAY, HANDSETS), "unrouted": Unrouted.DELIVER,
                            "deliver_window": 200, "retry_interval": 0.2}
    base.update(changes)
    return SmscConfig(**base)


def with_smsc(settings: Settings, port: int, **smsc: Any) -> Settings:
    link: dict[str, Any] = {
        "host": "127.0.0.1", "port": port, "system_id": GATEWAY.system_id,
        "password": GATEWAY.password, "source_addr": SERVICE_NUMBER, "window": 20,
        "response_timeout_s": 2.0, "enquire_link_s": 5.0}
    outbox: dict[str, Any] = {"lease_s": 3.0, "poll_s": 0.05, "orphan_receipt_s": 0.5,
                              "retry_initial_s": 0.1, "retry_max_s": 0.5}
    outbox.update(smsc.pop("outbox", {}))
    link.update(smsc)
    return settings.replace(smsc=SmscSettings(**link), outbox=OutboxSettings(**outbox))


def handset(msisdn: str, index: int) -> Handset:
    identity = Identity(iccid=f"8986990000{index:09d}0", imsi=f"4600099{index:08d}",
                        msisdn=msisdn)
    state, _ = new_card_state(identity)
    return Handset(open_card(state), msisdn)


def fleet_for(msisdns: Iterable[str], port: int) -> Fleet:
    phones = [handset(m, i) for i, m in enumerate(sorted(set(msisdns)))]
    return Fleet(phones, "127.0.0.1", port, system_id=HANDSETS.system_id,
                 password=HANDSETS.password)


async def eventually(predicate: Callable[[], Any], timeout: float = 20.0,
                     what: str = "condition") -> None:
    """Poll ``predicate`` (sync or async) until it is true."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        await asyncio.sleep(0.02)


@dataclass
class Stack:
    smsc: Smsc
    client: Client
    fleet: Fleet | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def app(self) -> web.Application:
        return self.client.app

    @property
    def api(self) -> Api:
        return Api(self.client)

    @property
    def link(self) -> SmscLink:
        return self.app[keys.SMSC_LINK]

    @property
    def outbox(self) -> Dispatcher:
        return self.app[keys.OUTBOX]

    def inbox(self, msisdn: str) -> list[str]:
        assert self.fleet is not None
        return [m.text for m in self.fleet[msisdn].inbox]

    async def states(self) -> dict[str, int]:
        return await self.outbox.count()

    async def rows(self) -> list[OutboxMessage]:
        deps = self.app[keys.DEPS]
        async with deps.uow(readonly=True) as uow:
            return list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    async def parts(self) -> list[OutboxPart]:
        deps = self.app[keys.DEPS]
        async with deps.uow(readonly=True) as uow:
            stmt = select(OutboxPart).order_by(OutboxPart.message_id, OutboxPart.seq)
            return list(await uow.session.scalars(stmt))

    async def count_parts(self) -> int:
        deps = self.app[keys.DEPS]
        async with deps.uow(readonly=True) as uow:
            return int((await uow.session.execute(select(func.count(OutboxPart.id))))
                       .scalar_one())

    async def all_final(self, total: int) -> bool:
        counts = await self.states()
        return sum(counts.get(s, 0) for s in ("delivered", "failed", "expired",
                                                "opted_out")) >= total


async def start_gateway(aiohttp_client: Any, settings: Settings) -> Client:
    client: Client = await aiohttp_client(create_app(settings))
    await client.app[keys.SMSC_LINK].wait_bound(10)
    return client
