"""``onecard serve --embedded``: everything a first run needs, in one process group.

The gateway itself (SQLite in the data directory, migrated on start) is started by ``serve``;
this module then starts an ordered list of components and stops them in reverse order:

1. ``DemoTenant``: a demo enterprise (``DEMO``) with members, cards (keys derived from its key
   master root), a purse top-up, and one terminal of each kind; a fresh operator token and a
   fresh enterprise-admin token, printed with the admin URL.
2. (to come) the SMSC simulator from ``smpp/``, listening on loopback, which the gateway's ESME
   binds to.
3. (to come) a fleet of emulated SIM handsets from ``sim_emulator/``, one per demo card, attached
   to the SMSC simulator; terminal simulators upload with the keys in ``ctx.terminal_keys``.

A component is anything with ``name``, ``async start(ctx)`` and ``async stop()``; later ones
read what earlier ones put in the ``EmbeddedContext`` (tokens, terminal keys, SMSC address).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.db.repositories import Page
from gateway.domain import AppKind, Module, RecordKind, Role, TerminalKind
from gateway.errors import NotFound
from gateway.services import admins, cards, enterprises, members, records, terminals
from gateway.services.base import SYSTEM, Deps, Principal

log = logging.getLogger(__name__)

DEMO_CODE = "DEMO"
DEMO_ADMIN = "demo-admin"
EMBEDDED_OPERATOR = "embedded-operator"
DEMO_TOPUP_FEN = 10_000


@dataclass
class EmbeddedContext:
    deps: Deps
    base_url: str
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
        apps = (AppKind.DOOR, AppKind.ATTENDANCE, AppKind.PURSE)
        for i in range(deps.settings.demo_members):
            member = await members.create(deps, SYSTEM, members.MemberIn(
                msisdn=f"86139000{i:05d}", name=f"演示成员{i + 1}", employee_no=f"E{i + 1:04d}",
                department="示范部", enterprise_id=ent["id"]), None)
            await cards.register(deps, SYSTEM, cards.CardIn(
                iccid=f"89860000000000{i:06d}", member_id=member["id"], apps=apps), None)
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
    """Fresh terminal keys for the emulators, card list, and the demo purse top-ups."""
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
    topup = next((t for t in terms["items"] if t["kind"] == TerminalKind.TOPUP.value), None)
    if topup is not None and topup["high_seq"] == 0:
        await _first_topups(deps, topup, list(ctx.cards))


async def _first_topups(deps: Deps, topup: dict[str, Any], iccids: list[str]) -> None:
    principal = Principal(role=Role.TERMINAL, actor=f"terminal:{topup['code']}",
                          enterprise_id=topup["enterprise_id"], terminal_id=topup["id"])
    now = datetime.now(UTC)
    batch = [records.RecordIn(seq=i + 1, kind=RecordKind.TOPUP, iccid=iccid, at=now,
                              amount_fen=DEMO_TOPUP_FEN) for i, iccid in enumerate(iccids)]
    if batch:
        await records.ingest(deps, principal, batch)


def _page() -> Page:
    return Page(limit=500)


def default_components() -> list[Component]:
    """The embedded stack, in start order. The SMSC simulator and SIM fleet go after the tenant."""
    return [DemoTenant()]


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
