"""Data objects that carry text, addresses and opaque octets (ETSI TS 102 223 clause 8).

Text-bearing objects compare by text: the coding they travel in (``coding``, ``dcs``) is kept
for exact re-encoding but is not part of equality. The last section holds objects whose tag
value means something else in another container (see ``stk.ie_base``). Import them from
``stk.ies``, which re-exports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from stk.dcs import alphabet_of, decode_text, encode_text, shortest_dcs
from stk.errors import IeError
from stk.ie_base import Ie, byte_field, label
from stk.tags import BerTag, CommandType, NumberingPlan, Tag, TypeOfNumber
from stk.text import AlphaCoding, alpha_coding_of, decode_alpha, encode_alpha

# --- texts (8.2, 8.9, 8.15, 8.23) ---------------------------------------------------------


@dataclass(frozen=True)
class AlphaIdentifier(Ie, tag=Tag.ALPHA_IDENTIFIER):
    """TS 102 223 8.2: text in GSM 8-bit or a UCS2 form of TS 102 221 Annex A.

    ``coding=None`` picks the shortest form; an empty text is the null alpha identifier.
    """

    NAME = "Alpha identifier"
    CLAUSE = "TS 102 223 8.2"

    text: str = ""
    coding: AlphaCoding | None = field(default=None, compare=False)

    def encode_value(self) -> bytes:
        if not self.text and self.coding is None:
            return b""
        return encode_alpha(self.text, self.coding)

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        if not value:
            return cls()
        return cls(decode_alpha(value), alpha_coding_of(value))

    def summary(self) -> str:
        if not self.text and self.coding is None:
            return "(null)"
        return f"{self.text!r} ({_coding_name(self.encode_value())})"


def _coding_name(encoded: bytes) -> str:
    if not encoded:
        return "empty"
    return {
        AlphaCoding.GSM8: "GSM 8-bit",
        AlphaCoding.UCS2_80: "UCS2 '80'",
        AlphaCoding.UCS2_81: "UCS2 '81'",
        AlphaCoding.UCS2_82: "UCS2 '82'",
    }[alpha_coding_of(encoded)]


@dataclass(frozen=True)
class Item(Ie, tag=Tag.ITEM):
    """TS 102 223 8.9: item identifier and item text (coded like an alpha identifier).

    ``identifier=None`` is the null item (length 0) that removes a SET UP MENU.
    """

    NAME = "Item"
    CLAUSE = "TS 102 223 8.9"

    identifier: int | None
    text: str = ""
    coding: AlphaCoding | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.identifier is not None:
            byte_field("item identifier", self.identifier)

    def encode_value(self) -> bytes:
        if self.identifier is None:
            return b""
        body = encode_alpha(self.text, self.coding) if self.text or self.coding else b""
        return bytes((self.identifier,)) + body

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        if not value:
            return cls(None)
        body = value[1:]
        return cls(value[0], decode_alpha(body), alpha_coding_of(body) if body else None)

    def summary(self) -> str:
        if self.identifier is None:
            return "(null item)"
        coding = _coding_name(self.encode_value()[1:])
        return f"{self.identifier}: {self.text!r} ({coding})"


@dataclass(frozen=True)
class _TextIe(Ie):
    """Text string value: DCS octet and text (8.15); a null text string has no octets."""

    text: str = ""
    dcs: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.dcs is not None:
            byte_field("data coding scheme", self.dcs)

    def effective_dcs(self) -> int | None:
        """The DCS the value is sent with; None for the null text string."""
        if self.dcs is not None:
            return self.dcs
        return shortest_dcs(self.text) if self.text else None

    def encode_value(self) -> bytes:
        dcs = self.effective_dcs()
        if dcs is None:
            return b""
        return bytes((dcs,)) + encode_text(self.text, dcs)

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        if not value:
            return cls()
        return cls(decode_text(value[1:], value[0]), value[0])

    def summary(self) -> str:
        dcs = self.effective_dcs()
        if dcs is None:
            return "(null text string)"
        return f"{self.text!r} (DCS {dcs:02X}, {alphabet_of(dcs).value})"


@dataclass(frozen=True)
class TextString(_TextIe, tag=Tag.TEXT_STRING):
    """TS 102 223 8.15: DCS (TS 23.038) and text; ``dcs=None`` picks the shortest coding."""

    NAME = "Text string"
    CLAUSE = "TS 102 223 8.15"


@dataclass(frozen=True)
class DefaultText(_TextIe, tag=Tag.DEFAULT_TEXT):
    """TS 102 223 8.23: coded as a text string (8.15)."""

    NAME = "Default text"
    CLAUSE = "TS 102 223 8.23"


# --- address and SMS TPDU (8.1, 8.13) -----------------------------------------------------

# EF(ADN) BCD coding used by 8.1: 'A' '*', 'B' '#', 'C' DTMF pause, 'D' wild; 'F' end filler.
_BCD_DIGITS = "0123456789*#p?"


@dataclass(frozen=True)
class Address(Ie, tag=Tag.ADDRESS):
    """TS 102 223 8.1: TON/NPI octet (TS 24.008 10.5.4.7) and BCD dialling number."""

    NAME = "Address"
    CLAUSE = "TS 102 223 8.1"

    number: str
    ton: int = TypeOfNumber.INTERNATIONAL
    npi: int = NumberingPlan.ISDN

    def __post_init__(self) -> None:
        byte_field("type of number", self.ton, 0, 7)
        byte_field("numbering plan", self.npi, 0, 15)
        bad = [ch for ch in self.number.lower() if ch not in _BCD_DIGITS]
        if bad:
            raise IeError(f"address digits may only be 0-9 * # p ?, got {bad[0]!r}")

    def encode_value(self) -> bytes:
        nibbles = [_BCD_DIGITS.index(ch) for ch in self.number.lower()]
        if len(nibbles) % 2:
            nibbles.append(0xF)
        digits = bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, len(nibbles), 2))
        return bytes((0x80 | self.ton << 4 | self.npi,)) + digits

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        if not value:
            raise IeError("address needs its TON/NPI octet")
        nibbles = [n for b in value[1:] for n in (b & 0x0F, b >> 4)]
        if nibbles and nibbles[-1] == 0xF:
            nibbles.pop()
        if any(n > 0xD for n in nibbles):
            raise IeError(f"address digits {value[1:].hex()} hold a filler or expansion nibble")
        number = "".join(_BCD_DIGITS[n] for n in nibbles)
        return cls(number, (value[0] >> 4) & 0x07, value[0] & 0x0F)

    def summary(self) -> str:
        prefix = "+" if self.ton == TypeOfNumber.INTERNATIONAL else ""
        return (
            f"{prefix}{self.number} (TON {label(self.ton, TypeOfNumber)}, "
            f"NPI {label(self.npi, NumberingPlan)})"
        )


@dataclass(frozen=True)
class OctetsIe(Ie):
    """A data object whose value is carried as opaque octets."""

    data: bytes

    def encode_value(self) -> bytes:
        return self.data

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        return cls(value)

    def summary(self) -> str:
        return f"{len(self.data)} octets: {self.data.hex()}"


@dataclass(frozen=True)
class SmsTpdu(OctetsIe, tag=Tag.SMS_TPDU):
    """TS 102 223 8.13 / TS 31.111 8.13: an SMS TPDU (TS 23.040) without SC address."""

    NAME = "SMS TPDU"
    CLAUSE = "TS 102 223 8.13"


# --- same tag value, different containers ---------------------------------------------------


@dataclass(frozen=True)
class CApdu(OctetsIe, tag=Tag.C_APDU, scopes=(CommandType.PERFORM_CARD_APDU,)):
    """TS 102 223 8.35: the command APDU for an additional card."""

    NAME = "C-APDU"
    CLAUSE = "TS 102 223 8.35"


@dataclass(frozen=True)
class EncryptedTlvList(
    OctetsIe, tag=Tag.ENCRYPTED_TLV_LIST, scopes=(CommandType.COMMAND_CONTAINER,)
):
    """TS 102 223 8.99: the ciphered TLVs of a command container (same value as C-APDU)."""

    NAME = "Encrypted TLV list"
    CLAUSE = "TS 102 223 8.99"


@dataclass(frozen=True)
class RApdu(OctetsIe, tag=Tag.R_APDU, scopes=(CommandType.PERFORM_CARD_APDU,)):
    """TS 102 223 8.36: the additional card's response APDU."""

    NAME = "R-APDU"
    CLAUSE = "TS 102 223 8.36"


@dataclass(frozen=True)
class SaTemplate(OctetsIe, tag=Tag.SA_TEMPLATE, scopes=(CommandType.ENCAPSULATED_SESSION_CONTROL,)):
    """TS 102 223 8.101: security association template (same value as R-APDU)."""

    NAME = "SA template"
    CLAUSE = "TS 102 223 8.101"


@dataclass(frozen=True)
class GadShapes(OctetsIe, tag=Tag.GAD_SHAPES, scopes=(BerTag.GEOGRAPHICAL_LOCATION_REPORTING,)):
    """TS 31.111 (tag '77' in GEOGRAPHICAL LOCATION REPORTING): a TS 23.032 shape."""

    NAME = "GAD shapes"
    CLAUSE = "TS 31.111 9.3"


@dataclass(frozen=True)
class ImpuList(OctetsIe, tag=Tag.IMPU_LIST, scopes=(BerTag.EVENT_DOWNLOAD,)):
    """TS 31.111 (tag '77' in EVENT DOWNLOAD, IMS registration): the registered IMPUs."""

    NAME = "IMPU list"
    CLAUSE = "TS 31.111 9.3"


@dataclass(frozen=True)
class NmeaSentence(
    OctetsIe, tag=Tag.NMEA_SENTENCE, scopes=(BerTag.GEOGRAPHICAL_LOCATION_REPORTING,)
):
    """TS 31.111 (tag '78' in GEOGRAPHICAL LOCATION REPORTING): an NMEA sentence."""

    NAME = "NMEA sentence"
    CLAUSE = "TS 31.111 9.3"


@dataclass(frozen=True)
class ImsStatusCode(OctetsIe, tag=Tag.IMS_STATUS_CODE, scopes=(BerTag.EVENT_DOWNLOAD,)):
    """TS 31.111 (tag '78' in EVENT DOWNLOAD, IMS registration): the IMS status code."""

    NAME = "IMS status code"
    CLAUSE = "TS 31.111 9.3"


# --- value vectors checked by tests/stk/test_ies.py (hex of the value part, object) --------
# Sources: the conformance vectors pub-cat-001..028 and TS 102 223 clause 8 layouts.

AlphaIdentifier.EXAMPLES = (
    ("546f6f6c6b6974204d656e75", AlphaIdentifier("Toolkit Menu", AlphaCoding.GSM8)),
    ("804e005361901a", AlphaIdentifier("一卡通", AlphaCoding.UCS2_80)),
    ("", AlphaIdentifier()),
)
Item.EXAMPLES = (
    ("014974656d2031", Item(1, "Item 1", AlphaCoding.GSM8)),
    ("0181060891b0bbb0bdc1", Item(1, "Баланс", AlphaCoding.UCS2_81)),
    ("0282024e0a8081", Item(2, "上下", AlphaCoding.UCS2_82)),
    ("", Item(None)),
)
TextString.EXAMPLES = (
    ("04546f6f6c6b697420546573742031", TextString("Toolkit Test 1", 0x04)),
    ("00c3b09c0c62bfc7eb3219", TextString("Card locked", 0x00)),
    ("084e00767e", TextString("一百", 0x08)),
    ("", TextString()),
)
DefaultText.EXAMPLES = (("04313030", DefaultText("100", 0x04)),)
Address.EXAMPLES = (
    ("91683108100005f0", Address("8613800100500")),
    ("8110325476", Address("01234567", TypeOfNumber.UNKNOWN)),
)
SmsTpdu.EXAMPLES = (
    (
        "010008810156888800040542414c3031",
        SmsTpdu(bytes.fromhex("010008810156888800040542414c3031")),
    ),
)
CApdu.EXAMPLES = (("00a40004023f00", CApdu(bytes.fromhex("00a40004023f00"))),)
RApdu.EXAMPLES = (("9000", RApdu(b"\x90\x00")),)
EncryptedTlvList.EXAMPLES = (("a1b2c3", EncryptedTlvList(b"\xa1\xb2\xc3")),)
SaTemplate.EXAMPLES = (("0102", SaTemplate(b"\x01\x02")),)
GadShapes.EXAMPLES = (("00", GadShapes(b"\x00")),)
ImpuList.EXAMPLES = (("01", ImpuList(b"\x01")),)
NmeaSentence.EXAMPLES = (("24", NmeaSentence(b"$")),)
ImsStatusCode.EXAMPLES = (("32", ImsStatusCode(b"2")),)
