"""Emulated SIM throughput: OTA top-ups in one card, APDUs through PC/SC, top-ups end to end.

Prints one line per figure, then one JSON line with all of them. Run:
``.venv/bin/python bench/sim.py [--seconds S] [--fleet N] [--skip-pcsc] [--skip-fleet]``.

* ``card_topups_in_process``: OTA top-ups one card processes (ENVELOPE SMS-PP DOWNLOAD with a
  ciphered, CC'd CREDIT → SCP80 checks → credit → ciphered PoR), packets built beforehand.
* ``card_topups_saved``: the same with the card file written after each top-up (as the
  handset and the vpcd bridge do; no fsync).
* ``card_apdus_in_process``: READ BINARY APDUs through ``SimCard.execute``.
* ``pcsc_apdus``: READ BINARY through pyscard → pcscd → vpcd → ``onecard sim serve`` (a
  separate process), target at least 5,000/s. Skipped with a reason when PC/SC is missing.
* ``fleet_topups_e2e``: confirmed top-ups (PoR back and verified) through TCP SMPP: this
  process as the gateway's ESME (window 100) → ``onecard smsc`` → ``onecard sim fleet`` of
  ``--fleet`` handsets, three processes on this machine. The gateway needs at least 300/s
  through this path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from ota.keys import derive_card_keyset
from ota.onecard_apdu import TAR_ONECARD, Credit, Install, Personalise, SubApp, script
from ota.packet import build_command
from ota.por import verify_por
from ota.smspp import command_segments
from ota.spi import CounterMode, Integrity, PorRequest, Spi
from sim_emulator.factory import new_card_state, open_card
from sim_emulator.storage import CardFile, save_state
from smpp.sms import SmsDeliver
from smpp.sms_fields import Address
from smpp.udh import Udh
from stk.envelopes import SmsPpDownload

SPI = Spi(CounterMode.HIGHER, True, Integrity.CC, PorRequest.ALWAYS, Integrity.CC, True)
MASTER = bytes(range(16))
SERVICE = "10658888"
ROOT = pathlib.Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def envelope(packet: bytes) -> bytes:
    (tp_ud,) = command_segments(packet)
    udh, payload = Udh.decode(tp_ud)
    import datetime

    tpdu = SmsDeliver(Address.parse(SERVICE), datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
                      0x7F, 0xF6, udh, payload).encode()
    return SmsPpDownload(tpdu=tpdu).to_apdu()


def card_figures(seconds: float, tmp: pathlib.Path) -> dict[str, float]:
    state, secrets = new_card_state(ota_master=MASTER)
    card = open_card(state)
    keyset = secrets.ota
    first = build_command(SPI, keyset, TAR_ONECARD, 1, script(
        Install(SubApp.PURSE, 1), Personalise(SubApp.PURSE, "1", b"abcd", 2**32 - 1)))
    assert card.execute(envelope(first))[-2:] == b"\x90\x00"
    count = max(2000, int(seconds * 4000))
    envelopes = [envelope(build_command(SPI, keyset, TAR_ONECARD, 2 + i,
                                        script(Credit(1, i.to_bytes(16, "big")))))
                 for i in range(2 * count)]
    start = time.perf_counter()
    for apdu in envelopes[:count]:
        response = card.execute(apdu)
    in_process = count / (time.perf_counter() - start)
    assert verify_por(response[:-2], SPI, keyset).ok
    path = tmp / "card.json"
    save_state(path, card.snapshot(), durable=False)
    card_file = CardFile(path, card, durable=False)
    saved_count = count // 4
    start = time.perf_counter()
    for apdu in envelopes[count:count + saved_count]:
        card.execute(apdu)
        card_file.save_if_dirty()
    saved = saved_count / (time.perf_counter() - start)
    read = bytes.fromhex("00b000000a")
    card.execute(bytes.fromhex("00a4000c022fe2"))
    n = int(seconds * 50_000)
    start = time.perf_counter()
    for _ in range(n):
        card.execute(read)
    return {"card_topups_in_process": in_process, "card_topups_saved": saved,
            "card_apdus_in_process": n / (time.perf_counter() - start)}


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def pcsc_figures(seconds: float, tmp: pathlib.Path) -> dict[str, float]:
    try:
        from smartcard.System import readers
    except ImportError:
        print("pcsc_apdus: skipped (pyscard not installed)")
        return {}
    driver = pathlib.Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
    if shutil.which("pcscd") is None or not driver.exists():
        print("pcsc_apdus: skipped (pcscd or the vpcd driver missing)")
        return {}

    def names() -> list[str]:
        try:
            return [str(r) for r in readers()]
        except Exception:
            return []

    daemon = None
    if not any(n.startswith("SIM Emu") for n in names()):
        config = tmp / "pcscd"
        config.mkdir()
        (config / "vpcd").write_text(f'FRIENDLYNAME "SIM Emu"\nDEVICENAME /dev/null:35963\n'
                                     f"LIBPATH {driver}\nCHANNELID 35963\n")
        daemon = subprocess.Popen(["pcscd", "--foreground", "--config", str(config)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: any(n.startswith("SIM Emu") for n in names()), 10)
    server = subprocess.Popen([PYTHON, "-m", "gateway.cli", "sim", "serve", "--vpcd",
                               "127.0.0.1:35963", "--card", str(tmp / "pcsc.json"),
                               "--log-level", "WARNING"], cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        reader = next((r for r in readers() if str(r) == "SIM Emu 00 00"), None)
        connection = reader.createConnection() if reader else None

        def connected() -> bool:
            try:
                connection.connect()  # type: ignore[union-attr]
                return True
            except Exception:
                return False

        if connection is None or not wait_for(connected, 10):
            print("pcsc_apdus: skipped (the card did not appear in SIM Emu 00 00)")
            return {}
        connection.transmit(list(bytes.fromhex("00a4000c022fe2")))
        apdu = list(bytes.fromhex("00b000000a"))
        best = 0.0
        for _ in range(5):
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / 5:
                for _ in range(100):
                    connection.transmit(apdu)
                count += 100
            best = max(best, count / (time.perf_counter() - start))
        connection.disconnect()
        with contextlib.suppress(Exception):
            connection.release()  # before pcscd goes away, or pyscard complains at exit
        return {"pcsc_apdus": best}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(3)
            except subprocess.TimeoutExpired:
                daemon.kill()


async def fleet_topups(seconds: float, count: int, tmp: pathlib.Path) -> float:
    from smpp.client import Esme
    from smpp.esmeconf import EsmeConfig
    from smpp.mo import MoMessage

    smsc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "gateway.cli", "smsc", "--port", "0", "--window", "200",
        "--log-level", "ERROR", cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    assert smsc.stdout is not None
    port = int((await smsc.stdout.readline()).decode().rsplit(":", 1)[1])
    fleet = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "gateway.cli", "sim", "fleet", "--smsc", f"127.0.0.1:{port}", "--count",
        str(count), "--state", str(tmp / "fleet"), "--ota-master", MASTER.hex(),
        "--log-level", "ERROR", cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    assert fleet.stdout is not None
    try:
        if not await asyncio.wait_for(fleet.stdout.readline(), 120):
            raise SystemExit("onecard sim fleet did not start")
        return await _drive(port, count, seconds, Esme, EsmeConfig, MoMessage)
    finally:
        for process in (fleet, smsc):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            await process.wait()


async def _drive(port: int, count: int, seconds: float, esme_cls: type, config_cls: type,
                 _mo: type) -> float:
    from sim_emulator.factory import identity_for

    cards = [identity_for(i) for i in range(count)]
    keys = {c.msisdn: derive_card_keyset(MASTER, c.iccid) for c in cards}
    counters = dict.fromkeys(keys, 0)
    confirmed = 0
    done = asyncio.Event()
    inbound: asyncio.Queue[object] = asyncio.Queue()

    async def on_mo(message: object) -> None:
        inbound.put_nowait(message)

    esme = esme_cls(config_cls(port=port, system_id="gateway", source_addr=SERVICE,
                               address_range=f"^{SERVICE}$", window=100), on_mo=on_mo)
    await esme.start(timeout=10)

    def packet(msisdn: str, data: bytes) -> list[bytes]:
        counters[msisdn] += 1
        return command_segments(build_command(SPI, keys[msisdn], TAR_ONECARD, counters[msisdn],
                                              data))

    for msisdn in keys:
        esme.submit_parts  # noqa: B018 - the ESME is started
        await esme.submit_binary(msisdn, packet(msisdn, script(
            Install(SubApp.PURSE, 1), Personalise(SubApp.PURSE, "1", b"abcd", 2**32 - 1))),
            source=SERVICE, registered_delivery=0)
    for _ in keys:
        await asyncio.wait_for(inbound.get(), 30)

    async def consume() -> None:
        nonlocal confirmed
        while not done.is_set():
            message = await inbound.get()
            por = verify_por(message.udh.encode() + message.payload,  # type: ignore[attr-defined]
                             SPI, keys[message.source])  # type: ignore[attr-defined]
            if por.ok:
                confirmed += 1

    consumer = asyncio.ensure_future(consume())
    sent = 0
    start = time.perf_counter()
    txn = os.urandom(8)
    while time.perf_counter() - start < seconds:
        batch = []
        for msisdn in keys:
            sent += 1
            data = script(Credit(1, txn + sent.to_bytes(8, "big")))
            batch.append(esme.submit_binary(msisdn, packet(msisdn, data), source=SERVICE,
                                            registered_delivery=0))
        await asyncio.gather(*batch)
        while sent - confirmed > 4 * count:  # keep a bounded amount in flight
            await asyncio.sleep(0.005)
    deadline = time.perf_counter() + 30
    while confirmed < sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    done.set()
    consumer.cancel()
    await esme.stop()
    return confirmed / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per figure")
    parser.add_argument("--fleet", type=int, default=50, help="handsets in the fleet")
    parser.add_argument("--skip-pcsc", action="store_true")
    parser.add_argument("--skip-fleet", action="store_true")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = pathlib.Path(tmp_name)
        figures.update(card_figures(args.seconds, tmp))
        if not args.skip_pcsc:
            figures.update(pcsc_figures(args.seconds, tmp))
        if not args.skip_fleet:
            figures["fleet_topups_e2e"] = asyncio.run(fleet_topups(args.seconds, args.fleet, tmp))
    for name, value in figures.items():
        print(f"{name}: {value:,.0f}/s")
    print(json.dumps({name: round(value) for name, value in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
