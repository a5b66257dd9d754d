"""TP-Data-Coding-Scheme (3GPP TS 23.038 clause 4): coding groups, alphabet, message class.

The DCS is kept as its octet; everything else is derived from it, so any octet round-trips.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smpp.sms_errors import SmsFormatError


class Alphabet(enum.Enum):
    GSM7 = "GSM 7-bit default alphabet"
    DATA_8BIT = "8-bit data"
    UCS2 = "UCS2"


class MessageClass(enum.IntEnum):
    """TS 23.038 4: message class, bits 1..0 when the class is meaningful."""

    CLASS_0 = 0  # immediate display ("flash")
    CLASS_1 = 1  # ME specific
    CLASS_2 = 2  # (U)SIM specific: the ME hands it to the card (SMS-PP data download)
    CLASS_3 = 3  # TE specific


class CodingGroup(enum.Enum):
    """The coding groups of TS 23.038 4, chosen by bits 7..4."""

    GENERAL = "general data coding"  # 00xx
    AUTO_DELETION = "message marked for automatic deletion"  # 01xx
    RESERVED = "reserved coding group"  # 1000..1011
    MWI_DISCARD = "message waiting indication, discard message"  # 1100
    MWI_STORE = "message waiting indication, store message"  # 1101
    MWI_STORE_UCS2 = "message waiting indication, store message (UCS2)"  # 1110
    DATA_CODING_CLASS = "data coding / message class"  # 1111


class IndicationType(enum.IntEnum):
    """Message waiting indication type, bits 1..0 of the MWI groups."""

    VOICEMAIL = 0
    FAX = 1
    EMAIL = 2
    OTHER = 3


_CLASS_MEANING = {
    MessageClass.CLASS_0: "immediate display",
    MessageClass.CLASS_1: "ME specific",
    MessageClass.CLASS_2: "SIM specific",
    MessageClass.CLASS_3: "TE specific",
}
_ALPHABET_BITS = {0b00: Alphabet.GSM7, 0b01: Alphabet.DATA_8BIT, 0b10: Alphabet.UCS2}


@dataclass(frozen=True, slots=True)
class DataCodingScheme:
    value: int

    def __post_init__(self) -> None:
        if not 0 <= self.value <= 0xFF:
            raise SmsFormatError(f"TP-DCS {self.value} is not an octet")

    @classmethod
    def for_alphabet(
        cls, alphabet: Alphabet, message_class: MessageClass | None = None
    ) -> DataCodingScheme:
        """The general data coding octet (00xx) for an alphabet and optional class."""
        bits = {v: k for k, v in _ALPHABET_BITS.items()}[alphabet] << 2
        if message_class is not None:
            bits |= 0x10 | message_class
        return cls(bits)

    @property
    def group(self) -> CodingGroup:
        high = self.value >> 4
        if high <= 0b0011:
            return CodingGroup.GENERAL
        if high <= 0b0111:
            return CodingGroup.AUTO_DELETION
        return {
            0b1100: CodingGroup.MWI_DISCARD,
            0b1101: CodingGroup.MWI_STORE,
            0b1110: CodingGroup.MWI_STORE_UCS2,
            0b1111: CodingGroup.DATA_CODING_CLASS,
        }.get(high, CodingGroup.RESERVED)

    @property
    def _general(self) -> bool:
        return self.group in (CodingGroup.GENERAL, CodingGroup.AUTO_DELETION)

    @property
    def reserved(self) -> bool:
        """A reserved coding: TS 23.038 4 says to assume the GSM 7-bit default alphabet."""
        if self.group is CodingGroup.RESERVED:
            return True
        if self._general:
            return (self.value >> 2) & 0b11 == 0b11
        return self.group is CodingGroup.DATA_CODING_CLASS and bool(self.value & 0x08)

    @property
    def alphabet(self) -> Alphabet:
        group = self.group
        if self._general:
            return _ALPHABET_BITS.get((self.value >> 2) & 0b11, Alphabet.GSM7)
        if group is CodingGroup.MWI_STORE_UCS2:
            return Alphabet.UCS2
        if group is CodingGroup.DATA_CODING_CLASS:
            return Alphabet.DATA_8BIT if self.value & 0x04 else Alphabet.GSM7
        return Alphabet.GSM7

    @property
    def compressed(self) -> bool:
        """Text compressed as TS 23.042 (bit 5 in the general groups)."""
        return self._general and bool(self.value & 0x20)

    @property
    def message_class(self) -> MessageClass | None:
        if self.group is CodingGroup.DATA_CODING_CLASS or (self._general and self.value & 0x10):
            return MessageClass(self.value & 0x03)
        return None

    @property
    def septets(self) -> bool:
        """True when TP-UDL counts septets: uncompressed GSM 7-bit (TS 23.040 9.2.3.16)."""
        return self.alphabet is Alphabet.GSM7 and not self.compressed

    @property
    def indication(self) -> tuple[bool, IndicationType] | None:
        """(active, type) for the message waiting indication groups, else None."""
        if self.group in (
            CodingGroup.MWI_DISCARD,
            CodingGroup.MWI_STORE,
            CodingGroup.MWI_STORE_UCS2,
        ):
            return bool(self.value & 0x08), IndicationType(self.value & 0x03)
        return None

    def describe(self) -> str:
        parts = [self.alphabet.value]
        if self.compressed:
            parts.append("compressed")
        if self.message_class is not None:
            meaning = _CLASS_MEANING[self.message_class]
            parts.append(f"class {self.message_class.value} ({meaning})")
        if self.group is not CodingGroup.GENERAL:
            parts.append(self.group.value)
        indication = self.indication
        if indication is not None:
            state = "active" if indication[0] else "inactive"
            parts.append(f"{indication[1].name.lower()} indication {state}")
        if self.reserved:
            parts.append("reserved coding, read as GSM 7-bit")
        return ", ".join(parts)
