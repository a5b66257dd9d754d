"""MO requests of the STK applet and the STK menu file (ota.mo_request), both roles."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota.errors import CounterTooLow, FormatError, OtaError, RcCcDsFailed, TarUnknown
from ota.keys import OtaKeyset
from ota.mo_request import (
    MENU_FILE_SIZE,
    MO_SPI,
    MO_TAR,
    BillKind,
    MenuFile,
    MoRequest,
    RequestType,
    build_request,
    open_request,
)
from ota.onecard_apdu import SubApp
from ota.packet import build_command
from ota.spi import KicAlgorithm, KidCcAlgorithm

KEYS = OtaKeyset(KicAlgorithm.AES_CBC, 1, bytes(range(16)), KidCcAlgorithm.AES_CMAC, 1,
                 bytes(range(16, 32)))
OTHER = OtaKeyset(KicAlgorithm.AES_CBC, 1, bytes(16), KidCcAlgorithm.AES_CMAC, 1, bytes(16))
ICCID = "89860012345678901234"


@pytest.mark.parametrize("request_", [
    MoRequest(RequestType.BALANCE, 1, ICCID),
    MoRequest(RequestType.APP_DELETE, 2, ICCID, "123456", SubApp.PURSE),
    MoRequest(RequestType.BILL, 0xFFFFFFFF, ICCID, bill=BillKind.ATTENDANCE),
])
def test_round_trip_through_a_secured_packet(request_: MoRequest) -> None:
    packet = build_request(request_, KEYS, 7)
    assert request_.password is None or request_.password.encode() not in packet
    assert open_request(packet, KEYS, 6) == (request_, 7)


def test_refusals_carry_their_por_status() -> None:
    packet = build_request(MoRequest(RequestType.BALANCE, 1, ICCID), KEYS, 7)
    with pytest.raises(CounterTooLow):
        open_request(packet, KEYS, 7)
    with pytest.raises(OtaError) as info:
        open_request(packet, OTHER, 0)
    assert info.value.por_status in (0x01, 0x05)
    forged = bytearray(packet)
    forged[-1] ^= 1
    with pytest.raises((RcCcDsFailed, OtaError)):
        open_request(bytes(forged), KEYS, 0)
    other_tar = build_command(MO_SPI, KEYS, b"ONE", 8,
                              MoRequest(RequestType.BALANCE, 1, ICCID).encode())
    with pytest.raises(TarUnknown):
        open_request(other_tar, KEYS, 0)
    assert MO_TAR == b"MOR"


@pytest.mark.parametrize("bad", [
    MoRequest(RequestType.APP_DELETE, 1, ICCID),
    MoRequest(RequestType.APP_DELETE, 1, ICCID, "12ab", SubApp.DOOR),
    MoRequest(RequestType.BILL, 1, ICCID),
    MoRequest(RequestType.BALANCE, 1 << 32, ICCID),
])
def test_invalid_requests_do_not_encode(bad: MoRequest) -> None:
    with pytest.raises(FormatError):
        bad.encode()


@given(st.binary(max_size=80))
def test_decoder_raises_only_format_errors(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        MoRequest.decode(data)


def test_menu_file_round_trip_and_padding() -> None:
    menu = MenuFile("一卡通", ("余额查询", "应用删除", "账单查询"), "10658888")
    data = menu.encode()
    assert len(data) == MENU_FILE_SIZE and data.endswith(b"\xff")
    assert MenuFile.decode(data) == menu
    with pytest.raises(FormatError):
        MenuFile("x", tuple(f"item {i}" * 8 for i in range(16))).encode()
    with pytest.raises(FormatError):
        MenuFile.decode(b"\xff" * 16)
    with pytest.raises(FormatError):
        MenuFile.decode(bytes.fromhex("8503800041"))  # title only, no items
