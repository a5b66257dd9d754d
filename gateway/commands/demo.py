"""``onecard demo``: run the user stories end to end and say what happened at each step.

Without ``--url`` it starts its own embedded instance in a temporary directory: the SMSC
simulator on a loopback port (MO to the service number routed to the gateway), the gateway
(SQLite, its ESME bound to the simulator) on another. With ``--url URL --token T`` it uses the
gateway at URL (an operator token) and attaches its handsets to that gateway's SMSC
(``--smsc HOST:PORT``, ``--smsc-user NAME:PASSWORD``).

Either way the demo enrols its own enterprise, members and cards through the REST API (card
keys derived from a fresh key master root, the same derivation as the emulated cards'), binds a
fleet of emulated handsets holding those cards, and runs:

1. an admin issues the door, attendance and purse applications over the air (空中发卡);
2. an admin tops a purse up over the air (空中充值);
3. a member deletes an application from the STK menu (应用删除, service password);
4. staff receive an SMS (the top-up and deletion SMS);
5. a bill run for the demo enterprise: terminals upload the day's punches and a purchase, the
   admin bills the day, the members read their attendance and consumption bills on their
   phones (``gateway.bills.demo``);
6. the carrier's bill (出账): the month so far rated, last month exported to the carrier's
   files, named, counted and totalled, and exported again byte for byte (``billing.demo``).

It exits 0 only if every story succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from billing.demo import story as export_story
from gateway.bills.demo import story as bill_story
from gateway.commands.demo_stack import embedded_instance
from ota.keys import derive_card_keyset
from sim_emulator.factory import new_card_state, open_card
from sim_emulator.handset import Fleet, Handset
from sim_emulator.onecard import OneCardApplet
from sim_emulator.profile import Identity

Out = Callable[[str], None]
APPS = ("door", "attendance", "purse")
PASSWORD = "246810"
TOPUP_FEN = 10_000
WAIT_S = 30


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="a running gateway (default: start an embedded one)")
    parser.add_argument("--token", help="operator bearer token of the gateway at --url")
    parser.add_argument("--smsc", metavar="HOST:PORT",
                        help="the SMSC of the gateway at --url, for the demo's handsets")
    parser.add_argument("--smsc-user", metavar="NAME:PASSWORD", default="handsets:handsets",
                        help="SMPP account the handsets bind with (default handsets:handsets)")
    parser.add_argument("--members", type=int, default=2, help="demo members (default 2)")


def run(args: argparse.Namespace) -> int:
    if args.url and not (args.token and args.smsc):
        print("onecard demo: --url needs --token and --smsc", file=sys.stderr)
        return 2
    if args.members < 1:
        print("onecard demo: --members is at least 1", file=sys.stderr)
        return 2
    return asyncio.run(main(args, print))


async def main(args: argparse.Namespace, out: Out) -> int:
    try:
        async with _target(args, out) as target:
            demo = Demo(target, out)
            return await demo.run(args.members)
    except (OSError, aiohttp.ClientError, TimeoutError) as exc:
        out(f"onecard demo: cannot run: {type(exc).__name__}: {exc}")
        return 1


@dataclass
class Target:
    url: str
    token: str
    smsc_host: str
    smsc_port: int
    system_id: str
    password: str


@contextlib.asynccontextmanager
async def _target(args: argparse.Namespace, out: Out) -> AsyncIterator[Target]:
    name, _, password = args.smsc_user.partition(":")
    if args.url:
        host, _, port = args.smsc.rpartition(":")
        out(f"onecard demo: gateway at {args.url}, SMSC at {args.smsc}")
        yield Target(args.url.rstrip("/"), args.token, host or "127.0.0.1", int(port), name,
                     password)
        return
    with tempfile.TemporaryDirectory(prefix="onecard-demo-") as tmp:
        async with embedded_instance(Path(tmp), (name, password)) as (url, token, port):
            out(f"onecard demo: embedded gateway at {url} (data in {tmp}), "
                f"SMSC simulator on 127.0.0.1:{port}")
            yield Target(url, token, "127.0.0.1", port, name, password)


class StoryFailed(Exception):
    """A step did not turn out as the story says; the message says what was seen."""


@dataclass
class Member:
    name: str
    msisdn: str
    iccid: str
    member_id: int
    handset: Handset

    @property
    def onecard(self) -> OneCardApplet:
        applet = self.handset.card.applet_named("onecard")
        assert isinstance(applet, OneCardApplet)
        return applet

    def card_apps(self) -> dict[str, str]:
        return {s.app.name.lower(): s.life_cycle.name.lower()
                for s in self.onecard.state.sub_apps.values()}


@dataclass
class Demo:
    target: Target
    out: Out
    master: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    admin_token: str = ""
    enterprise_id: int = 0
    members: list[Member] = field(default_factory=list)
    session: aiohttp.ClientSession | None = None

    # -- HTTP ----------------------------------------------------------------------------

    async def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                   status: int = 200, idempotent: bool = False) -> Any:
        assert self.session is not None
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        if idempotent:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        async with self.session.request(method, f"{self.target.url}/api/v1{path}", json=body,
                                        headers=headers) as resp:
            data = await resp.json(content_type=None)
            if resp.status != status:
                raise StoryFailed(f"{method} {path} answered {resp.status}: {data}")
            return data

    # -- the run -------------------------------------------------------------------------

    async def run(self, count: int) -> int:
        stories = [("空中发卡: an admin issues apps over the air", self.issue),
                   ("空中充值: an admin tops up over the air", self.topup),
                   ("应用删除: a member deletes an app from the STK menu", self.stk_delete),
                   ("短信: staff receive an SMS", self.sms),
                   ("考勤账单、消费帐单: a bill run, read on the phones", self.bills),
                   ("出账: the carrier's month rated and exported to files", self.export)]
        async with aiohttp.ClientSession() as session:
            self.session = session
            fleet = await self.setup(count)
            try:
                passed = 0
                for number, (title, story) in enumerate(stories, 1):
                    passed += await self._story(number, len(stories), title, story)
            finally:
                await fleet.stop()
        self.out(f"{passed}/{len(stories)} stories passed")
        return 0 if passed == len(stories) else 1

    async def _story(self, number: int, total: int, title: str,
                     story: Callable[[], Any]) -> int:
        self.out(f"[{number}/{total}] {title}")
        started = time.monotonic()
        try:
            await story()
        except (StoryFailed, TimeoutError) as exc:
            self.out(f"  FAILED: {exc or 'timed out'}")
            return 0
        self.out(f"  passed ({time.monotonic() - started:.2f} s)")
        return 1

    async def setup(self, count: int) -> Fleet:
        code = f"DEMO-{secrets.token_hex(3).upper()}"
        ent = await self.call("POST", "/enterprises", {
            "code": code, "name": "一卡通演示企业", "sms_signature": "一卡通",
            "modules": ["attendance", "door", "purchase", "sms", "topup"]},
            token=self.target.token, status=201)
        admin = await self.call("POST", "/admins", {
            "login": f"demo-{code.lower()}", "name": "演示管理员", "role": "enterprise_admin",
            "enterprise_id": ent["id"]}, token=self.target.token, status=201)
        self.admin_token = admin["token"]
        self.enterprise_id = int(ent["id"])
        self.out(f"setup: enterprise {code} (id {ent['id']}) and its admin")
        for index in range(count):
            self.members.append(await self._enrol(index))
        fleet = Fleet([m.handset for m in self.members], self.target.smsc_host,
                      self.target.smsc_port, system_id=self.target.system_id,
                      password=self.target.password)
        await fleet.start()
        self.out(f"setup: {count} handsets with their cards bound to the SMSC as "
                 f"{self.target.system_id!r}")
        return fleet

    async def _enrol(self, index: int) -> Member:
        serial = secrets.randbelow(10**8)
        msisdn, iccid = f"86137{serial:08d}", f"89869900{serial:011d}"
        member = await self.call("POST", "/members", {
            "msisdn": msisdn, "name": f"演示成员{index + 1}", "employee_no": f"{1001 + index}"},
            status=201)
        await self.call("PUT", f"/members/{member['id']}/service-password",
                        {"password": PASSWORD})
        keys = derive_card_keyset(self.master, iccid)
        await self.call("POST", "/cards", {"iccid": iccid, "member_id": member["id"], "keys": {
            "kic": keys.kic.hex(), "kid": keys.kid.hex()}}, status=201)
        state, _ = new_card_state(Identity(iccid, f"46000{serial:010d}", msisdn),
                                  ota_master=self.master)
        self.out(f"setup: member {member['name']} {msisdn}, card {iccid} (OTA keys derived "
                 "from the demo's key master root; service password set)")
        return Member(member["name"], msisdn, iccid, member["id"],
                      Handset(open_card(state), msisdn))

    async def job(self, job_id: int) -> dict[str, Any]:
        done: dict[str, Any] = await self.call("GET", f"/ota/jobs/{job_id}?wait={WAIT_S}")
        return done

    # -- the stories ---------------------------------------------------------------------

    async def issue(self) -> None:
        for m in self.members:
            job = await self.call("POST", f"/cards/{m.iccid}/apps", {"apps": list(APPS)},
                                  status=202, idempotent=True)
            self.out(f"  POST /cards/{m.iccid}/apps {list(APPS)} -> OTA job {job['id']} "
                     f"{job['state']}")
            done = await self.job(job["id"])
            if done["state"] != "confirmed":
                raise StoryFailed(f"job {job['id']} ended {done['state']}: {done['failure']}")
            self.out(f"  job {job['id']} confirmed by the card's PoR after {done['attempts']} "
                     f"attempt(s), counter {done['counter']}; the card shows "
                     f"{done['result']['apps']}")
            if set(m.card_apps()) != set(APPS):
                raise StoryFailed(f"the card holds {m.card_apps()}")

    async def topup(self) -> None:
        m = self.members[0]
        top = await self.call("POST", f"/cards/{m.iccid}/topups", {"amount_fen": TOPUP_FEN},
                              status=202, idempotent=True)
        card = await self.call("GET", f"/cards/{m.iccid}")
        self.out(f"  POST /cards/{m.iccid}/topups {TOPUP_FEN} fen -> top-up {top['id']} "
                 f"{top['state']}; ledger {card['balance_fen']} fen, {card['held_fen']} of them "
                 "held while the card has not confirmed")
        done = await self.call("GET", f"/topups/{top['id']}?wait={WAIT_S}")
        if done["state"] != "confirmed":
            raise StoryFailed(f"top-up {top['id']} ended {done['state']}: {done['failure']}")
        card = await self.call("GET", f"/cards/{m.iccid}")
        self.out(f"  top-up {top['id']} confirmed: the card reports {done['card_balance_fen']} "
                 f"fen (load {done['load_counter']}); ledger {card['balance_fen']} fen, "
                 f"{card['held_fen']} held")
        if m.onecard.state.purse.balance != TOPUP_FEN or card["balance_fen"] != TOPUP_FEN:
            raise StoryFailed("the card and the ledger do not both hold the top-up")

    async def stk_delete(self) -> None:
        m = self.members[-1]
        phone = m.handset
        await phone.press_menu("应用删除")
        await phone.select_item("门禁")
        await phone.type_input(PASSWORD)
        self.out(f"  {m.name} pressed 一卡通 > 应用删除 > 门禁, typed the service password; "
                 f"the phone shows {phone.last_text()!r}")
        deadline = time.monotonic() + WAIT_S
        while "door" in m.card_apps() or not await self._removed(m, "door"):
            if time.monotonic() > deadline:
                raise StoryFailed(f"door still on the card: {m.card_apps()}")
            await asyncio.sleep(0.05)
        self.out(f"  the gateway checked the password and deleted 门禁 over the air; the card "
                 f"now holds {sorted(m.card_apps())}")
        entries = await self.call("GET", "/blacklist?since=0")
        mine = [e for e in entries["entries"] if e["iccid"] == m.iccid]
        self.out(f"  blacklist: {[(e['app'], e['reason']) for e in mine]}")
        if not any(e["app"] == "door" for e in mine):
            raise StoryFailed("no blacklist entry for the deleted app")

    async def _removed(self, m: Member, app: str) -> bool:
        card = await self.call("GET", f"/cards/{m.iccid}")
        return any(a["app"] == app and a["state"] == "removed" for a in card["apps"])

    async def bills(self) -> None:
        await bill_story(self)

    async def export(self) -> None:
        await export_story(self)

    async def sms(self) -> None:
        wanted = [(self.members[0], "空中充值"), (self.members[-1], "门禁应用已于")]
        deadline = time.monotonic() + WAIT_S
        for m, fragment in wanted:
            while not any(fragment in x.text for x in m.handset.inbox):
                if time.monotonic() > deadline:
                    raise StoryFailed(f"no SMS with {fragment!r} for {m.msisdn}")
                await asyncio.sleep(0.05)
            text = next(x.text for x in m.handset.inbox if fragment in x.text)
            self.out(f"  SMS to {m.msisdn}: {text}")
