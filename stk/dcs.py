"""Text strings with a data coding scheme octet (TS 102 223 8.15 / 8.23, 3GPP TS 23.038).

A text string carries a DCS octet and then the text: ``00`` GSM 7-bit default alphabet packed,
``04`` the same alphabet unpacked (8-bit data), ``08`` UCS2. Any DCS of TS 23.038 clause 4
that names one of those three alphabets is accepted when decoding; compressed text and the
reserved coding groups are refused.
"""

from __future__ import annotations

import enum

from stk.errors import TextCodingError
from stk.text import gsm7_decode, gsm7_encode, gsm7_length, is_gsm7, pack_7bit, unpack_7bit

DCS_GSM7_PACKED = 0x00
DCS_8BIT = 0x04
DCS_UCS2 = 0x08

_CR = 0x0D


class Alphabet(enum.Enum):
    """Character set named by a DCS (TS 23.038 clause 4)."""

    GSM7 = "GSM 7-bit packed"
    EIGHT_BIT = "GSM 8-bit"
    UCS2 = "UCS2"


def alphabet_of(dcs: int) -> Alphabet:
    """The alphabet a DCS octet selects (TS 23.038 clause 4, SMS data coding groups)."""
    if not 0 <= dcs <= 0xFF:
        raise TextCodingError(f"DCS {dcs} is not an octet")
    group = dcs >> 4
    if group <= 0x7:  # 00xx general data coding, 01xx the same marked for automatic deletion
        if dcs & 0x20:
            raise TextCodingError(f"DCS {dcs:02X} announces compressed text (not supported)")
        alphabet = (dcs >> 2) & 0x03
        if alphabet == 0x03:
            raise TextCodingError(f"DCS {dcs:02X} names the reserved alphabet")
        return (Alphabet.GSM7, Alphabet.EIGHT_BIT, Alphabet.UCS2)[alphabet]
    if group in (0xC, 0xD):  # message waiting indication, discard / store, GSM 7-bit
        return Alphabet.GSM7
    if group == 0xE:  # message waiting indication, store, UCS2
        return Alphabet.UCS2
    if group == 0xF:  # data coding / message class: bit 3 selects 8-bit data
        return Alphabet.EIGHT_BIT if dcs & 0x04 else Alphabet.GSM7
    raise TextCodingError(f"DCS {dcs:02X} is in a reserved coding group")


def _pack(text: str) -> bytes:
    septets = gsm7_encode(text)
    # TS 23.038 6.1.2.1.1: when 7 spare bits are left in the last octet a receiver would read
    # them as '@'; CR fills them instead. A wanted CR on an octet boundary gets a second CR.
    if len(septets) % 8 == 7 or (len(septets) % 8 == 0 and septets.endswith(bytes((_CR,)))):
        septets += bytes((_CR,))
    return pack_7bit(septets)


def _unpack(data: bytes) -> str:
    count = len(data) * 8 // 7
    septets = unpack_7bit(data, count)
    if count % 8 == 0 and septets.endswith(bytes((_CR,))):
        septets = septets[:-1]  # the CR filler of the rule above
    return gsm7_decode(septets)


def encode_text(text: str, dcs: int) -> bytes:
    """Encode ``text`` in the alphabet ``dcs`` names (the DCS octet itself is not included)."""
    alphabet = alphabet_of(dcs)
    if alphabet is Alphabet.GSM7:
        return _pack(text)
    if alphabet is Alphabet.EIGHT_BIT:
        return gsm7_encode(text)
    # Outside the BMP the units are UTF-16 surrogate pairs, as in the '80' alpha form.
    return text.encode("utf-16-be")


def decode_text(data: bytes, dcs: int) -> str:
    """Decode the text octets of a text string whose DCS is ``dcs``."""
    alphabet = alphabet_of(dcs)
    if alphabet is Alphabet.GSM7:
        return _unpack(data)
    if alphabet is Alphabet.EIGHT_BIT:
        return gsm7_decode(data)
    if len(data) % 2:
        raise TextCodingError(f"UCS2 text has an odd number of octets ({len(data)})")
    try:
        return data.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise TextCodingError(f"UCS2 text is not valid UTF-16: {exc.reason}") from exc


def shortest_dcs(text: str) -> int:
    """The DCS giving the fewest octets: packed beats unpacked only from 8 septets on.

    Ties go to unpacked 8-bit, which every terminal displays; a text that would need the
    doubled-CR rule stays unpacked too, so that it decodes back unchanged.
    """
    if not is_gsm7(text):
        return DCS_UCS2
    septets = gsm7_length(text)
    packed = (septets * 7 + 7) // 8
    if packed < septets and not (septets % 8 == 0 and text.endswith("\r")):
        return DCS_GSM7_PACKED
    return DCS_8BIT
