"""``onecard serve --embedded``: everything a first run needs, in one process group.

The gateway itself (SQLite in the data directory, migrated on start) is started by ``serve``;
this module then starts an ordered list of components and stops them in reverse order:

1. ``DemoTenant``: a demo enterprise (``DEMO``) with members, cards (keys derived from its key
   master root), a purse top-up, and one terminal of each kind; a fresh operator token and a
   fresh enterprise-admin token, printed with the admin URL.
2. ``SmscSimulator``: the SMSC simulator of ``smpp.simulator`` on a loopback port, with the
   service number routed to the gateway; the gateway's SMSC link binds to it. Skipped when
   ``[smsc]`` names a real SMSC.
3. ``SimFleet``: one emulated handset per demo card (``sim_emulator``), holding the same keys
   as the gateway (derived from the enterprise's key master root), bound to the simulator: OTA
   commands, PoRs, SMS and STK requests travel over SMPP on loopback.

   The cards are kept in files in the data directory; on the first run their sub-applications
   are issued and their purses topped up over the air, through the OTA job engine.

Left to come: terminal simulators uploading with the keys in ``ctx.terminal_keys``.

A component is anything with ``name``, ``async start(ctx)`` and ``async stop()``; later ones
read what earlier ones put in the ``EmbeddedContext`` (tokens, terminal keys, SMSC address).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from gateway import keys
from gateway.db.repositories import Page
from gateway.domain import AppKind, Module, Role, TerminalKind
from gateway.errors import NotFound
from gateway.ota_core import FINAL_STATES
from gateway.services import admins, cards, enterprises, members, ota_jobs, terminals, topups
from gateway.services.base import SYSTEM, Deps, IdemKey
from gateway.settings import SmscSettings
from gateway.smsc_link import SmscLink
from gateway.workers.ota import ENGINE, OtaEngine
from ota.mo_request import DEFAULT_SERVICE_NUMBER
from sim_emulator.factory import new_card_state, open_card
from sim_emulator.handset import Fleet, Handset
from sim_emulator.profile import Identity
from sim_emulator.storage import load_state, save_state
from smpp.simulator import Smsc, SmscConfig, Unrouted, User
from smpp.simulator.config import Route

log = logging.getLogger(__name__)

DEMO_CODE = "DEMO"
DEMO_ADMIN = "demo-admin"
EMBEDDED_OPERATOR = "embedded-operator"
DEMO_TOPUP_FEN = 10_000


@dataclass
class EmbeddedContext:
    deps: Deps
    base_url: str
    app: web.Application | None = None
    # What the user is shown at the end of startup, in order.
    banner: list[str] = field(default_factory=list)
    operator_token: str | None = None
    admin_token: str | None = None
    enterprise_id: int | None = None
    # Demo cards (ICCID -> MSISDN) and terminal keys (code -> hex), for the emulators to come.
    cards: dict[str, str] = field(default_factory=dict)
    terminal_keys: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class Component(Protocol):
    name: str

    async def start(self, ctx: EmbeddedContext) -> None: ...

    async def stop(self) -> None: ...


class DemoTenant:
    """Seeds the demo enterprise on first run; issues fresh demo tokens on every run."""

    name = "demo-tenant"

    async def start(self, ctx: EmbeddedContext) -> None:
        deps = ctx.deps
        ent = await _find_enterprise(deps)
        if ent is None:
            ent = await self._seed(ctx)
        ctx.enterprise_id = ent
        ctx.operator_token = await _operator_token(deps)
        ctx.admin_token = await admins.replace_labelled_token(deps, DEMO_ADMIN, "embedded")
        await _collect(ctx, ent)
        ctx.banner += [
            f"Admin API:      {ctx.base_url}/api/v1/"
            f"  (OpenAPI: {ctx.base_url}/api/v1/openapi.json)",
            f"Operator token: {ctx.operator_token}",
            f"Demo admin ({DEMO_CODE}) token: {ctx.admin_token}",
            f"Demo cards:     {len(ctx.cards)} (try: curl -H 'Authorization: Bearer "
            f"{ctx.admin_token}' {ctx.base_url}/api/v1/cards)",
        ]

    async def stop(self) -> None:
        return None

    async def _seed(self, ctx: EmbeddedContext) -> int:
        deps = ctx.deps
        ent = await enterprises.create(deps, SYSTEM, enterprises.EnterpriseIn(
            code=DEMO_CODE, name="示范企业 Demo Ltd", sms_signature="一卡通",
            modules=tuple(Module)), None)
        await admins.create(deps, SYSTEM, admins.AdminIn(
            login=DEMO_ADMIN, name="Demo admin", role=Role.ENTERPRISE_ADMIN,
            enterprise_id=ent["id"]), None)
        for kind in TerminalKind:
            await terminals.create(deps, SYSTEM, terminals.TerminalIn(
                code=f"DEMO-{kind.value.upper()}", kind=kind, name=f"demo {kind.value}",
                enterprise_id=ent["id"]), None)
        for i in range(deps.settings.demo_members):
            member = await members.create(deps, SYSTEM, members.MemberIn(
                msisdn=f"86139000{i:05d}", name=f"演示成员{i + 1}", employee_no=f"E{i + 1:04d}",
                department="示范部", enterprise_id=ent["id"]), None)
            # Sub-applications are issued over the air once the SIM fleet is up (SimFleet).
            await cards.register(deps, SYSTEM, cards.CardIn(
                iccid=f"89860000000000{i:06d}", member_id=member["id"]), None)
        log.info("seeded the demo enterprise %s", DEMO_CODE)
        ctx.extra["seeded"] = True
        return int(ent["id"])


async def _find_enterprise(deps: Deps) -> int | None:
    listing = await enterprises.list_enterprises(deps, SYSTEM, _page(), code=DEMO_CODE)
    return int(listing["items"][0]["id"]) if listing["items"] else None


async def _operator_token(deps: Deps) -> str:
    if deps.settings.operator_token:
        return deps.settings.operator_token
    try:
        return await admins.replace_labelled_token(deps, EMBEDDED_OPERATOR, "embedded")
    except NotFound:
        await admins.create(deps, SYSTEM, admins.AdminIn(
            login=EMBEDDED_OPERATOR, name="Embedded operator", role=Role.OPERATOR), None)
        return await admins.replace_labelled_token(deps, EMBEDDED_OPERATOR, "embedded")


async def _collect(ctx: EmbeddedContext, enterprise_id: int) -> None:
    """Fresh terminal keys for the emulators, and the list of demo cards."""
    deps = ctx.deps
    listing = await cards.list_cards(deps, SYSTEM, cards.CardFilter(enterprise_id), _page())
    owners = await members.list_members(deps, SYSTEM, members.MemberFilter(enterprise_id),
                                        _page())
    msisdn = {m["id"]: m["msisdn"] for m in owners["items"]}
    ctx.cards = {c["iccid"]: msisdn.get(c["member_id"], "") for c in listing["items"]
                 if c["state"] == "active"}
    terms = await terminals.list_terminals(deps, SYSTEM, enterprise_id, None, _page())
    for row in terms["items"]:
        rotated = await terminals.rotate_secret(deps, SYSTEM, row["id"], None)
        ctx.terminal_keys[row["code"]] = rotated["secret"]


def _page() -> Page:
    return Page(limit=500)


# Binds on the simulator; the passwords only keep other local processes off it.
_GATEWAY_USER = "gateway"
_HANDSETS_USER = "handsets"


class SmscSimulator:
    """The SMSC simulator on loopback, and the gateway's SMSC link bound to it."""

    name = "smsc-simulator"

    def __init__(self) -> None:
        self.smsc: Smsc | None = None
        self.link: SmscLink | None = None

    async def start(self, ctx: EmbeddedContext) -> None:
        if ctx.deps.settings.smsc is not None or ctx.app is None:
            ctx.banner.append("SMSC:           the configured [smsc] (no simulator)")
            return
        service = DEFAULT_SERVICE_NUMBER
        gateway, handsets = (User(_GATEWAY_USER, secrets.token_hex(4)),
                             User(_HANDSETS_USER, secrets.token_hex(4)))
        # deliver_window: receipts in flight to the gateway, whose outbox writes them in
        # batches; with a carrier's usual 10 the batches (and the receipt rate) stay small.
        self.smsc = Smsc(SmscConfig(
            host="127.0.0.1", port=0, users=(gateway, handsets), unrouted=Unrouted.DELIVER,
            routes=(Route(re.compile(f"^\\+?{service}"), gateway.system_id),),
            deliver_window=256))
        port = await self.smsc.start()
        self.link = ctx.app[keys.SMSC_LINK]
        await self.link.start(SmscSettings(
            host="127.0.0.1", port=port, system_id=gateway.system_id,
            password=gateway.password, source_addr=service))
        ctx.extra["smsc"] = {"port": port, "handsets": handsets}
        ctx.banner.append(f"SMSC simulator: 127.0.0.1:{port} (service number {service})")

    async def stop(self) -> None:
        if self.link is not None:
            await self.link.stop()  # drain the outbox's submissions before the SMSC goes
        if self.smsc is not None:
            await self.smsc.stop()


class SimFleet:
    """One emulated handset per demo card, bound to the simulator; cards kept in files.

    The cards live in ``<data_dir>/embedded-sims/<ICCID>.json`` between runs (saved on stop).
    On the run that seeded the demo tenant, the fleet then gets its sub-applications issued
    (空中发卡) and its purses topped up (空中充值) over the air, through the OTA job engine:
    the gateway's ledger and the emulated cards start out in agreement.
    """

    name = "sim-fleet"
    FIRST_RUN_TIMEOUT_S = 60.0

    def __init__(self) -> None:
        self.fleet: Fleet | None = None
        self.files: dict[str, Path] = {}

    async def start(self, ctx: EmbeddedContext) -> None:
        smsc = ctx.extra.get("smsc")
        if smsc is None or ctx.enterprise_id is None:
            return
        root = await _root_key(ctx.deps, ctx.enterprise_id)
        folder = ctx.deps.settings.data_dir / "embedded-sims"
        folder.mkdir(parents=True, exist_ok=True)
        phones = []
        for i, (iccid, msisdn) in enumerate(sorted(ctx.cards.items())):
            path = self.files[iccid] = folder / f"{iccid}.json"
            state = load_state(path) if path.exists() else new_card_state(
                Identity(iccid, f"4600077{i:08d}", msisdn), ota_master=root)[0]
            phones.append(Handset(open_card(state), msisdn))
        users: User = smsc["handsets"]
        self.fleet = Fleet(phones, "127.0.0.1", smsc["port"], system_id=users.system_id,
                           password=users.password)
        await self.fleet.start()
        ctx.extra["fleet"] = self.fleet
        ctx.banner.append(f"SIM fleet:      {len(phones)} emulated handsets on the simulator "
                          f"(cards in {folder})")
        if ctx.extra.get("seeded") and ctx.app is not None:
            await asyncio.wait_for(_first_issuance(ctx, ctx.app), self.FIRST_RUN_TIMEOUT_S)
            ctx.banner.append("Demo cards:     door, attendance and purse issued over the air, "
                              f"purses topped up with {DEMO_TOPUP_FEN} fen over the air")
        self.save()

    def save(self) -> None:
        if self.fleet is None:
            return
        for handset in self.fleet.handsets.values():
            path = self.files.get(handset.card.state.iccid)
            if path is not None:
                save_state(path, handset.card.snapshot())

    async def stop(self) -> None:
        if self.fleet is not None:
            await self.fleet.stop()
            self.save()


async def _first_issuance(ctx: EmbeddedContext, app: web.Application) -> None:
    """Issue the demo cards' sub-applications, then top their purses up, over the air."""
    deps, engine = ctx.deps, app[ENGINE]
    apps = ota_jobs.IssueIn((AppKind.DOOR, AppKind.ATTENDANCE, AppKind.PURSE))
    jobs = []
    for iccid in sorted(ctx.cards):
        key = IdemKey(f"embedded-issue-{iccid}", "embedded")
        jobs.append((await ota_jobs.issue(deps, SYSTEM, iccid, apps, key))["id"])
    await _finished(deps, engine, jobs)
    credits = []
    for iccid in sorted(ctx.cards):
        key = IdemKey(f"embedded-topup-{iccid}", "embedded")
        credits.append((await topups.request(deps, SYSTEM, iccid, DEMO_TOPUP_FEN, key))["job_id"])
    await _finished(deps, engine, credits)


async def _finished(deps: Deps, engine: OtaEngine, job_ids: list[int]) -> None:
    """Until every job is in a final state (the caller bounds the time)."""
    engine.wake()
    for job_id in job_ids:
        while (await ota_jobs.get_job(deps, SYSTEM, job_id))["state"] not in FINAL_STATES:
            await engine.wait(job_id, 0.5)


async def _root_key(deps: Deps, enterprise_id: int) -> bytes:
    async with deps.uow(readonly=True) as uow:
        row = await uow.enterprises.get(enterprise_id)
        if row is None:
            raise NotFound("demo enterprise not found")
        return enterprises.root_key(deps, row)


def default_components() -> list[Component]:
    """The embedded stack, in start order."""
    return [DemoTenant(), SmscSimulator(), SimFleet()]


class EmbeddedStack:
    """Starts components in order; on failure or exit, stops the started ones in reverse."""

    def __init__(self, ctx: EmbeddedContext,
                 components: Sequence[Component] | None = None,
                 out: Callable[[str], None] | None = None) -> None:
        self.ctx = ctx
        self.components = list(default_components() if components is None else components)
        self._started: list[Component] = []
        self._out = out or (lambda line: print(line, flush=True))

    async def __aenter__(self) -> EmbeddedContext:
        try:
            for component in self.components:
                log.info("embedded: starting %s", component.name)
                await component.start(self.ctx)
                self._started.append(component)
        except BaseException:
            await self._stop()
            raise
        for line in self.ctx.banner:
            self._out(line)
        return self.ctx

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _stop(self) -> None:
        while self._started:
            component = self._started.pop()
            try:
                await component.stop()
            except Exception:
                log.exception("embedded: stopping %s failed", component.name)
