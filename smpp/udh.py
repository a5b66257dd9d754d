"""User data header: information elements, concatenation (3GPP TS 23.040 9.2.3.24).

Shared by SMS TPDUs, SMPP short_message with UDHI, and SMS-PP OTA framing (3GPP TS 31.115 4.2:
command packet identifier 70, response packet identifier 71). Sans-I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smpp.errors import UdhError


class Iei(enum.IntEnum):
    """Information element identifiers used here (TS 23.040 9.2.3.24, Table 9.2.3.24)."""

    CONCAT_8 = 0x00  # 9.2.3.24.1 concatenated short messages, 8-bit reference
    SPECIAL_SMS = 0x01  # 9.2.3.24.2 special SMS message indication
    PORT_8 = 0x04  # 9.2.3.24.3 application port addressing, 8-bit
    PORT_16 = 0x05  # 9.2.3.24.4 application port addressing, 16-bit
    SMSC_CONTROL = 0x06  # 9.2.3.24.6 SMSC control parameters
    UDH_SOURCE = 0x07  # 9.2.3.24.7 UDH source indicator
    CONCAT_16 = 0x08  # 9.2.3.24.8 concatenated short messages, 16-bit reference
    NATIONAL_SINGLE_SHIFT = 0x24  # 9.2.3.24.15 national language single shift
    NATIONAL_LOCKING_SHIFT = 0x25  # 9.2.3.24.16 national language locking shift
    CPI = 0x70  # TS 31.115 4.2: (U)SIM toolkit security header, command packet identifier
    RPI = 0x71  # TS 31.115 4.4: response packet identifier


@dataclass(frozen=True, slots=True)
class InformationElement:
    iei: int
    data: bytes = b""

    def encode(self) -> bytes:
        if len(self.data) > 0xFF:
            raise UdhError(f"IE {self.iei:#04x} data is {len(self.data)} octets, at most 255")
        return bytes((self.iei, len(self.data))) + self.data


@dataclass(frozen=True, slots=True)
class Concat:
    """Concatenation parameters: one part of a message of ``total`` parts (1-based)."""

    reference: int
    total: int
    sequence: int
    ref16: bool = False

    def is_valid(self) -> bool:
        return 1 <= self.sequence <= self.total and self.total >= 1


def concat_ie(reference: int, total: int, sequence: int, ref16: bool = False) -> InformationElement:
    """The concatenation IE (9.2.3.24.1 for an 8-bit reference, 9.2.3.24.8 for 16-bit)."""
    if not 1 <= total <= 0xFF or not 1 <= sequence <= total:
        raise UdhError(f"concatenation part {sequence} of {total} is out of range")
    if ref16:
        if not 0 <= reference <= 0xFFFF:
            raise UdhError(f"16-bit concatenation reference {reference} out of range")
        data = reference.to_bytes(2, "big") + bytes((total, sequence))
        return InformationElement(Iei.CONCAT_16, data)
    if not 0 <= reference <= 0xFF:
        raise UdhError(f"8-bit concatenation reference {reference} out of range")
    return InformationElement(Iei.CONCAT_8, bytes((reference, total, sequence)))


@dataclass(frozen=True, slots=True)
class Udh:
    elements: tuple[InformationElement, ...] = ()

    def encode(self) -> bytes:
        """The header including its UDHL octet."""
        body = b"".join(ie.encode() for ie in self.elements)
        if len(body) > 0xFF:
            raise UdhError(f"user data header is {len(body)} octets, at most 255")
        return bytes((len(body),)) + body

    def __len__(self) -> int:
        """Encoded length including UDHL."""
        return 1 + sum(2 + len(ie.data) for ie in self.elements)

    @classmethod
    def decode(cls, user_data: bytes) -> tuple[Udh, bytes]:
        """Split user data that starts with a UDH into the header and what follows it."""
        if not user_data:
            raise UdhError("user data header indicated but user data is empty")
        udhl = user_data[0]
        if 1 + udhl > len(user_data):
            raise UdhError(f"UDHL {udhl} exceeds the {len(user_data) - 1} octets of user data")
        body = user_data[1 : 1 + udhl]
        elements: list[InformationElement] = []
        i = 0
        while i < len(body):
            if i + 2 > len(body):
                raise UdhError(f"information element at offset {i} truncated")
            iei, length = body[i], body[i + 1]
            if i + 2 + length > len(body):
                raise UdhError(f"IE {iei:#04x} announces {length} octets, header ends first")
            elements.append(InformationElement(iei, bytes(body[i + 2 : i + 2 + length])))
            i += 2 + length
        return cls(tuple(elements)), bytes(user_data[1 + udhl :])

    def find(self, iei: int) -> InformationElement | None:
        for ie in self.elements:
            if ie.iei == iei:
                return ie
        return None

    def has(self, iei: int) -> bool:
        return self.find(iei) is not None

    @property
    def concat(self) -> Concat | None:
        """The first well-formed concatenation IE, else None.

        Malformed or out-of-range concatenation IEs are ignored as TS 23.040 9.2.3.24.1 asks
        ("the receiving entity shall ignore the entire Information Element"); IE order within
        the header is not fixed, so every IE is looked at.
        """
        for ie in self.elements:
            if ie.iei == Iei.CONCAT_8 and len(ie.data) == 3:
                found = Concat(ie.data[0], ie.data[1], ie.data[2], ref16=False)
            elif ie.iei == Iei.CONCAT_16 and len(ie.data) == 4:
                found = Concat(int.from_bytes(ie.data[:2], "big"), ie.data[2], ie.data[3], True)
            else:
                continue
            if found.is_valid():
                return found
        return None

    def without_concat(self) -> Udh:
        return Udh(tuple(e for e in self.elements if e.iei not in (Iei.CONCAT_8, Iei.CONCAT_16)))
