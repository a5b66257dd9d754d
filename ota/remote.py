"""Remote APDU formats of the secured data (ETSI TS 102 226 5.1 compact, 5.2 expanded).

* Compact command (5.1.1): the secured data is a plain concatenation of C-APDUs.
* Compact response (5.1.2): the PoR's additional response data is ``number of commands
  executed (1) | status word of the last one (2) | response data of the last one``.
* Expanded command (5.2.1): a Command Scripting Template, BER-TLV tag AA (definite length),
  holding one C-APDU TLV (tag 22) per command.
* Expanded response (5.2.2): a Response Scripting Template, tag AB, holding the number of
  executed commands (tag 80, 1 octet), one R-APDU TLV (tag 23: response data then SW1 SW2) per
  executed command, and optionally an immediate-action response (tag 81) or a bad-format TLV
  (tag 90, 1 octet: the error type).
BER-TLV lengths follow ISO/IEC 8825-1 (one octet below 0x80, else 81 xx or 82 xx xx).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from ota.errors import FormatError


class RemoteTag(enum.IntEnum):
    """BER-TLV tags of the expanded remote format (TS 102 226 5.2, TS 101 220 7.2)."""

    COMMAND_SCRIPTING_TEMPLATE = 0xAA
    RESPONSE_SCRIPTING_TEMPLATE = 0xAB
    C_APDU = 0x22
    R_APDU = 0x23
    NUMBER_OF_EXECUTED = 0x80
    IMMEDIATE_ACTION_RESPONSE = 0x81
    BAD_FORMAT = 0x90


def ber_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    if length <= 0xFF:
        return bytes((0x81, length))
    if length <= 0xFFFF:
        return b"\x82" + length.to_bytes(2, "big")
    raise FormatError(f"BER-TLV value of {length} octets is too long")


def ber_tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + ber_length(len(value)) + value


def iter_ber_tlv(data: bytes) -> Iterable[tuple[int, bytes]]:
    """(tag, value) pairs of a flat list of one-octet-tag BER-TLVs."""
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise FormatError(f"BER-TLV at offset {i} truncated")
        tag, first = data[i], data[i + 1]
        i += 2
        if first == 0x81 or first == 0x82:
            n = first - 0x80
            if i + n > len(data):
                raise FormatError(f"BER-TLV length of tag {tag:#04x} truncated")
            length = int.from_bytes(data[i:i + n], "big")
            i += n
        elif first < 0x80:
            length = first
        else:
            raise FormatError(f"BER-TLV length octet {first:#04x} is not supported")
        if i + length > len(data):
            raise FormatError(f"tag {tag:#04x} announces {length} octets, data ends first")
        yield tag, bytes(data[i:i + length])
        i += length


@dataclass(frozen=True, slots=True)
class CompactResponse:
    """TS 102 226 5.1.2 compact remote response."""

    executed: int
    last_sw: int
    last_data: bytes = b""

    def encode(self) -> bytes:
        if not 0 <= self.executed <= 0xFF or not 0 <= self.last_sw <= 0xFFFF:
            raise FormatError("executed count or status word out of range")
        return bytes((self.executed,)) + self.last_sw.to_bytes(2, "big") + self.last_data

    @classmethod
    def decode(cls, data: bytes) -> CompactResponse:
        if len(data) < 3:
            raise FormatError(f"compact remote response of {len(data)} octets, at least 3")
        return cls(data[0], int.from_bytes(data[1:3], "big"), bytes(data[3:]))


@dataclass(frozen=True, slots=True)
class RApdu:
    data: bytes
    sw: int

    @classmethod
    def decode(cls, value: bytes) -> RApdu:
        if len(value) < 2:
            raise FormatError("R-APDU TLV shorter than its status word")
        return cls(value[:-2], int.from_bytes(value[-2:], "big"))

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class ExpandedResponse:
    """TS 102 226 5.2.2 Response Scripting Template (definite length)."""

    executed: int
    responses: tuple[RApdu, ...] = ()
    immediate_action: bytes | None = None
    bad_format: int | None = None

    def encode(self) -> bytes:
        body = ber_tlv(RemoteTag.NUMBER_OF_EXECUTED, bytes((self.executed,)))
        body += b"".join(ber_tlv(RemoteTag.R_APDU, r.encode()) for r in self.responses)
        if self.immediate_action is not None:
            body += ber_tlv(RemoteTag.IMMEDIATE_ACTION_RESPONSE, self.immediate_action)
        if self.bad_format is not None:
            body += ber_tlv(RemoteTag.BAD_FORMAT, bytes((self.bad_format,)))
        return ber_tlv(RemoteTag.RESPONSE_SCRIPTING_TEMPLATE, body)

    @classmethod
    def decode(cls, data: bytes) -> ExpandedResponse:
        outer = list(iter_ber_tlv(data))
        if len(outer) != 1 or outer[0][0] != RemoteTag.RESPONSE_SCRIPTING_TEMPLATE:
            raise FormatError("not a single Response Scripting Template (tag AB)")
        executed, responses = None, []
        immediate = bad = None
        for tag, value in iter_ber_tlv(outer[0][1]):
            if tag == RemoteTag.NUMBER_OF_EXECUTED and len(value) == 1:
                executed = value[0]
            elif tag == RemoteTag.R_APDU:
                responses.append(RApdu.decode(value))
            elif tag == RemoteTag.IMMEDIATE_ACTION_RESPONSE:
                immediate = value
            elif tag == RemoteTag.BAD_FORMAT and len(value) == 1:
                bad = value[0]
            else:
                raise FormatError(f"unexpected TLV {tag:#04x} in a Response Scripting Template")
        if executed is None:
            raise FormatError("Response Scripting Template without the executed count (tag 80)")
        return cls(executed, tuple(responses), immediate, bad)


def expanded_command(apdus: Iterable[bytes]) -> bytes:
    """A TS 102 226 5.2.1 Command Scripting Template carrying ``apdus`` in order."""
    return ber_tlv(RemoteTag.COMMAND_SCRIPTING_TEMPLATE,
                   b"".join(ber_tlv(RemoteTag.C_APDU, apdu) for apdu in apdus))


def parse_expanded_command(data: bytes) -> list[bytes]:
    """The C-APDUs of a Command Scripting Template (other TLVs are refused)."""
    outer = list(iter_ber_tlv(data))
    if len(outer) != 1 or outer[0][0] != RemoteTag.COMMAND_SCRIPTING_TEMPLATE:
        raise FormatError("not a single Command Scripting Template (tag AA)")
    apdus = []
    for tag, value in iter_ber_tlv(outer[0][1]):
        if tag != RemoteTag.C_APDU:
            raise FormatError(f"unsupported TLV {tag:#04x} in a Command Scripting Template")
        apdus.append(value)
    return apdus
