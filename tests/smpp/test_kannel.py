"""Interoperability with Kannel (Debian's ``kannel``), an ESME we did not write.

Kannel's bearerbox binds to our SMSC simulator as a transceiver; its smsbox takes MT over
HTTP (sendsms) and hands MO and delivery reports to an HTTP server of the test. Setup facts in
notes/smpp.md. The handset on the other side is our own ESME bound with an address_range.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from smpp.client import Esme
from smpp.mo import MoMessage
from smpp.simulator import Route, Smsc, SmscConfig, User
from tests.smpp.conftest import FAST_ESME, HANDSET
from tests.support import need_binary

pytestmark = [pytest.mark.kannel, pytest.mark.slow]

KANNEL = User("kannel", "secret")
PHONE = "8613800000000"
SERVICE = "10658888"
TEXT = "您好！您的一卡通已充值100元，当前余额128.50元。门禁、考勤、消费均可正常使用，谢谢。" * 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Callbacks:
    """What smsbox calls back: MO messages and delivery reports."""

    mo: list[dict[str, str]] = field(default_factory=list)
    dlr: list[dict[str, str]] = field(default_factory=list)


def kannel_conf(smsc_port: int, admin: int, box: int, sendsms: int, http: int) -> str:
    return f"""
group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = bar
admin-allow-ip = "127.0.0.1"
smsbox-port = {box}
smsbox-interface = 127.0.0.1
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
log-file = "bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = {smsc_port}
transceiver-mode = true
smsc-username = {KANNEL.system_id}
smsc-password = {KANNEL.password}
system-type = ""
interface-version = 34
enquire-link-interval = 30
max-pending-submits = 100
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {box}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "smsbox.log"
log-level = 1
mo-recode = true

group = sendsms-user
username = tester
password = foobar
concatenation = true
max-messages = 10

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "http://127.0.0.1:{http}/mo?from=%p&to=%P&coding=%c&text=%a"
"""


@contextlib.asynccontextmanager
async def http_sink(port: int, callbacks: Callbacks) -> AsyncIterator[None]:
    async def mo(request: web.Request) -> web.Response:
        callbacks.mo.append(dict(request.query))
        return web.Response(text="")

    async def dlr(request: web.Request) -> web.Response:
        callbacks.dlr.append(dict(request.query))
        return web.Response(text="")

    app = web.Application()
    app.router.add_get("/mo", mo)
    app.router.add_get("/dlr", dlr)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


@dataclass
class Setup:
    smsc: Smsc
    handset_inbox: list[MoMessage]
    handset: Esme
    callbacks: Callbacks
    sendsms: int
    http: int


async def _wait(predicate: object, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def kannel(tmp_path: Path) -> AsyncIterator[Setup]:
    bearerbox = need_binary("bearerbox", "kannel")
    smsbox = need_binary("smsbox", "kannel")
    users = (KANNEL, HANDSET)
    smsc = Smsc(SmscConfig(port=0, users=users, routes=(Route.parse(f"^{SERVICE}=kannel"),)))
    await smsc.start()
    inbox: list[MoMessage] = []

    async def on_mo(message: MoMessage) -> None:
        inbox.append(message)

    handset = Esme(
        replace(
            FAST_ESME,
            port=smsc.port,
            system_id=HANDSET.system_id,
            password=HANDSET.password,
            source_addr=PHONE,
            address_range=f"^{PHONE}$",
        ),
        on_mo=on_mo,
    )
    await handset.start(timeout=5)
    callbacks = Callbacks()
    ports = [free_port() for _ in range(4)]
    admin, box, sendsms, http = ports
    conf = tmp_path / "kannel.conf"
    conf.write_text(kannel_conf(smsc.port, admin, box, sendsms, http))
    processes: list[subprocess.Popen[bytes]] = []
    async with http_sink(http, callbacks):
        try:
            for binary in (bearerbox, smsbox):
                processes.append(
                    subprocess.Popen(
                        [binary, str(conf)],
                        cwd=tmp_path,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
                await asyncio.sleep(0.5)
            await _wait(
                lambda: any(b.system_id == KANNEL.system_id for b in smsc.binds),
                20,
                "Kannel's bind",
            )
            yield Setup(smsc, inbox, handset, callbacks, sendsms, http)
        finally:
            for process in reversed(processes):
                process.terminate()
            for process in reversed(processes):
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            await handset.stop(timeout=1)
            await smsc.stop(timeout=1)


async def _sendsms(setup: Setup, text: str) -> str:
    dlr_url = f"http://127.0.0.1:{setup.http}/dlr?status=%d&to=%p&smsc_reply=%A"
    params = {
        "username": "tester",
        "password": "foobar",
        "to": PHONE,
        "from": SERVICE,
        "charset": "UTF-8",
        "coding": "2",
        "text": text,
        "dlr-mask": "31",
        "dlr-url": dlr_url,
    }
    async with aiohttp.ClientSession() as session:
        deadline = asyncio.get_running_loop().time() + 15
        while True:  # smsbox opens its port once it has joined bearerbox
            try:
                async with session.get(
                    f"http://127.0.0.1:{setup.sendsms}/cgi-bin/sendsms", params=params
                ) as response:
                    body = await response.text()
                    assert response.status == 202, body
                    return body
            except aiohttp.ClientConnectionError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)


async def test_long_chinese_mt_through_kannel_with_receipt(kannel: Setup) -> None:
    await _sendsms(kannel, TEXT)
    await _wait(lambda: bool(kannel.handset_inbox), 20, "the handset to get the message")
    [message] = kannel.handset_inbox
    assert message.text == TEXT and message.parts >= 2
    assert (message.source, message.destination) == (SERVICE, PHONE)
    # The simulator reassembled what Kannel sent (esm_class UDHI + concatenation UDH).
    logged = [m for m in kannel.smsc.messages if m.origin == KANNEL.system_id]
    assert [m.text for m in logged] == [TEXT] and logged[0].parts == message.parts
    # Kannel asks a receipt for the first part; the handset acked, so the receipt is DELIVRD.
    await _wait(lambda: any(d.get("status") == "1" for d in kannel.callbacks.dlr), 20, "the DLR")
    assert kannel.smsc.stats["receipts_delivered"] >= 1


async def test_mo_through_the_simulator_to_kannel(kannel: Setup) -> None:
    await kannel.handset.submit(SERVICE, "余额查询 YE")
    await _wait(lambda: bool(kannel.callbacks.mo), 20, "Kannel's MO callback")
    [mo] = kannel.callbacks.mo
    assert (mo["from"].lstrip("+"), mo["to"].lstrip("+")) == (PHONE, SERVICE)
    assert mo["text"] == "余额查询 YE"
