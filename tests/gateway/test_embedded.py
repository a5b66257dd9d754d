"""The embedded stack: ordered start, reverse stop, and a demo tenant that survives restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway import keys
from gateway.app import create_app
from gateway.embedded import DemoTenant, EmbeddedContext, EmbeddedStack, SimFleet, SmscSimulator
from gateway.settings import Settings
from ota.keys import derive_card_keyset
from tests.gateway.helpers import Api, idem, new_iccid, new_msisdn
from tests.gateway.ota_stack import Phone

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


async def test_cards_registered_later_get_a_phone(aiohttp_client: Any,
                                                 sqlite_settings: Settings) -> None:
    """In the embedded world a card an admin registers through the API is in a phone on the
    simulator by the time the API answers: it can be issued and topped up over the air; its
    replacement goes into the same phone. A card registered with its own keys is left alone."""
    client = await aiohttp_client(create_app(sqlite_settings.replace(
        operator_token=None, demo_members=1)))
    ctx = EmbeddedContext(deps=client.app[keys.DEPS], base_url="http://x", app=client.app)
    sims = SimFleet()
    async with EmbeddedStack(ctx, [DemoTenant(), SmscSimulator(), sims], out=lambda line: None):
        api, token = Api(client), ctx.admin_token
        msisdn, iccid = new_msisdn(), new_iccid()
        member = await api.ok("POST", f"{V1}/members", 201, token=token,
                              body={"msisdn": msisdn, "name": "后来者"})
        await api.ok("POST", f"{V1}/cards", 201, token=token,
                     body={"iccid": iccid, "member_id": member["id"]})
        phone = Phone(member, iccid, msisdn, sims.phones[msisdn])
        assert phone.card.state.iccid == iccid

        job = await api.ok("POST", f"{V1}/cards/{iccid}/apps", 202, token=token, key=idem(),
                           body={"apps": ["purse"]})
        done = await api.ok("GET", f"{V1}/ota/jobs/{job['id']}?wait=20", token=token)
        assert done["state"] == "confirmed", done
        top = await api.ok("POST", f"{V1}/cards/{iccid}/topups", 202, token=token, key=idem(),
                           body={"amount_fen": 1234})
        done = await api.ok("GET", f"{V1}/topups/{top['id']}?wait=20", token=token)
        assert (done["state"], done["card_balance_fen"]) == ("confirmed", 1234), done
        assert phone.balance == 1234  # on the card in the phone, not only in the PoR

        replacement = new_iccid()
        await api.ok("POST", f"{V1}/cards/{iccid}/replace", token=token, key=idem(),
                     body={"new_iccid": replacement})
        assert sims.phones[msisdn] is phone.handset and phone.card.state.iccid == replacement
        jobs = await api.ok("GET", f"{V1}/ota/jobs", token=token,
                            params={"iccid": replacement, "kind": "issue"})
        (issue,) = jobs["items"]
        done = await api.ok("GET", f"{V1}/ota/jobs/{issue['id']}?wait=20", token=token)
        assert done["state"] == "confirmed", done
        assert phone.apps() == {"purse": "personalised"}  # the new card, in the phone
        new = await api.ok("GET", f"{V1}/cards/{replacement}", token=token)
        assert new["balance_fen"] == 1234  # the ledger balance moved with the member

        own = new_msisdn()
        owner = await api.ok("POST", f"{V1}/members", 201, token=token,
                             body={"msisdn": own, "name": "自带密钥"})
        keyset = derive_card_keyset(b"\x11" * 16, "89860000000000999999")
        await api.ok("POST", f"{V1}/cards", 201, token=token, body={
            "iccid": "89860000000000999999", "member_id": owner["id"],
            "keys": {"kic": keyset.kic.hex(), "kid": keyset.kid.hex()}})
        assert own not in sims.phones
    folder = sqlite_settings.data_dir / "embedded-sims"
    assert {p.stem for p in folder.glob("*.json")} >= {iccid, replacement}
    await client.close()

    # The next run finds the live card in its file, in the same phone, with what it holds.
    client = await aiohttp_client(create_app(sqlite_settings.replace(
        operator_token=None, demo_members=1)))
    ctx = EmbeddedContext(deps=client.app[keys.DEPS], base_url="http://x", app=client.app)
    sims = SimFleet()
    async with EmbeddedStack(ctx, [DemoTenant(), SmscSimulator(), sims], out=lambda line: None):
        phone = Phone(member, replacement, msisdn, sims.phones[msisdn])
        assert phone.card.state.iccid == replacement
        assert phone.apps() == {"purse": "personalised"}  # saved with the card
        assert own not in sims.phones and len(sims.phones) == 2


async def test_a_first_run_stopped_before_issuance_is_finished_by_the_next(
        aiohttp_client: Any, sqlite_settings: Settings) -> None:
    """The first run seeds the demo tenant and stops before its SIM fleet issues anything; the
    next run issues the demo cards' applications and tops them up; the one after that leaves
    them as they are (no second top-up)."""
    settings = sqlite_settings.replace(operator_token=None, demo_members=2)
    balances = []
    for components in ([DemoTenant()], [DemoTenant(), SmscSimulator(), SimFleet()],
                       [DemoTenant(), SmscSimulator(), SimFleet()]):
        client = await aiohttp_client(create_app(settings))
        ctx = EmbeddedContext(deps=client.app[keys.DEPS], base_url="http://x", app=client.app)
        async with EmbeddedStack(ctx, components, out=lambda line: None):
            cards = await Api(client).ok("GET", f"{V1}/cards", token=ctx.admin_token)
            balances.append(sorted((c["balance_fen"], len(c["apps"])) for c in cards["items"]))
        await client.close()
    assert balances == [[(0, 0), (0, 0)], [(10_000, 3), (10_000, 3)], [(10_000, 3), (10_000, 3)]]


# --- ``onecard serve --embedded`` as a user runs it (the README's ./scripts/run) --------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _banner(proc: subprocess.Popen[str], until: str, timeout: float) -> dict[str, str]:
    """Banner lines ``Label: value`` read from the process's stdout until one contains
    ``until``."""
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    lines: dict[str, str] = {}
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        line = await asyncio.wait_for(loop.run_in_executor(None, proc.stdout.readline),
                                      max(remaining, 0.1))
        if not line:
            error = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"onecard serve exited early: {error}")
        label, _, value = line.partition(":")
        lines[label.strip()] = value.strip()
        if until in line:
            return lines


async def test_onecard_serve_embedded_delivers_a_member_sms(tmp_path: Path) -> None:
    """The real command in a subprocess: SQLite, SMSC simulator, handsets with cards, demo
    tenant; the banner's admin token works, and a loss report's SMS reaches the member's
    handset (the SMSC has the handset's deliver_sm_resp: the outbox row is delivered)."""
    port = _free_port()
    env = {**os.environ, "ONECARD_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--embedded", "--port", str(port),
         "--data-dir", str(tmp_path / "data")], env=env, cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        banner = await _banner(proc, "over the air", timeout=180)
        assert f"{base}/api/v1/" in banner["Admin API"]
        assert banner["SMSC simulator"].startswith("127.0.0.1:")
        assert banner["SIM fleet"].startswith("5 emulated handsets")
        token = banner["Demo admin (DEMO) token"]
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200
            async with http.get(f"{base}/api/v1/cards") as resp:
                card = (await resp.json())["items"][0]
            async with http.post(f"{base}/api/v1/cards/{card['iccid']}/loss", json={},
                                 headers={"Idempotency-Key": "smoke-loss"}) as resp:
                assert resp.status == 200, await resp.text()
            sms = await _delivered_notice(http, base, card["member_id"])
        assert sms["text"].startswith("【一卡通】") and "挂失" in sms["text"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


async def _delivered_notice(http: aiohttp.ClientSession, base: str,
                            member_id: int) -> dict[str, Any]:
    for _ in range(300):
        async with http.get(f"{base}/api/v1/sms", params={"member_id": member_id,
                                                            "kind": "service"}) as resp:
            items = (await resp.json())["items"]
        lost = [s for s in items if "挂失" in s["text"]]
        if lost and lost[0]["state"] == "delivered":
            return dict(lost[0])
        await asyncio.sleep(0.1)
    raise AssertionError(f"the loss report SMS was not delivered: {items}")
