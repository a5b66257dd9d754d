"""The emulated card in a real PC/SC reader: pcscd + vpcd, pyscard and opensc-tool."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from ota.onecard_apdu import Credit, SubApp
from sim_emulator.atr import ATR
from sim_emulator.desk import PersonalisationPlan, SubAppPlan, personalise
from sim_emulator.encoding import decode_iccid
from sim_emulator.errors import VpcdError
from sim_emulator.sam import Sam
from sim_emulator.state import CardState
from sim_emulator.terminals import AccessTerminal, PosTerminal, terminal_id_of
from sim_emulator.transport import PcscTransport
from sim_emulator.vpcd import parse_endpoint
from tests.sim_emulator.conftest import PORT, PcscCard, _wait, card_present, opensc_tool
from tests.sim_emulator.helpers import OtaSender

pytestmark = pytest.mark.pcsc
MASTER = bytes(range(48, 64))


def transmit(connection: Any, hexapdu: str) -> tuple[bytes, int]:
    data, sw1, sw2 = connection.transmit(list(bytes.fromhex(hexapdu)))
    return bytes(data), (sw1 << 8) | sw2


def test_atr_through_pcscd(connection: Any) -> None:
    assert bytes(connection.getATR()) == ATR


def test_select_by_fid_and_path_with_and_without_fcp(connection: Any,
                                                     pcsc_card: PcscCard) -> None:
    data, sw = transmit(connection, "00a40004023f00")
    assert sw == 0x9000 and data[0] == 0x62
    assert transmit(connection, "00a4000c023f00") == (b"", 0x9000)
    assert transmit(connection, "00a4080c022fe2") == (b"", 0x9000)
    data, sw = transmit(connection, "00b000000a")
    assert sw == 0x9000 and decode_iccid(data) == pcsc_card.secrets.identity.iccid
    data, sw = transmit(connection, "00a40804047f206f07")
    assert sw == 0x9000 and bytes.fromhex("83026f07") in data
    assert transmit(connection, "00a4000c024f4f")[1] == 0x6A82


def test_pin_over_pcsc(connection: Any) -> None:
    block = b"1234".ljust(8, b"\xff").hex()
    assert transmit(connection, "0020000108" + b"9999".ljust(8, b"\xff").hex())[1] == 0x63C2
    assert transmit(connection, "0020000108" + block)[1] == 0x9000
    assert transmit(connection, "0020000100")[1] == 0x9000


def test_opensc_tool_sees_the_card(pcsc_card: PcscCard) -> None:
    tool = opensc_tool()
    out = subprocess.run([tool, "--reader", pcsc_card.reader, "--atr"], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert ATR.hex(":") in out.stdout.lower()
    out = subprocess.run([tool, "--reader", pcsc_card.reader, "-s", "00:A4:00:04:02:3F:00",
                          "-s", "00:A4:00:0C:02:2F:E2", "-s", "00:B0:00:00:0A"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("SW1=0x90, SW2=0x00") == 3
    assert "62 " in out.stdout  # the FCP template


def test_issuing_desk_and_terminals_over_pcsc(pcsc_card: PcscCard) -> None:
    transport = PcscTransport(pcsc_card.reader)
    try:
        result = personalise(transport, PersonalisationPlan(
            enterprise_id=5, sam_master=MASTER, transport_key=pcsc_card.secrets.transport_key,
            sub_apps=(SubAppPlan(SubApp.PURSE, "2001", b"cred", 100_000),
                      SubAppPlan(SubApp.DOOR, "2001", b"door"))))
        assert result.iccid == pcsc_card.secrets.identity.iccid
        OtaSender(pcsc_card.card, pcsc_card.secrets.ota).onecard(Credit(5_000, bytes(16)))
        when = datetime.datetime(2025, 5, 5, 11, 30, tzinfo=datetime.UTC)
        pos = PosTerminal("000000000051", Sam(5, MASTER, terminal_id_of("000000000051")))
        record = pos.purchase(transport, 1_500, when)
        assert record.card_balance_fen == 3_500
        door = AccessTerminal("000000000052", Sam(5, MASTER, terminal_id_of("000000000052")))
        assert door.present(transport, when).result == "granted"
    finally:
        transport.close()
    # The bridge saved the card after every command: the file holds the purchase.
    saved = CardState.from_json(pcsc_card.file.path.read_text())
    assert saved.sections["onecard"]["purse"]["balance"] == 3_500


def test_card_cli_personalise(pcsc_card: PcscCard, capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    rc = main(["card", "personalise", "--reader", pcsc_card.reader, "--enterprise", "6",
               "--sam-master", MASTER.hex(), "--transport-key",
               pcsc_card.secrets.transport_key.hex(), "--install", "attendance",
               "--member", "3001", "--credential", "0a0b0c0d"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["installed"] == ["attendance"]
    rc = main(["card", "iccid", "--reader", pcsc_card.reader])
    assert rc == 0 and capsys.readouterr().out.strip() == pcsc_card.secrets.identity.iccid
    rc = main(["card", "personalise", "--reader", pcsc_card.reader, "--enterprise", "6",
               "--sam-master", MASTER.hex(), "--transport-key", "00" * 16])
    assert rc == 1 and "63C" in capsys.readouterr().err


def test_sim_serve_creates_a_card_and_serves_it(pcscd: str, tmp_path: pathlib.Path) -> None:
    reader = f"{pcscd} 00 01"
    assert _wait(lambda: not card_present(reader), 5)
    path = tmp_path / "new.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "sim", "serve", "--vpcd", f"127.0.0.1:{PORT + 1}",
         "--card", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, cwd=pathlib.Path(__file__).parents[2])
    try:
        assert process.stdout is not None
        printed = json.loads(process.stdout.readline())
        assert path.exists() and printed["iccid"] and len(printed["transport_key"]) == 32
        assert _wait(lambda: card_present(reader), 10)
        transport = PcscTransport(reader)
        try:
            from sim_emulator.desk import read_iccid

            assert read_iccid(transport) == printed["iccid"]
        finally:
            transport.close()
    finally:
        process.terminate()
        process.wait(10)
    assert _wait(lambda: not card_present(reader), 5)
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # the file holds the card's keys


def test_parse_endpoint() -> None:
    assert parse_endpoint("10.0.0.1:4000") == ("10.0.0.1", 4000)
    assert parse_endpoint("host") == ("host", 35963)
    assert parse_endpoint(":4000") == ("127.0.0.1", 4000)
    with pytest.raises(VpcdError):
        parse_endpoint("host:port")
