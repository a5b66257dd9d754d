"""ota.packet: command packets in both roles, every refusal with its PoR status."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota import crypto
from ota.counters import COUNTER_MAX
from ota.errors import (
    CipheringError,
    CounterBlocked,
    CounterTooHigh,
    CounterTooLow,
    FormatError,
    InsufficientSecurityLevel,
    OtaError,
    RcCcDsFailed,
    TarUnknown,
    UndefinedSecurityError,
)
from ota.keys import OtaKeyset
from ota.packet import (
    CommandHeader,
    KeyLookup,
    TarSecurity,
    build_command,
    parse_command_header,
    secure_command,
    verify_command,
)
from ota.spi import (
    CounterMode,
    Integrity,
    KicAlgorithm,
    KidCcAlgorithm,
    KidRcAlgorithm,
    MinimumSecurityLevel,
    PorRequest,
    Spi,
)
from ota.status import PorStatus
from tests.ota.strategies import keyset, keysets, spis

TAR = b"ONE"
APDU = bytes.fromhex("80f21000024f00")
STRICT = Spi(CounterMode.PLUS_ONE, True, Integrity.CC, PorRequest.ALWAYS, Integrity.CC, True)


def lookup(*keysets: OtaKeyset, msl: MinimumSecurityLevel | None = None) -> KeyLookup:
    security = TarSecurity(keysets, msl or MinimumSecurityLevel())
    return lambda tar: security if tar == TAR else None


@settings(max_examples=300)
@given(spis, keysets(), st.integers(1, COUNTER_MAX), st.binary(max_size=300))
def test_any_payload_round_trips(spi: Spi, ks: OtaKeyset, counter: int, data: bytes) -> None:
    packet = build_command(spi, ks, TAR, counter, data)
    verified = verify_command(packet, lookup(ks), counter - 1)
    assert verified.data == data
    assert verified.counter == counter
    assert verified.header == CommandHeader(spi, packet[5], packet[6], TAR)
    checking = spi.counter in (CounterMode.HIGHER, CounterMode.PLUS_ONE)
    assert verified.new_counter == (counter if checking else None)


def test_lengths_and_padding() -> None:
    ks = keyset(KicAlgorithm.AES_CBC, KidCcAlgorithm.AES_CMAC)
    built = secure_command(STRICT, ks, TAR, 1, APDU)
    # CNTR 5 + PCNTR 1 + CC 8 + 7 data = 21 -> padded to 32 with 11 zero octets.
    assert built.pcntr == 11 and built.chl == 21
    assert int.from_bytes(built.packet[:2], "big") == len(built.packet) - 2
    assert len(built.packet) == 10 + 32
    assert built.plaintext is not None and built.plaintext.endswith(APDU + bytes(11))


def test_rc_uses_the_rc_algorithm_in_kid() -> None:
    ks = keyset(rc=KidRcAlgorithm.CRC16)
    spi = Spi(integrity=Integrity.RC)
    built = secure_command(spi, ks, TAR, 0, APDU)
    assert built.packet[6] == 0x11 and built.chl == 15 and built.checksum is not None
    assert verify_command(built.packet, lookup(), 0).data == APDU  # an RC needs no keys


def test_no_security_without_keys() -> None:
    packet = build_command(Spi(), None, TAR, 0, APDU)
    assert packet[5:7] == b"\x00\x00"
    assert verify_command(packet, lookup(), 0).data == APDU


def test_security_without_keys_is_refused() -> None:
    with pytest.raises(UndefinedSecurityError):
        build_command(STRICT, None, TAR, 1, APDU)
    with pytest.raises(UndefinedSecurityError):
        build_command(Spi(integrity=Integrity.DS), keyset(), TAR, 1, APDU)
    with pytest.raises(FormatError):
        build_command(Spi(), None, b"AB", 1, APDU)


def test_unknown_tar() -> None:
    packet = build_command(STRICT, keyset(), b"XYZ", 1, APDU)
    with pytest.raises(TarUnknown) as exc:
        verify_command(packet, lookup(keyset()), 0)
    assert exc.value.por_status is PorStatus.TAR_UNKNOWN
    assert exc.value.context is not None and exc.value.context.header.tar == b"XYZ"


def test_insufficient_security_level() -> None:
    ks = keyset()
    packet = build_command(Spi(integrity=Integrity.CC), ks, TAR, 1, APDU)
    msl = MinimumSecurityLevel(ciphering=True, integrity=Integrity.CC)
    with pytest.raises(InsufficientSecurityLevel) as exc:
        verify_command(packet, lookup(ks, msl=msl), 0)
    assert exc.value.por_status is PorStatus.INSUFFICIENT_SECURITY_LEVEL


def test_cc_failure_carries_counter_and_keys() -> None:
    ks = keyset()
    packet = bytearray(build_command(STRICT, ks, TAR, 7, APDU))
    packet[-1] ^= 0x01  # corrupts the last cipher block: padding/data change, CC no longer fits
    with pytest.raises((RcCcDsFailed, CipheringError)) as exc:
        verify_command(bytes(packet), lookup(ks), 6)
    assert exc.value.context is not None and exc.value.context.keyset == ks


def test_cc_failure_with_other_keys() -> None:
    ks = keyset()
    other = OtaKeyset(ks.kic_algorithm, 1, ks.kic, ks.kid_algorithm, 1, bytes(16))
    packet = build_command(STRICT, ks, TAR, 7, APDU)
    with pytest.raises(RcCcDsFailed) as exc:
        verify_command(packet, lookup(other), 6)
    assert exc.value.por_status is PorStatus.RC_CC_DS_FAILED
    assert exc.value.context is not None
    assert exc.value.context.counter == (7).to_bytes(5, "big")


def test_rc_failure() -> None:
    packet = bytearray(build_command(Spi(integrity=Integrity.RC), keyset(), TAR, 0, APDU))
    packet[-1] ^= 0xFF
    with pytest.raises(RcCcDsFailed):
        verify_command(bytes(packet), lookup(), 0)


@pytest.mark.parametrize(("stored", "error"), [(7, CounterTooLow), (8, CounterTooLow),
                                               (5, CounterTooHigh),
                                               (COUNTER_MAX, CounterBlocked)])
def test_counter_refusals(stored: int, error: type[OtaError]) -> None:
    ks = keyset()
    packet = build_command(STRICT, ks, TAR, 7 if stored != COUNTER_MAX else 3, APDU)
    with pytest.raises(error) as exc:
        verify_command(packet, lookup(ks), lambda header: stored)
    assert exc.value.context is not None and exc.value.context.keyset == ks


def test_unknown_key_index_is_undefined_security() -> None:
    packet = build_command(STRICT, keyset(index=2), TAR, 1, APDU)
    with pytest.raises(UndefinedSecurityError) as exc:
        verify_command(packet, lookup(keyset(index=1)), 0)
    assert exc.value.por_status is PorStatus.UNDEFINED_SECURITY_ERROR


def test_unused_key_byte_may_be_zero() -> None:
    ks = keyset()
    ciphered = bytearray(build_command(Spi(ciphering=True), ks, TAR, 1, APDU))
    ciphered[6] = 0x00  # no CC, so KID is unused and not covered by anything
    assert verify_command(bytes(ciphered), lookup(ks), 0).keyset == ks
    checked = build_command(Spi(integrity=Integrity.CC), ks, TAR, 1, APDU)
    with pytest.raises(RcCcDsFailed):  # KIc is covered by the CC, so a changed KIc is caught
        verify_command(checked[:5] + b"\x00" + checked[6:], lookup(ks), 0)


def test_kic_and_kid_from_different_key_sets() -> None:
    a, b = keyset(index=1), keyset(KicAlgorithm.TDES_2KEY_CBC, KidCcAlgorithm.TDES_2KEY_CBC_MAC,
                                   index=2)
    mixed = OtaKeyset(a.kic_algorithm, 1, a.kic, b.kid_algorithm, 2, b.kid)
    packet = build_command(STRICT, mixed, TAR, 1, APDU)
    assert verify_command(packet, lookup(a, b), 0).keyset == mixed


def test_a_whole_block_of_padding_is_accepted() -> None:
    # shadysim pads already aligned data with one more block (FINDINGS.md).
    ks = keyset(KicAlgorithm.TDES_2KEY_CBC, KidCcAlgorithm.TDES_2KEY_CBC_MAC)
    spi = Spi(ciphering=True, integrity=Integrity.CC)
    data = bytes(2)  # 5 + 1 + 8 + 2 = 16: aligned, so the padding is a whole block
    header = b"\x00\x00\x15" + spi.encode() + bytes((ks.kic_byte, ks.kid_byte(Integrity.CC))) + TAR
    header = (len(header) - 2 + 24).to_bytes(2, "big") + header[2:]
    counters = (1).to_bytes(5, "big") + b"\x08"
    covered = header + counters + data + bytes(8)
    cc = crypto.cryptographic_checksum(ks.kid_algorithm, ks.kid, covered)
    packet = header + crypto.encrypt(ks.kic_algorithm, ks.kic, counters + cc + data + bytes(8))
    assert verify_command(packet, lookup(ks), 0).data == data


def test_ciphering_error_on_unaligned_ciphertext() -> None:
    ks = keyset()
    packet = build_command(STRICT, ks, TAR, 1, APDU)
    cut = packet[:-1]
    cut = (len(cut) - 2).to_bytes(2, "big") + cut[2:]
    with pytest.raises(CipheringError) as exc:
        verify_command(cut, lookup(ks), 0)
    assert exc.value.por_status is PorStatus.CIPHERING_ERROR


@pytest.mark.parametrize("mutate", [
    lambda p: p[:5],  # shorter than the clear header
    lambda p: p + b"\x00",  # CPL says less than what follows
    lambda p: p[:-1],  # CPL says more than what follows
    lambda p: p[:2] + b"\x05" + p[3:],  # CHL below its minimum
])
def test_malformed_lengths(mutate: Callable[[bytes], bytes]) -> None:
    packet = build_command(Spi(integrity=Integrity.CC), keyset(), TAR, 1, APDU)
    with pytest.raises(FormatError):
        verify_command(mutate(packet), lookup(keyset()), 0)


def test_chl_that_disagrees_with_spi() -> None:
    packet = bytearray(build_command(Spi(integrity=Integrity.CC), keyset(), TAR, 1, APDU))
    packet[3] = 0x00  # SPI now says no checksum, CHL still counts 8 octets of CC
    with pytest.raises(UndefinedSecurityError):
        verify_command(bytes(packet), lookup(keyset()), 0)


def test_header_parse() -> None:
    packet = build_command(STRICT, keyset(), TAR, 1, APDU)
    assert parse_command_header(packet) == CommandHeader(STRICT, 0x12, 0x12, TAR)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_random_input_raises_only_our_errors(data: bytes) -> None:
    ks = keyset()
    with contextlib.suppress(OtaError):
        verify_command(data, lambda tar: TarSecurity((ks,)), 0)


@settings(max_examples=300)
@given(st.data())
def test_mutated_packets_raise_only_our_errors(data: st.DataObject) -> None:
    ks = keyset()
    packet = bytearray(build_command(STRICT, ks, TAR, 5, data.draw(st.binary(max_size=60))))
    for _ in range(data.draw(st.integers(1, 4))):
        packet[data.draw(st.integers(0, len(packet) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(OtaError):
        verify_command(bytes(packet), lookup(ks), 4)
