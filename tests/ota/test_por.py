"""ota.por: PoR build (card role) and verification (gateway role), TS 102 225 5.2."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota.counters import COUNTER_MAX
from ota.errors import (
    FormatError,
    InsufficientSecurityLevel,
    OtaError,
    RcCcDsFailed,
    TarUnknown,
)
from ota.keys import OtaKeyset
from ota.packet import CommandHeader, PorContext, TarSecurity, build_command, verify_command
from ota.por import Por, build_por, error_response, respond, secure_por, verify_por
from ota.spi import CounterMode, Integrity, PorRequest, Spi
from ota.status import PorStatus
from tests.ota.strategies import keyset, keysets, spis

TAR = b"ONE"
STRICT = Spi(CounterMode.PLUS_ONE, True, Integrity.CC, PorRequest.ALWAYS, Integrity.CC, True)


@settings(max_examples=300)
@given(spis, keysets(), st.integers(0, COUNTER_MAX), st.integers(0, 255), st.binary(max_size=100))
def test_any_por_round_trips(spi: Spi, ks: OtaKeyset, counter: int, status: int,
                             data: bytes) -> None:
    tp_ud = build_por(spi, ks, TAR, counter, status, data)
    assert tp_ud[:3] == bytes.fromhex("027100")
    por = verify_por(tp_ud, spi, ks)
    assert (por.tar, por.counter, int(por.status), por.data, por.secured) == (
        TAR, counter, status, data, True)


def test_status_table_is_complete() -> None:
    assert [int(s) for s in PorStatus] == list(range(0x0D))
    assert verify_por(build_por(Spi(), None, TAR, 0, 0xC5), Spi(), None).status == 0xC5


def _card(packet: bytes, ks: OtaKeyset, stored: int = 0) -> bytes | None:
    try:
        verified = verify_command(packet, lambda tar: TarSecurity((ks,)) if tar == TAR else None,
                                  stored)
    except OtaError as exc:
        return error_response(exc)
    return respond(verified.context, PorStatus.POR_OK, bytes.fromhex("019000"))


def test_card_answers_ok_with_a_secured_por() -> None:
    ks = keyset()
    tp_ud = _card(build_command(STRICT, ks, TAR, 5, b"\x00\xa4\x00\x04"), ks, 4)
    assert tp_ud is not None
    por = verify_por(tp_ud, STRICT, ks)
    assert por.ok and por.secured and por.counter == 5 and por.checksum is not None


def test_card_answers_counter_low_secured() -> None:
    ks = keyset()
    tp_ud = _card(build_command(STRICT, ks, TAR, 5, b"\x00"), ks, 9)
    assert tp_ud is not None
    por = verify_por(tp_ud, STRICT, ks)
    assert por.status is PorStatus.CNTR_LOW and por.secured and por.counter == 5


def test_card_answers_unknown_tar_unsecured() -> None:
    ks = keyset()
    tp_ud = _card(build_command(STRICT, ks, b"XYZ", 5, b"\x00"), ks)
    assert tp_ud is not None
    por = verify_por(tp_ud, STRICT, ks)
    assert (por.status, por.secured, por.tar, por.counter) == (PorStatus.TAR_UNKNOWN, False,
                                                               b"XYZ", 0)


def test_card_answers_cc_failure_unsecured() -> None:
    ks = keyset()
    wrong = OtaKeyset(ks.kic_algorithm, ks.kic_index, ks.kic, ks.kid_algorithm, ks.kid_index,
                      bytes(16))
    tp_ud = _card(build_command(STRICT, ks, TAR, 5, b"\x00"), wrong, 4)
    assert tp_ud is not None
    por = verify_por(tp_ud, STRICT, ks)
    assert por.status is PorStatus.RC_CC_DS_FAILED and not por.secured


def test_por_request_is_respected() -> None:
    ks = keyset()
    context = PorContext(build_header(Spi(por=PorRequest.ON_ERROR)), keyset=ks)
    assert respond(context, PorStatus.POR_OK) is None
    assert respond(context, PorStatus.CNTR_HIGH) is not None
    silent = PorContext(build_header(Spi(por=PorRequest.NONE)), keyset=ks)
    assert respond(silent, PorStatus.CNTR_HIGH) is None
    assert error_response(FormatError("no header")) is None
    assert error_response(TarUnknown("x", context=silent)) is None


def build_header(spi: Spi) -> CommandHeader:
    return CommandHeader(spi, 0x12, 0x12, TAR)


def test_unsecured_ok_is_refused_when_security_was_asked() -> None:
    tp_ud = build_por(STRICT, None, TAR, 1, PorStatus.POR_OK, b"", secured=False)
    with pytest.raises(InsufficientSecurityLevel):
        verify_por(tp_ud, STRICT, keyset())


def test_ciphering_only_por_told_apart_by_alignment() -> None:
    spi = Spi(por=PorRequest.ALWAYS, por_ciphering=True)
    ks = keyset()
    assert verify_por(build_por(spi, ks, TAR, 1, 0, b"\x01\x90\x00"), spi, ks).secured
    plain = build_por(spi, ks, TAR, 1, PorStatus.TAR_UNKNOWN, secured=False)
    assert not verify_por(plain, spi, ks).secured


def test_tampered_por_fails_its_checksum() -> None:
    ks = keyset()
    spi = Spi(por=PorRequest.ALWAYS, por_integrity=Integrity.CC)
    tp_ud = bytearray(build_por(spi, ks, TAR, 1, 0, b"\x01\x90\x00"))
    tp_ud[-1] ^= 1
    with pytest.raises(RcCcDsFailed):
        verify_por(bytes(tp_ud), spi, ks)


def test_udh_is_covered_by_the_checksum() -> None:
    ks = keyset()
    spi = Spi(por=PorRequest.ALWAYS, por_integrity=Integrity.CC)
    secured = secure_por(spi, ks, TAR, 1, 0, b"")
    assert secured.checksum_input is not None and secured.checksum_input[:3] == b"\x02\x71\x00"


@pytest.mark.parametrize("tp_ud", [
    b"", b"\x02\x71", bytes.fromhex("027000000b0ab0001100000000000001"),  # CPI instead of RPI
    bytes.fromhex("027100000c0ab0001100000000000001"),  # RPL one too many
    bytes.fromhex("027100000b0bb0001100000000000001"),  # RHL fits no layout
])
def test_malformed_por(tp_ud: bytes) -> None:
    with pytest.raises(FormatError):
        verify_por(tp_ud, Spi(), None)


def test_every_truncation_is_refused() -> None:
    ks = keyset()
    tp_ud = build_por(STRICT, ks, TAR, 3, 0, b"\x01\x90\x00")
    for end in range(len(tp_ud)):
        with pytest.raises(OtaError):
            verify_por(tp_ud[:end], STRICT, ks)


@settings(max_examples=500)
@given(st.binary(max_size=80), spis)
def test_random_input_raises_only_our_errors(data: bytes, spi: Spi) -> None:
    with contextlib.suppress(OtaError):
        verify_por(data, spi, keyset())


def test_por_ok_property() -> None:
    por = Por(TAR, 0, PorStatus.POR_OK, b"", None, 0, 11, 10)
    assert por.ok
