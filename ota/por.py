"""Response packets (Proof of Receipt), both roles (ETSI TS 102 225 5.2, 3GPP TS 31.115 4.4).

As SMS-PP user data (TS 31.115 4.4)::

    UDH 02 71 00 | RPL(2) RHL(1) TAR(3) | CNTR(5) PCNTR(1) STS(1) [RC/CC/DS] data [padding]

* RPL counts every octet after itself; RHL = 10 + length of the RC/CC/DS.
* CNTR is a copy of the command's counter; STS is a :class:`PorStatus`; ``data`` is the
  additional response data (a TS 102 226 remote response, see ``ota.remote``).
* When SPI octet 2 b5 is set, everything after the second ``|`` is ciphered with the command's
  KIc key set, zero-padded to the block size (PCNTR counts the padding).
* Unlike the command's, the PoR checksum covers the UDH: ``02 71 00 RPL RHL TAR CNTR PCNTR STS
  data padding`` (pySim's decoder and real-card answers agree).

Which PoRs go out unsecured: a card that could not trust or use the command's keys (RC/CC/DS
failed, undefined security error, TAR unknown) answers without cipher or checksum, whatever
SPI octet 2 asks; :func:`verify_por` accepts such an unsecured PoR only with an error status,
and marks it ``secured=False``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ota import crypto
from ota.counters import COUNTER_LENGTH, decode_counter, encode_counter
from ota.errors import (
    CipheringError,
    FormatError,
    InsufficientSecurityLevel,
    OtaError,
    RcCcDsFailed,
    UndefinedSecurityError,
)
from ota.keys import OtaKeyset
from ota.packet import TAR_LENGTH, PorContext, checksum_length, compute_checksum
from ota.spi import Integrity, KidRcAlgorithm, Spi
from ota.status import PorStatus, status_of
from smpp.errors import UdhError
from smpp.udh import Iei, Udh

__all__ = [
    "Por",
    "PorStatus",
    "SecuredPor",
    "build_por",
    "error_response",
    "respond",
    "secure_por",
    "verify_por",
]

# UDHL 02, IEI 71 (response packet identifier), length 00 (TS 31.115 4.4).
POR_UDH = bytes((0x02, Iei.RPI, 0x00))
# TAR(3) CNTR(5) PCNTR(1) STS(1): what RHL counts besides the RC/CC/DS.
RHL_FIXED = 10
# The statuses a card answers without security: it could not trust or use the command's keys.
UNSECURED_STATUSES = frozenset(
    {PorStatus.RC_CC_DS_FAILED, PorStatus.UNDEFINED_SECURITY_ERROR, PorStatus.TAR_UNKNOWN}
)


@dataclass(frozen=True, slots=True)
class Por:
    """A verified response packet."""

    tar: bytes
    counter: int
    status: PorStatus | int  # a plain int for RFU / proprietary codes (0x0D-0xFE)
    data: bytes  # additional response data, padding removed
    checksum: bytes | None
    pcntr: int
    rpl: int
    rhl: int
    # False when the card answered without the security SPI octet 2 asked for (error PoRs only).
    secured: bool = True

    @property
    def ok(self) -> bool:
        return self.status == PorStatus.POR_OK


@dataclass(frozen=True, slots=True)
class SecuredPor:
    """A built PoR with the intermediate values the vectors check."""

    tp_ud: bytes
    rpl: int
    rhl: int
    pcntr: int
    checksum_input: bytes | None
    checksum: bytes | None
    plaintext: bytes | None  # CNTR .. padding before ciphering; None when not ciphered


def _rc_algorithm(keyset: OtaKeyset | None) -> KidRcAlgorithm:
    return keyset.rc_algorithm if keyset else KidRcAlgorithm.CRC32


def secure_por(spi: Spi, keyset: OtaKeyset | None, tar: bytes, counter: int, status: int,
               data: bytes = b"", *, secured: bool = True) -> SecuredPor:
    """Build the PoR TP-UD (card role); ``secured=False`` leaves out cipher and checksum."""
    if len(tar) != TAR_LENGTH:
        raise FormatError(f"TAR is 3 octets, got {len(tar)}")
    if not 0 <= status <= 0xFF:
        raise FormatError(f"status {status} does not fit one octet")
    integrity = spi.por_integrity if secured else Integrity.NONE
    ciphering = spi.por_ciphering and secured
    if keyset is None and (ciphering or integrity is Integrity.CC):
        raise UndefinedSecurityError("SPI asks for a secured PoR but no key set was given")
    cs_len = checksum_length(integrity, _rc_algorithm(keyset))
    rhl = RHL_FIXED + cs_len
    pcntr = 0
    if ciphering:
        assert keyset is not None
        pcntr = -(COUNTER_LENGTH + 2 + cs_len + len(data)) % crypto.block_size(keyset.kic_algorithm)
    rpl = 1 + rhl + len(data) + pcntr
    if rpl > 0xFFFF:
        raise FormatError(f"response packet of {rpl + 2} octets exceeds RPL's 16 bits")
    clear = POR_UDH + rpl.to_bytes(2, "big") + bytes((rhl,)) + tar
    head = encode_counter(counter) + bytes((pcntr, status))
    padded = data + bytes(pcntr)
    cs_input = checksum = None
    if cs_len:
        cs_input = clear + head + padded
        checksum = compute_checksum(integrity, keyset, _rc_algorithm(keyset), cs_input)
    secured_part = head + (checksum or b"") + padded
    if not ciphering:
        return SecuredPor(clear + secured_part, rpl, rhl, pcntr, cs_input, checksum, None)
    assert keyset is not None
    ciphertext = crypto.encrypt(keyset.kic_algorithm, keyset.kic, secured_part)
    return SecuredPor(clear + ciphertext, rpl, rhl, pcntr, cs_input, checksum, secured_part)


def build_por(spi: Spi, keyset: OtaKeyset | None, tar: bytes, counter: int, status: int,
              data: bytes = b"", *, secured: bool = True) -> bytes:
    """The PoR as SMS-PP TP-UD (``02 71 00 RPL ...``); see :func:`secure_por`."""
    return secure_por(spi, keyset, tar, counter, status, data, secured=secured).tp_ud


def respond(context: PorContext, status: int, data: bytes = b"") -> bytes | None:
    """Card role: the PoR TP-UD for a command, or None when its SPI asks for no PoR."""
    spi = context.header.spi
    wanted = spi.wants_por if status == PorStatus.POR_OK else spi.wants_por_on_error
    if not wanted:
        return None
    secured = status not in UNSECURED_STATUSES and context.keyset is not None
    counter = decode_counter(context.counter)
    return build_por(spi, context.keyset, context.header.tar, counter, status, data,
                     secured=secured)


def error_response(exc: OtaError) -> bytes | None:
    """Card role: the PoR answering a refused command, or None when none can or may be sent."""
    if exc.context is None:
        return None
    return respond(exc.context, exc.por_status)


def _split_udh(tp_ud: bytes) -> tuple[bytes, bytes]:
    if tp_ud[:3] == POR_UDH:  # the usual header: skip the general IE walk
        return POR_UDH, tp_ud[3:]
    try:
        udh, rest = Udh.decode(tp_ud)
    except UdhError as exc:
        raise FormatError(f"PoR user data header: {exc}") from exc
    if not udh.has(Iei.RPI):
        raise FormatError("user data header has no response packet identifier (IEI 71)")
    return tp_ud[: len(tp_ud) - len(rest)], rest


def _is_secured(spi: Spi, keyset: OtaKeyset | None, rhl: int, tail_len: int) -> bool:
    """Whether the PoR carries the security SPI octet 2 asked for (see module docstring)."""
    expected = checksum_length(spi.por_integrity, _rc_algorithm(keyset))
    if rhl == RHL_FIXED + expected:
        if expected or not spi.por_ciphering or keyset is None:
            return True
        # Ciphering alone: an unciphered error PoR is told apart by its unaligned length.
        return tail_len % crypto.block_size(keyset.kic_algorithm) == 0
    if rhl == RHL_FIXED:
        return False
    raise FormatError(f"RHL {rhl} fits neither a secured nor an unsecured PoR")


def verify_por(tp_ud: bytes, spi: Spi, keyset: OtaKeyset | None) -> Por:
    """Gateway role: parse a PoR TP-UD, decipher it and check its RC/CC.

    ``spi`` and ``keyset`` are those of the command the PoR answers.
    """
    udh, packet = _split_udh(tp_ud)
    if len(packet) < 6 + COUNTER_LENGTH + 2:
        raise FormatError(f"response packet of {len(packet)} octets is shorter than its header")
    rpl, rhl = int.from_bytes(packet[:2], "big"), packet[2]
    if rpl != len(packet) - 2 or rhl < RHL_FIXED or 1 + rhl > rpl:
        raise FormatError(f"RPL {rpl} / RHL {rhl} do not fit {len(packet)} octets")
    tail = packet[6:]
    secured = _is_secured(spi, keyset, rhl, len(tail))
    ciphered = secured and spi.por_ciphering
    if (secured and (ciphered or spi.por_integrity is Integrity.CC)) and keyset is None:
        raise UndefinedSecurityError("the PoR is secured but no key set was given")
    plain = _decipher(tail, keyset) if ciphered else tail
    cs_len = rhl - RHL_FIXED
    if len(plain) < COUNTER_LENGTH + 2 + cs_len:
        raise FormatError("response packet ends inside its header")
    pcntr, status = plain[COUNTER_LENGTH], plain[COUNTER_LENGTH + 1]
    checksum = plain[COUNTER_LENGTH + 2:COUNTER_LENGTH + 2 + cs_len] or None
    rest = plain[COUNTER_LENGTH + 2 + cs_len:]
    if pcntr > len(rest):
        raise CipheringError(f"PCNTR {pcntr} with {len(rest)} octets of data")
    if checksum is not None:
        covered = udh + packet[:6] + plain[:COUNTER_LENGTH + 2] + rest
        integrity = spi.por_integrity
        expected = compute_checksum(integrity, keyset, _rc_algorithm(keyset), covered)
        if not crypto.checksums_equal(checksum, expected):
            raise RcCcDsFailed("PoR RC/CC mismatch")
    if not secured and status == PorStatus.POR_OK and (spi.por_ciphering
                                                       or spi.por_integrity is not Integrity.NONE):
        raise InsufficientSecurityLevel("PoR OK arrived without the security the SPI asked for")
    return Por(bytes(packet[3:6]), decode_counter(plain[:COUNTER_LENGTH]), status_of(status),
               rest[:len(rest) - pcntr], checksum, pcntr, rpl, rhl, secured)


def _decipher(tail: bytes, keyset: OtaKeyset | None) -> bytes:
    assert keyset is not None
    try:
        return crypto.decrypt(keyset.kic_algorithm, keyset.kic, tail)
    except OtaError as exc:
        raise CipheringError(f"PoR: {exc.detail}") from exc

