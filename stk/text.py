"""Text coding shared by STK and SMS: the GSM 7-bit default alphabet and the UCS2 alpha forms.

- GSM 7-bit default alphabet and its extension table: 3GPP TS 23.038 clauses 6.2.1 and 6.2.1.1.
- Packing of septets into octets, with fill bits after a user data header: TS 23.038 6.1.2.1.1
  and TS 23.040 9.2.3.24.
- Alpha identifiers and item texts, SMS default alphabet with bit 8 = 0 (the "GSM8" form) or one
  of the three UCS2 forms 80 / 81 / 82: ETSI TS 102 221 Annex A.

Encoders choose the shortest form unless told which; decoders accept every form.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from stk.errors import TextCodingError

# TS 23.038 6.2.1, positions 0x00..0x7F. 0x1B is the escape to the extension table; it is
# kept as a placeholder character here and never produced by the decoder.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# TS 23.038 6.2.1.1: characters reached by 0x1B followed by this code.
GSM7_EXTENSION: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
ESCAPE = 0x1B

_BASIC_CODE: dict[str, int] = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != ESCAPE}
_EXTENSION_CHAR: dict[int, str] = {code: ch for ch, code in GSM7_EXTENSION.items()}


def is_gsm7(text: str) -> bool:
    """True when every character is in the default alphabet or its extension table."""
    return all(ch in _BASIC_CODE or ch in GSM7_EXTENSION for ch in text)


def gsm7_length(text: str) -> int:
    """Number of septets ``text`` takes (escaped characters count two)."""
    return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)


def gsm7_encode(text: str) -> bytes:
    """Encode to unpacked septets, one per octet, extension characters as ``1B xx``."""
    out = bytearray()
    for position, ch in enumerate(text):
        code = _BASIC_CODE.get(ch)
        if code is not None:
            out.append(code)
            continue
        ext = GSM7_EXTENSION.get(ch)
        if ext is None:
            raise TextCodingError(
                f"character {ch!r} (U+{ord(ch):04X}) at position {position} is not in the "
                "GSM 7-bit default alphabet"
            )
        out += bytes((ESCAPE, ext))
    return bytes(out)


def gsm7_decode(septets: bytes | Iterable[int]) -> str:
    """Decode unpacked septets.

    An escape followed by a code the extension table does not define shows the basic-table
    character instead, as TS 23.038 6.2.1.1 asks of a receiving entity; a trailing lone escape
    is dropped (it can only be padding).
    """
    data = bytes(septets)
    chars: list[str] = []
    i = 0
    while i < len(data):
        code = data[i]
        if code > 0x7F:
            raise TextCodingError(f"octet {code:#04x} at position {i} is not a septet")
        if code == ESCAPE:
            if i + 1 >= len(data):
                break
            nxt = data[i + 1]
            if nxt > 0x7F:
                raise TextCodingError(f"octet {nxt:#04x} at position {i + 1} is not a septet")
            chars.append(_EXTENSION_CHAR.get(nxt, " " if nxt == ESCAPE else GSM7_BASIC[nxt]))
            i += 2
            continue
        chars.append(GSM7_BASIC[code])
        i += 1
    return "".join(chars)


def pack_7bit(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets LSB first (TS 23.038 6.1.2.1.1), after ``fill_bits`` zero bits.

    The fill bits align the first septet after a user data header on a septet boundary
    (TS 23.040 9.2.3.24); the header itself is not part of ``septets``.
    """
    if not 0 <= fill_bits <= 6:
        raise TextCodingError(f"fill_bits must be 0..6, got {fill_bits}")
    acc = 0
    nbits = fill_bits
    out = bytearray()
    for septet in septets:
        if septet > 0x7F:
            raise TextCodingError(f"value {septet:#04x} is not a septet")
        acc |= septet << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_7bit(data: bytes, septet_count: int, fill_bits: int = 0) -> bytes:
    """Unpack ``septet_count`` septets that start ``fill_bits`` bits into ``data``."""
    if not 0 <= fill_bits <= 6:
        raise TextCodingError(f"fill_bits must be 0..6, got {fill_bits}")
    if septet_count < 0:
        raise TextCodingError(f"septet count must not be negative, got {septet_count}")
    needed = (fill_bits + 7 * septet_count + 7) // 8
    if needed > len(data):
        raise TextCodingError(
            f"{septet_count} septets need {needed} octets, only {len(data)} present"
        )
    value = int.from_bytes(data[:needed], "little") >> fill_bits
    return bytes((value >> (7 * i)) & 0x7F for i in range(septet_count))


class AlphaCoding(enum.Enum):
    """The four codings of an alpha identifier / item text (TS 102 221 Annex A)."""

    GSM8 = "gsm8"  # SMS default alphabet, one character per octet, bit 8 = 0
    UCS2_80 = "ucs2_80"  # '80' then UCS2 big-endian
    UCS2_81 = "ucs2_81"  # '81' count, base pointer bits 15..8, GSM or base + offset octets
    UCS2_82 = "ucs2_82"  # '82' count, 16-bit base pointer, GSM or base + offset octets


def _ucs2_units(text: str) -> bytes:
    # Characters outside the BMP travel as UTF-16 surrogate pairs in the '80' form: strict UCS2
    # cannot carry them, and handsets that display them at all expect UTF-16.
    return text.encode("utf-16-be")


def _window_form(text: str, coding: AlphaCoding) -> bytes | None:
    """Encode in form 81 or 82, or None when the text does not fit that form."""
    wide = [ord(ch) for ch in text if ch not in _BASIC_CODE]
    # The character count is one octet, so longer texts only fit the '80' form.
    if len(text) > 0xFF or any(code > 0xFFFF for code in wide):
        return None
    if coding is AlphaCoding.UCS2_81:
        base = (min(wide) & 0x7F80) if wide else 0
        if wide and (min(wide) > 0x7FFF or max(wide) - base > 0x7F):
            return None
        header = bytes((0x81, len(text), base >> 7))
    else:
        base = min(wide) if wide else 0
        if wide and max(wide) - base > 0x7F:
            return None
        header = bytes((0x82, len(text))) + base.to_bytes(2, "big")
    body = bytes(
        _BASIC_CODE[ch] if ch in _BASIC_CODE else 0x80 | (ord(ch) - base) for ch in text
    )
    return header + body


def _encode_form(text: str, coding: AlphaCoding) -> bytes | None:
    if coding is AlphaCoding.GSM8:
        return gsm7_encode(text) if is_gsm7(text) else None
    if coding is AlphaCoding.UCS2_80:
        return b"\x80" + _ucs2_units(text)
    return _window_form(text, coding)


# Tie-break order for equal lengths: the forms more terminals understand come first.
_PREFERENCE = (AlphaCoding.GSM8, AlphaCoding.UCS2_81, AlphaCoding.UCS2_82, AlphaCoding.UCS2_80)


def encode_alpha(text: str, coding: AlphaCoding | None = None) -> bytes:
    """Encode an alpha identifier or item text; ``coding=None`` picks the shortest form."""
    if coding is not None:
        encoded = _encode_form(text, coding)
        if encoded is None:
            raise TextCodingError(f"text cannot be coded in the {coding.value} form")
        return encoded
    candidates = [e for e in (_encode_form(text, c) for c in _PREFERENCE) if e is not None]
    return min(candidates, key=len)


def alpha_coding_of(data: bytes) -> AlphaCoding:
    """Which Annex A form ``data`` is in, from its first octet."""
    if data[:1] == b"\x80":
        return AlphaCoding.UCS2_80
    if data[:1] == b"\x81":
        return AlphaCoding.UCS2_81
    if data[:1] == b"\x82":
        return AlphaCoding.UCS2_82
    return AlphaCoding.GSM8


def _decode_window(data: bytes, header_len: int, base: int) -> str:
    count = data[1]
    body = data[header_len : header_len + count]
    if len(body) < count:
        raise TextCodingError(
            f"UCS2 form {data[0]:02X} announces {count} characters, {len(body)} present"
        )
    return "".join(
        chr(base + (b & 0x7F)) if b & 0x80 else GSM7_BASIC[b] if b != ESCAPE else " "
        for b in body
    )


def decode_alpha(data: bytes) -> str:
    """Decode an alpha identifier or item text in any Annex A form; FF padding is ignored."""
    coding = alpha_coding_of(data)
    if coding is AlphaCoding.UCS2_80:
        units = data[1:]
        # Unused trailing octets are 'FF' (TS 102 221 Annex A); an odd one is padding too.
        while units.endswith(b"\xff\xff"):
            units = units[:-2]
        if len(units) % 2:
            if units.endswith(b"\xff"):
                units = units[:-1]
            else:
                raise TextCodingError("UCS2 form 80 has an odd number of octets")
        try:
            return units.decode("utf-16-be")
        except UnicodeDecodeError as exc:
            raise TextCodingError(f"UCS2 form 80 is not valid UTF-16: {exc.reason}") from exc
    if coding is AlphaCoding.UCS2_81:
        if len(data) < 3:
            raise TextCodingError("UCS2 form 81 needs at least 3 octets")
        return _decode_window(data, 3, data[2] << 7)
    if coding is AlphaCoding.UCS2_82:
        if len(data) < 4:
            raise TextCodingError("UCS2 form 82 needs at least 4 octets")
        return _decode_window(data, 4, int.from_bytes(data[2:4], "big"))
    return gsm7_decode(data.rstrip(b"\xff"))
