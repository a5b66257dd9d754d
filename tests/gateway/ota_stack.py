"""A real OTA stack for the OTA tests: the SMSC simulator (TCP), the gateway (aiohttp test
server, its SMSC link bound), and a fleet of emulated handsets whose cards hold the keys the
gateway has for them. Command packets, PoRs and the STK applet's requests travel as SMPP over
loopback, through the same code as in production.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from gateway import keys
from gateway.db.models_ota import OtaAlert, OtaAttempt, OtaJob
from gateway.settings import Settings
from gateway.workers.ota import ENGINE, OtaEngine
from ota.keys import derive_card_keyset
from ota.onecard_apdu import SubApp
from sim_emulator.card import SimCard
from sim_emulator.factory import new_card_state, open_card
from sim_emulator.handset import Fleet, Handset, MoSender
from sim_emulator.onecard import OneCardApplet
from sim_emulator.profile import Identity
from smpp.simulator import Smsc
from smpp.simulator.config import Route
from smpp.udh import Iei, Udh
from tests.gateway.helpers import Api, idem, new_iccid, new_msisdn
from tests.gateway.outbox_helpers import (
    GATEWAY,
    HANDSETS,
    SERVICE_NUMBER,
    Client,
    eventually,
    smsc_config,
    start_gateway,
    with_smsc,
)

V1 = "/api/v1"
PASSWORD = "135790"
OTA = {"por_timeout_s": 1.5, "max_attempts": 3, "retry_backoff_s": 0.2,
       "retry_backoff_max_s": 0.5, "poll_interval_s": 0.05}


def ota_smsc(**changes: Any) -> Any:
    """The simulator with MO to the service number routed to the gateway's bind."""
    route = Route(re.compile(f"^\\+?{SERVICE_NUMBER}"), GATEWAY.system_id)
    return smsc_config(routes=(route,), **changes)


def ota_settings(settings: Settings, port: int, **ota: Any) -> Settings:
    extra = dict(settings.extra)
    extra["ota"] = {**OTA, **ota}
    return with_smsc(settings, port).replace(extra=extra)


@dataclass
class Phone:
    """A member with a card registered in the gateway and the same card in a handset."""

    member: dict[str, Any]
    iccid: str
    msisdn: str
    handset: Handset

    @property
    def card(self) -> SimCard:
        return self.handset.card

    @property
    def onecard(self) -> OneCardApplet:
        applet = self.card.applet_named("onecard")
        assert isinstance(applet, OneCardApplet)
        return applet

    @property
    def balance(self) -> int:
        return self.onecard.state.purse.balance

    def apps(self) -> dict[str, str]:
        return {s.app.name.lower(): s.life_cycle.name.lower()
                for s in self.onecard.state.sub_apps.values()}

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.handset.inbox]


@dataclass
class OtaStack:
    smsc: Smsc
    client: Client
    master: bytes
    enterprise: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    phones: list[Phone] = field(default_factory=list)
    fleet: Fleet | None = None

    @property
    def api(self) -> Api:
        return Api(self.client)

    @property
    def engine(self) -> OtaEngine:
        return self.client.app[ENGINE]

    @property
    def deps(self) -> Any:
        return self.client.app[keys.DEPS]

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        kw.setdefault("token", self.token)
        return await self.api.call(method, f"{V1}{path}", **kw)

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        reply = await self.call(method, path, **kw)
        assert reply.status == status, (method, path, reply.status, reply.body)
        return reply.body

    async def job(self, job_id: int, wait: int = 15) -> dict[str, Any]:
        body: dict[str, Any] = await self.ok("GET", f"/ota/jobs/{job_id}?wait={wait}")
        return body

    async def issue(self, phone: Phone, apps: list[str], **extra: Any) -> dict[str, Any]:
        job = await self.ok("POST", f"/cards/{phone.iccid}/apps", 202,
                            body={"apps": apps, **extra}, key=idem())
        done = await self.job(job["id"])
        assert done["state"] == "confirmed", done
        return done

    async def topup(self, phone: Phone, amount: int, key: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = await self.ok("POST", f"/cards/{phone.iccid}/topups", 202,
                                             body={"amount_fen": amount}, key=key or idem())
        return body

    async def topup_done(self, topup_id: int, wait: int = 20) -> dict[str, Any]:
        body: dict[str, Any] = await self.ok("GET", f"/topups/{topup_id}?wait={wait}")
        return body

    async def card(self, phone: Phone) -> dict[str, Any]:
        body: dict[str, Any] = await self.ok("GET", f"/cards/{phone.iccid}")
        return body

    async def alerts(self) -> list[OtaAlert]:
        async with self.deps.uow(readonly=True) as uow:
            return list(await uow.session.scalars(select(OtaAlert).order_by(OtaAlert.id)))

    async def attempts(self, job_id: int) -> list[OtaAttempt]:
        async with self.deps.uow(readonly=True) as uow:
            return list(await uow.session.scalars(select(OtaAttempt).where(
                OtaAttempt.job_id == job_id).order_by(OtaAttempt.id)))

    async def jobs(self, **where: Any) -> list[OtaJob]:
        async with self.deps.uow(readonly=True) as uow:
            stmt = select(OtaJob).filter_by(**where).order_by(OtaJob.id)
            return list(await uow.session.scalars(stmt))

    async def count_jobs(self) -> int:
        async with self.deps.uow(readonly=True) as uow:
            return int((await uow.session.execute(select(func.count(OtaJob.id)))).scalar_one())


async def build(aiohttp_client: Any, settings: Settings, smsc: Smsc, *, phones: int = 2,
                **ota: Any) -> OtaStack:
    client = await start_gateway(aiohttp_client, ota_settings(settings, smsc.port, **ota))
    stack = OtaStack(smsc, client, secrets.token_bytes(16))
    api = stack.api
    stack.enterprise = await api.ok("POST", f"{V1}/enterprises", body={
        "code": "OTA", "name": "OTA Ltd", "sms_signature": "一卡通",
        "modules": ["attendance", "door", "purchase", "sms", "topup"]})
    admin = await api.ok("POST", f"{V1}/admins", body={
        "login": "admin-ota", "name": "Admin", "role": "enterprise_admin",
        "enterprise_id": stack.enterprise["id"]})
    stack.token = admin["token"]
    for i in range(phones):
        stack.phones.append(await add_phone(stack, i))
    stack.fleet = Fleet([p.handset for p in stack.phones], "127.0.0.1", smsc.port,
                        system_id=HANDSETS.system_id, password=HANDSETS.password)
    await stack.fleet.start()
    return stack


async def add_phone(stack: OtaStack, index: int) -> Phone:
    iccid, msisdn = new_iccid(), new_msisdn()
    member = await stack.ok("POST", "/members", 201, body={
        "msisdn": msisdn, "name": f"成员{index}", "employee_no": f"E{1000 + index}"})
    await stack.ok("PUT", f"/members/{member['id']}/service-password",
                   body={"password": PASSWORD})
    keyset = derive_card_keyset(stack.master, iccid)
    await stack.ok("POST", "/cards", 201, body={
        "iccid": iccid, "member_id": member["id"],
        "keys": {"kic": keyset.kic.hex(), "kid": keyset.kid.hex()}})
    state, _ = new_card_state(Identity(iccid, f"46000{index:010d}", msisdn),
                              ota_master=stack.master)
    return Phone(member, iccid, msisdn, Handset(open_card(state), msisdn))


async def close(stack: OtaStack) -> None:
    """Stop the handsets, then the gateway: its background transactions must be over before
    a PostgreSQL test drops its schema (a frozen loop would hold their locks)."""
    if stack.fleet is not None:
        await stack.fleet.stop()
    await stack.client.close()


async def stack_of(aiohttp_client: Any, settings: Settings, **kw: Any
                   ) -> AsyncIterator[OtaStack]:
    async with Smsc(ota_smsc()) as smsc:
        stack = await build(aiohttp_client, settings, smsc, **kw)
        try:
            yield stack
        finally:
            await close(stack)


def is_por(tp_ud: bytes) -> bool:
    try:
        udh, _ = Udh.decode(tp_ud)
    except Exception:
        return False
    return udh.has(Iei.RPI)


class LosePors:
    """Stands between a handset and the network: the next ``count`` PoRs never arrive."""

    def __init__(self, inner: MoSender, count: int) -> None:
        self.inner = inner
        self.count = count
        self.lost: list[bytes] = []

    async def send_binary(self, source: str, destination: str, tp_ud: bytes, pid: int,
                          dcs: int) -> None:
        if self.count and is_por(tp_ud):
            self.count -= 1
            self.lost.append(tp_ud)
            return
        await self.inner.send_binary(source, destination, tp_ud, pid, dcs)


def lose_pors(phone: Phone, count: int) -> LosePors:
    assert phone.handset.sender is not None
    loser = LosePors(phone.handset.sender, count)
    phone.handset.sender = loser
    return loser


__all__ = ["PASSWORD", "SERVICE_NUMBER", "SubApp", "eventually"]
