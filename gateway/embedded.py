"""``onecard serve --embedded``: everything a first run needs, in one process group.

The gateway itself (SQLite in the data directory, migrated on start) is started by ``serve``;
this module then starts an ordered list of components and stops them in reverse order:

1. ``DemoTenant``: a demo enterprise (``DEMO``) with members, cards (keys derived from its key
   master root), a purse top-up, and one terminal of each kind; a fresh operator token and a
   fresh enterprise-admin token, printed with the admin URL.
2. ``SmscSimulator``: the SMSC simulator of ``smpp.simulator`` on a loopback port, with the
   service number routed to the gateway; the gateway's SMSC link binds to it. Skipped when
   ``[smsc]`` names a real SMSC.
3. ``SimFleet``: one emulated handset per live card whose keys the gateway derived
   (``sim_emulator``; the demo cards, and cards registered later through the API), holding
   the same keys as the gateway (derived from the enterprise's key master root), bound to the
   simulator: OTA commands, PoRs, SMS and STK requests travel over SMPP on loopback.

   The cards are kept in files in the data directory; on the first run the demo cards'
   sub-applications are issued and their purses topped up over the air, through the OTA job
   engine.

No terminal traffic is simulated here: the demo terminals get fresh keys on every start
(``ctx.terminal_keys``, for a tool that drives them; an admin rotates one with ``POST
/api/v1/terminals/{id}/secret``), and ``onecard demo`` uploads signed records through the
terminal API in its bill story.

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
from sqlalchemy import select

from gateway import cardkeys, keys
from gateway.db.models import Card, Member
from gateway.db.repositories import Page
from gateway.domain import LIVE_CARD_STATES, AppKind, Module, Role, TerminalKind
from gateway.errors import NotFound
from gateway.ota_core import FINAL_STATES
from gateway.ports import Event, EventName
from gateway.services import admins, cards, enterprises, members, ota_jobs, terminals, topups
from gateway.services.base import SYSTEM, Deps, IdemKey
from gateway.settings import SmscSettings
from gateway.smsc_link import SmscLink
from gateway.workers.ota import ENGINE, OtaEngine
from ota.mo_request import DEFAULT_SERVICE_NUMBER
from sim_emulator.card import SimCard
from sim_emulator.factory import new_card_state, open_card
from sim_emulator.handset import Fleet, Handset, normalise
from sim_emulator.profile import Identity
from sim_emulator.state import CardState as SimCardState
from sim_emulator.storage import load_state, save_state
from smpp.simulator import Smsc, SmscConfig, Unrouted, User
from smpp.simulator.config import Route

log = logging.getLogger(__name__)

DEMO_CODE = "DEMO"
DEMO_ADMIN = "demo-admin"
EMBEDDED_OPERATOR = "embedded-operator"
DEMO_TOPUP_FEN = 10_000
DEMO_CARD_NOTE = "embedded demo card"  # marks the seeded cards the SIM fleet issues


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
    # Seeded demo cards with no application yet: the first run's issuance has still to happen
    # (it did not, or the process stopped before it could).
    unissued: list[str] = field(default_factory=list)
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
                iccid=f"89860000000000{i:06d}", member_id=member["id"], note=DEMO_CARD_NOTE),
                None)
        log.info("seeded the demo enterprise %s", DEMO_CODE)
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
    ctx.unissued = sorted(c["iccid"] for c in listing["items"] if c["state"] == "active"
                          and c["note"] == DEMO_CARD_NOTE and not c["apps"])
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
    """The embedded world's phones: one emulated handset per live card whose keys the gateway
    derived (from its enterprise's key master root), bound to the simulator; cards in files.

    The cards live in ``<data_dir>/embedded-sims/<ICCID>.json`` between runs (saved on stop).
    Demo cards that hold no application yet (on the run that seeded the demo tenant, or the
    next one if that run stopped first) then get their sub-applications issued (空中发卡) and
    their purses topped up (空中充值) over the air, through the OTA job engine: the gateway's
    ledger and the emulated cards start out in agreement.

    Cards registered later (``POST /cards`` without keys, in any enterprise) get a phone too,
    before the request that registered them returns: a new card for a number without a phone
    comes in a new handset, on a new bind for the numbers adopted together; a replacement card
    (补换卡) goes into the member's phone in place of the old one, as the member would do. A
    card registered with its own keys was personalised elsewhere (a desk, ``onecard demo``'s
    own handsets): whoever holds it answers for it, and the fleet leaves its number alone.
    """

    name = "sim-fleet"
    FIRST_RUN_TIMEOUT_S = 60.0
    ADOPT_TIMEOUT_S = 10.0

    def __init__(self) -> None:
        # One bind for the cards known at start, then one per batch of cards adopted.
        self.binds: list[Fleet] = []
        self.phones: dict[str, Handset] = {}  # by MSISDN, normalised
        self._ctx: EmbeddedContext | None = None
        self._smsc: dict[str, Any] | None = None
        self._folder = Path()
        self._adopting = asyncio.Lock()

    async def start(self, ctx: EmbeddedContext) -> None:
        smsc = ctx.extra.get("smsc")
        if smsc is None or ctx.enterprise_id is None:
            return
        self._ctx, self._smsc = ctx, smsc
        self._folder = ctx.deps.settings.data_dir / "embedded-sims"
        self._folder.mkdir(parents=True, exist_ok=True)
        phones = [self._handset(card, root) for card, root in await _phone_cards(ctx.deps)]
        if phones:
            await self._bind(phones)
        ctx.deps.bus.add_notifier(self)
        ctx.banner.append(f"SIM fleet:      {len(phones)} emulated handsets on the simulator "
                          f"(cards in {self._folder}; cards registered later get one too)")
        held = {phone.card.state.iccid for phone in self.phones.values()}
        unissued = [i for i in ctx.unissued if i in held]
        if unissued and ctx.app is not None:
            await asyncio.wait_for(_first_issuance(ctx, ctx.app, unissued),
                                   self.FIRST_RUN_TIMEOUT_S)
            ctx.banner.append("Demo cards:     door, attendance and purse issued over the air, "
                              f"purses topped up with {DEMO_TOPUP_FEN} fen over the air")
        self.save()

    def _handset(self, card: PhoneCard, root: bytes) -> Handset:
        phone = Handset(open_card(self._card_state(card, root)), card.msisdn)
        self.phones[normalise(card.msisdn)] = phone
        return phone

    def _path(self, iccid: str) -> Path:
        return self._folder / f"{iccid}.json"

    def _card_state(self, card: PhoneCard, root: bytes) -> SimCardState:
        path = self._path(card.iccid)
        if path.exists():
            return load_state(path)
        digits = "".join(c for c in card.iccid if c.isdigit())
        imsi = f"4600077{digits[-8:]:0>8}"
        return new_card_state(Identity(card.iccid, imsi, card.msisdn), ota_master=root)[0]

    async def _bind(self, phones: list[Handset]) -> None:
        assert self._smsc is not None
        users: User = self._smsc["handsets"]
        fleet = Fleet(phones, "127.0.0.1", self._smsc["port"], system_id=users.system_id,
                      password=users.password)
        await fleet.start()
        self.binds.append(fleet)

    async def notify(self, events: Sequence[Event]) -> None:
        """After a commit: the cards it registered (or replaced) get their phone now, so that
        the OTA job the caller starts next finds the card on the network."""
        iccids = [str(e.payload["new_iccid"] if e.name is EventName.CARD_REPLACED
                      else e.payload["iccid"])
                  for e in events if e.name in _PHONE_EVENTS]
        if not iccids or self._ctx is None:
            return
        try:
            await asyncio.wait_for(self._adopt(iccids), self.ADOPT_TIMEOUT_S)
        except Exception:  # the card stays without a phone; its OTA jobs will say so
            log.exception("embedded: no handset for %s", ", ".join(iccids))

    async def _adopt(self, iccids: list[str]) -> None:
        assert self._ctx is not None
        async with self._adopting:
            new: list[Handset] = []
            for card, root in await _phone_cards(self._ctx.deps, iccids):
                phone = self.phones.get(normalise(card.msisdn))
                if phone is None:
                    new.append(self._handset(card, root))
                    continue
                old = await phone.insert(open_card(self._card_state(card, root)))
                self._save(old)
                log.info("embedded: card %s in the phone of %s in place of %s", card.iccid,
                         card.msisdn, old.state.iccid)
            if new:
                await self._bind(new)
                log.info("embedded: %d handset(s) for new cards bound", len(new))

    def _save(self, card: SimCard) -> None:
        save_state(self._path(card.state.iccid), card.snapshot())

    def save(self) -> None:
        for phone in self.phones.values():
            self._save(phone.card)

    async def stop(self) -> None:
        self._ctx = None  # the bus keeps its notifiers: a late event finds nothing to do
        async with self._adopting:
            for fleet in reversed(self.binds):
                await fleet.stop()
            self.save()


_PHONE_EVENTS = frozenset({EventName.CARD_REGISTERED, EventName.CARD_REPLACED})


@dataclass(frozen=True)
class PhoneCard:
    iccid: str
    msisdn: str


async def _phone_cards(deps: Deps, iccids: Sequence[str] | None = None
                       ) -> list[tuple[PhoneCard, bytes]]:
    """Live cards with keys the gateway derived (all of them, or those of ``iccids``), with
    their member's number and their enterprise's key master root."""
    query = (select(Card.iccid, Member.msisdn, Card.enterprise_id)
             .join(Member, Member.id == Card.member_id)
             .where(Card.state.in_(LIVE_CARD_STATES),
                    Card.keys_source == cardkeys.SOURCE_DERIVED)
             .order_by(Card.iccid))
    if iccids is not None:
        query = query.where(Card.iccid.in_(iccids))
    roots: dict[int, bytes] = {}
    found = []
    async with deps.uow(readonly=True) as uow:
        for iccid, msisdn, enterprise_id in (await uow.session.execute(query)).all():
            if enterprise_id not in roots:
                row = await uow.enterprises.get(enterprise_id)
                assert row is not None
                roots[enterprise_id] = enterprises.root_key(deps, row)
            found.append((PhoneCard(iccid, msisdn), roots[enterprise_id]))
    return found


async def _first_issuance(ctx: EmbeddedContext, app: web.Application,
                          iccids: Sequence[str]) -> None:
    """Issue the demo cards' sub-applications, then top their purses up, over the air."""
    deps, engine = ctx.deps, app[ENGINE]
    apps = ota_jobs.IssueIn((AppKind.DOOR, AppKind.ATTENDANCE, AppKind.PURSE))
    jobs = []
    for iccid in iccids:
        key = IdemKey(f"embedded-issue-{iccid}", "embedded")
        jobs.append((await ota_jobs.issue(deps, SYSTEM, iccid, apps, key))["id"])
    await _finished(deps, engine, jobs)
    credits = []
    for iccid in iccids:
        key = IdemKey(f"embedded-topup-{iccid}", "embedded")
        credits.append((await topups.request(deps, SYSTEM, iccid, DEMO_TOPUP_FEN, key))["job_id"])
    await _finished(deps, engine, credits)


async def _finished(deps: Deps, engine: OtaEngine, job_ids: list[int]) -> None:
    """Until every job is in a final state (the caller bounds the time)."""
    engine.wake()
    for job_id in job_ids:
        while (await ota_jobs.get_job(deps, SYSTEM, job_id))["state"] not in FINAL_STATES:
            await engine.wait(job_id, 0.5)


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
