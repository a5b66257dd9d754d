"""ota.onecard_apdu: the one-card applet's APDUs (formats in the module docstring)."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota.errors import ApduFormatError, OtaError
from ota.onecard_apdu import (
    TAR_ONECARD,
    BalanceResult,
    CommandApdu,
    Credit,
    CreditResult,
    Delete,
    GetStatus,
    Install,
    LifeCycle,
    OneCardCommand,
    Personalise,
    ReadBalance,
    SetStatus,
    StatusEntry,
    SubApp,
    decode_command,
    decode_status,
    encode_status,
    script,
    split_apdus,
)

TXN = bytes(range(16))
COMMANDS: list[OneCardCommand] = [
    Install(SubApp.PURSE, 12345),
    Personalise(SubApp.PURSE, "20240001", b"\x01\x02\x03\x04", 100_000,
                datetime.date(2027, 12, 31)),
    Personalise(SubApp.DOOR, "7", bytes(16)),
    SetStatus(SubApp.DOOR, locked=True),
    SetStatus(SubApp.ATTENDANCE, locked=False),
    Delete(SubApp.ATTENDANCE),
    GetStatus(),
    Credit(500, TXN),
    ReadBalance(),
]


def test_documented_encodings() -> None:
    assert TAR_ONECARD.hex() == "4f4e45"
    assert Credit(500, TXN).apdu().encode().hex() == "8052000014000001f4" + TXN.hex() + "00"
    assert ReadBalance().apdu().encode().hex() == "805c000200"
    assert Delete(SubApp.DOOR).apdu().encode().hex() == "80e400000b4f09f04f4e454341524401"
    assert SetStatus(SubApp.DOOR, True).apdu().encode().hex() == (
        "80f040800b4f09f04f4e454341524401")
    assert GetStatus().apdu().encode().hex() == "80f24002024f0000"
    assert Install(SubApp.PURSE, 1).apdu().encode().hex() == (
        "80e60c002708f04f4e454341524409f04f4e45434152440309f04f4e4543415244030100"
        "06c9040000000100" "00")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_every_command_round_trips(command: OneCardCommand) -> None:
    assert decode_command(command.apdu().encode()) == command


def test_script_splits_back_into_its_commands() -> None:
    assert [decode_command(a) for a in split_apdus(script(*COMMANDS))] == COMMANDS


def test_responses_round_trip() -> None:
    assert BalanceResult.decode(BalanceResult(12345, 7).encode()) == BalanceResult(12345, 7)
    credit = CreditResult(1000, 8, replayed=True)
    assert CreditResult.decode(credit.encode()) == credit
    entries = (StatusEntry(SubApp.DOOR, LifeCycle.LOCKED),
               StatusEntry(SubApp.PURSE, LifeCycle.PERSONALISED))
    assert decode_status(encode_status(entries)) == entries


@pytest.mark.parametrize("make", [
    lambda: Credit(0, TXN), lambda: Credit(1, b"short"), lambda: Credit(2**32, TXN),
    lambda: Personalise(SubApp.DOOR, "12a", bytes(4)),
    lambda: Personalise(SubApp.DOOR, "1", bytes(3)),
    lambda: Personalise(SubApp.DOOR, "1", bytes(4), purse_limit_fen=10),
    lambda: Personalise(SubApp.PURSE, "1", bytes(4)),
    lambda: Install(SubApp.DOOR, -1),
])
def test_invalid_commands_are_refused(make: Callable[[], OneCardCommand]) -> None:
    with pytest.raises(ApduFormatError):
        make().apdu()


@pytest.mark.parametrize("raw", [
    "00a40004023f00",  # not the applet's CLA
    "80aa000000",  # unknown INS
    "805c000100",  # READ BALANCE with wrong P2
    "80e400000b4f09f04f4e4543415244ff",  # unknown sub-application
    "80e400000b4f09a04f4e454341524401",  # foreign AID
    "8052000003000001",  # CREDIT without its transaction id
])
def test_malformed_apdus(raw: str) -> None:
    with pytest.raises(ApduFormatError):
        decode_command(bytes.fromhex(raw))


def test_malformed_responses() -> None:
    with pytest.raises(ApduFormatError):
        BalanceResult.decode(b"\x00" * 5)
    with pytest.raises(ApduFormatError):
        CreditResult.decode(b"\x00" * 6 + b"\x02")
    with pytest.raises(ApduFormatError):
        decode_status(bytes.fromhex("e3034f0100"))


def test_apdu_case_coding() -> None:
    assert CommandApdu.decode(b"\x80\x5c\x00\x02") == CommandApdu(0x80, 0x5C, 0, 2)
    assert CommandApdu.decode(b"\x80\x5c\x00\x02\x06").le == 6
    with pytest.raises(ApduFormatError):
        CommandApdu.decode(b"\x80\x5c\x00")
    with pytest.raises(ApduFormatError):
        CommandApdu.decode(b"\x80\xe4\x00\x00\x05\x01")
    with pytest.raises(ApduFormatError):
        CommandApdu(0x80, 0xE2, 0, 0, bytes(256)).encode()


@given(st.binary(max_size=80))
def test_random_input_raises_only_our_errors(data: bytes) -> None:
    with contextlib.suppress(OtaError):
        decode_command(data)
    with contextlib.suppress(OtaError):
        split_apdus(data)
    with contextlib.suppress(OtaError):
        decode_status(data)
