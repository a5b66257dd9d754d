"""A small BER codec (ITU-T X.690): definite lengths, the types our CDR records use.

Encoding (X.690 8.1): identifier octets (class, primitive/constructed, tag number, 8.1.2),
length octets in the short or long definite form (8.1.3), contents. INTEGER is two's
complement in the fewest octets (8.3); strings are their octets (8.7, 8.23).

Decoding never lets an IndexError out: every truncation or malformed length becomes a
``BerError`` naming the offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

from billing.errors import BerError


class TagClass(IntEnum):
    """X.690 8.1.2.2, bits 8-7 of the identifier octet."""

    UNIVERSAL = 0x00
    APPLICATION = 0x40
    CONTEXT = 0x80
    PRIVATE = 0xC0


CONSTRUCTED = 0x20  # X.690 8.1.2.5, bit 6


def identifier(
    number: int, tag_class: TagClass = TagClass.CONTEXT, constructed: bool = False
) -> bytes:
    """Identifier octets; tag numbers above 30 use the high-tag-number form (8.1.2.4)."""
    if number < 0:
        raise BerError(f"negative tag number {number}")
    first = tag_class | (CONSTRUCTED if constructed else 0)
    if number < 31:
        return bytes([first | number])
    digits = [number & 0x7F]
    number >>= 7
    while number:
        digits.append(0x80 | (number & 0x7F))
        number >>= 7
    return bytes([first | 0x1F, *reversed(digits)])


def length_octets(length: int) -> bytes:
    """Definite length (8.1.3.4 short form below 128, else 8.1.3.5 long form)."""
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(ident: bytes, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return ident + bytes((n,)) + content
    return ident + length_octets(n) + content


def integer_content(value: int) -> bytes:
    """Two's complement in the fewest octets (8.3.2)."""
    # -128 needs one octet (80), 128 needs two (0080): count the bits of ~value when negative.
    bits = value.bit_length() if value >= 0 else (~value).bit_length()
    return value.to_bytes(bits // 8 + 1, "big", signed=True)


# Identifier octets of context-specific primitive tags [0]..[30], built once: the record
# encoder uses them a million times per export.
CONTEXT_PRIMITIVE = tuple(identifier(n) for n in range(31))
CONTEXT_CONSTRUCTED = tuple(identifier(n, constructed=True) for n in range(31))


@dataclass(frozen=True, slots=True)
class Tlv:
    """One decoded element; ``value`` is the contents octets."""

    tag_class: TagClass
    constructed: bool
    number: int
    value: bytes
    offset: int  # where the element starts in the decoded buffer, for error messages

    def children(self) -> list[Tlv]:
        if not self.constructed:
            raise BerError(f"element [{self.number}] at offset {self.offset} is primitive")
        return list(iter_tlvs(self.value, base=self.offset))


def decode_tlv(data: bytes, offset: int = 0, base: int = 0) -> tuple[Tlv, int]:
    """The element starting at ``offset`` and the offset just after it."""
    where = base + offset
    end = len(data)
    if offset >= end:
        raise BerError(f"truncated element at offset {where}: no identifier")
    first = data[offset]
    pos = offset + 1
    number = first & 0x1F
    if number == 0x1F:
        number = 0
        while True:
            if pos >= end:
                raise BerError(f"truncated tag number at offset {where}")
            octet = data[pos]
            pos += 1
            number = (number << 7) | (octet & 0x7F)
            if not octet & 0x80:
                break
            if number > 0xFFFFFF:
                raise BerError(f"tag number too large at offset {where}")
    length, pos = _decode_length(data, pos, where)
    if pos + length > end:
        raise BerError(f"element at offset {where} needs {length} octets, {end - pos} remain")
    element = Tlv(
        TagClass(first & 0xC0),
        bool(first & CONSTRUCTED),
        number,
        bytes(data[pos : pos + length]),
        where,
    )
    return element, pos + length


def _decode_length(data: bytes, pos: int, where: int) -> tuple[int, int]:
    if pos >= len(data):
        raise BerError(f"truncated length at offset {where}")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0:
        raise BerError(f"indefinite length at offset {where} (only definite lengths are used)")
    if count > 4:
        raise BerError(f"length of {count} octets at offset {where} is too large")
    if pos + count > len(data):
        raise BerError(f"truncated long-form length at offset {where}")
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def iter_tlvs(data: bytes, base: int = 0) -> Iterator[Tlv]:
    offset = 0
    while offset < len(data):
        element, offset = decode_tlv(data, offset, base)
        yield element


def decode_integer(element: Tlv) -> int:
    if element.constructed or not element.value:
        raise BerError(f"INTEGER [{element.number}] at offset {element.offset} is malformed")
    return int.from_bytes(element.value, "big", signed=True)


def decode_text(element: Tlv, encoding: str = "utf-8") -> str:
    if element.constructed:
        raise BerError(f"string [{element.number}] at offset {element.offset} is constructed")
    try:
        return element.value.decode(encoding)
    except UnicodeDecodeError as exc:
        raise BerError(f"string [{element.number}] at offset {element.offset}: {exc}") from exc
