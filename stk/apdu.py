"""The APDUs that carry CAT objects between terminal and UICC (ETSI TS 102 221 10.1, 10.2).

- TERMINAL PROFILE ``80 10 00 00 Lc data`` (TS 102 221 10.1.2, TS 102 223 5.2)
- ENVELOPE ``80 C2 00 00 Lc data`` (TS 102 221 10.1.2, TS 102 223 7)
- FETCH ``80 12 00 00 Le``, answered by the proactive command and ``90 00`` (TS 102 223 6.3)
- TERMINAL RESPONSE ``80 14 00 00 Lc data`` (TS 102 223 6.8)
- status word ``91 XX``: a proactive command of XX octets is pending (TS 102 221 10.2.1.1)

The commands are case 3 APDUs and are built without Le; a trailing Le octet (pySim appends
``00``) is tolerated when parsing. CLA ``A0`` (GSM SIM, TS 51.011) is accepted as well as ``80``.
"""

from __future__ import annotations

import enum

from stk.errors import (
    ClassNotSupportedError,
    InstructionNotSupportedError,
    WrongLengthError,
    WrongParametersError,
)

CLA_UICC = 0x80  # TS 102 221 10.1.1: CAT commands on the basic channel
CLA_GSM = 0xA0  # TS 51.011 9.2: the same commands on a GSM SIM
SW_OK = 0x9000
SW1_PROACTIVE_PENDING = 0x91
MAX_SHORT_DATA = 0xFF


class Instruction(enum.IntEnum):
    """INS codes of the CAT commands (TS 102 221 10.1.2 Table 10.5)."""

    TERMINAL_PROFILE = 0x10
    FETCH = 0x12
    TERMINAL_RESPONSE = 0x14
    ENVELOPE = 0xC2


def command_apdu(ins: Instruction, data: bytes, cla: int = CLA_UICC) -> bytes:
    """A case 3 APDU ``CLA INS 00 00 Lc data``."""
    if not 1 <= len(data) <= MAX_SHORT_DATA:
        raise WrongLengthError(f"{ins.name} data must be 1..255 octets, got {len(data)}")
    return bytes((cla, ins, 0x00, 0x00, len(data))) + data


def _check_header(apdu: bytes, ins: Instruction) -> None:
    if len(apdu) < 5:
        raise WrongLengthError(f"an APDU header is 5 octets, got {len(apdu)}")
    if apdu[0] not in (CLA_UICC, CLA_GSM):
        raise ClassNotSupportedError(f"CLA {apdu[0]:02X} is neither 80 nor A0")
    if apdu[1] != ins:
        raise InstructionNotSupportedError(f"INS {apdu[1]:02X}, expected {ins:02X} ({ins.name})")
    if apdu[2:4] != b"\x00\x00":
        raise WrongParametersError(f"P1 P2 must be 00 00 for {ins.name}, got {apdu[2:4].hex()}")


def parse_command_apdu(apdu: bytes, ins: Instruction) -> bytes:
    """The data field of a case 3 APDU with INS ``ins`` (a trailing Le octet is ignored)."""
    _check_header(apdu, ins)
    lc = apdu[4]
    if lc == 0:
        raise WrongLengthError(f"{ins.name} with Lc 00 carries no data")
    extra = len(apdu) - 5 - lc
    if extra not in (0, 1):
        raise WrongLengthError(f"Lc {lc} but {len(apdu) - 5} octets follow the header")
    return apdu[5 : 5 + lc]


def envelope_apdu(data: bytes, cla: int = CLA_UICC) -> bytes:
    return command_apdu(Instruction.ENVELOPE, data, cla)


def terminal_response_apdu(data: bytes, cla: int = CLA_UICC) -> bytes:
    return command_apdu(Instruction.TERMINAL_RESPONSE, data, cla)


def terminal_profile_apdu(data: bytes, cla: int = CLA_UICC) -> bytes:
    return command_apdu(Instruction.TERMINAL_PROFILE, data, cla)


def fetch_apdu(length: int, cla: int = CLA_UICC) -> bytes:
    """``80 12 00 00 Le`` for a pending command of ``length`` octets (Le 00 means 256)."""
    if not 1 <= length <= 256:
        raise WrongLengthError(f"FETCH length must be 1..256, got {length}")
    return bytes((cla, Instruction.FETCH, 0x00, 0x00, length & 0xFF))


def parse_fetch_apdu(apdu: bytes) -> int:
    """The number of octets a FETCH asks for."""
    _check_header(apdu, Instruction.FETCH)
    if len(apdu) != 5:
        raise WrongLengthError(f"FETCH is exactly 5 octets, got {len(apdu)}")
    return apdu[4] or 256


def proactive_pending_sw(length: int) -> int:
    """Status word ``91 XX`` announcing a proactive command of ``length`` octets."""
    if not 1 <= length <= 256:
        raise WrongLengthError(f"a pending proactive command is 1..256 octets, got {length}")
    return SW1_PROACTIVE_PENDING << 8 | (length & 0xFF)


def pending_length(sw: int) -> int | None:
    """For ``91 XX`` the length of the pending proactive command, else None."""
    if sw >> 8 != SW1_PROACTIVE_PENDING:
        return None
    return (sw & 0xFF) or 256


def with_status(data: bytes, sw: int = SW_OK) -> bytes:
    """A response APDU: data followed by the status word."""
    return data + sw.to_bytes(2, "big")


def split_response(rapdu: bytes) -> tuple[bytes, int]:
    """Split a response APDU into data and status word."""
    if len(rapdu) < 2:
        raise WrongLengthError(f"a response APDU ends with a 2-octet status word, got {len(rapdu)}")
    return rapdu[:-2], int.from_bytes(rapdu[-2:], "big")
