"""Identity encodings of the USIM files.

- EF.ICCID: BCD with swapped nibbles, 'F'-padded to 10 octets (TS 102 221 13.2).
- EF.IMSI: length octet, then digits BCD-swapped with the parity nibble first
  (TS 31.102 4.2.2, TS 24.008 10.5.1.4).
- Dialling numbers (EF.MSISDN, EF.SMSP, EF.ADN): length, TON/NPI, BCD-swapped digits
  (TS 31.102 4.2.26 / 4.4.2.3, TS 24.008 10.5.4.7).
"""

from __future__ import annotations

from sim_emulator.errors import WrongData

_BCD_EXTRA = "*#abc"  # digits 'A'..'E' of TS 24.008 Table 10.5.118 (* # a b c)


def _check_digits(digits: str, what: str, low: int, high: int) -> None:
    if not digits.isascii() or not digits.isdigit() or not low <= len(digits) <= high:
        raise WrongData(f"{what} must be {low} to {high} decimal digits")


def swap_bcd(digits: str, length: int | None = None) -> bytes:
    """Digits two per octet, low nibble first, padded with 'F' to ``length`` octets."""
    if len(digits) % 2:
        digits += "F"
    out = bytes(int(digits[i + 1] + digits[i], 16) for i in range(0, len(digits), 2))
    if length is not None:
        out = out.ljust(length, b"\xff")
    return out


def unswap_bcd(data: bytes) -> str:
    out: list[str] = []
    for octet in data:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble == 0xF:
                return "".join(out)
            out.append(str(nibble) if nibble < 10 else _BCD_EXTRA[nibble - 10])
    return "".join(out)


def encode_iccid(iccid: str) -> bytes:
    _check_digits(iccid, "an ICCID", 18, 20)
    return swap_bcd(iccid, 10)


def decode_iccid(data: bytes) -> str:
    return unswap_bcd(data)


def encode_imsi(imsi: str) -> bytes:
    _check_digits(imsi, "an IMSI", 6, 15)
    # TS 24.008 10.5.1.4: identity type 1 (IMSI) with the odd/even bit, then the digits.
    first = (int(imsi[0]) << 4) | (0x9 if len(imsi) % 2 else 0x1)
    body = bytes((first,)) + swap_bcd(imsi[1:])
    return bytes((len(body),)) + body.ljust(8, b"\xff")


def decode_imsi(data: bytes) -> str:
    if len(data) < 2 or data[0] == 0 or data[0] > len(data) - 1:
        raise WrongData("EF.IMSI is empty or malformed")
    body = data[1 : 1 + data[0]]
    digits = str(body[0] >> 4) + unswap_bcd(body[1:])
    return digits


def encode_number(number: str, max_octets: int = 10) -> bytes:
    """Length, TON/NPI and the BCD digits of a dialling number ('+' means international)."""
    international = number.startswith("+")
    digits = number.lstrip("+")
    _check_digits(digits, "a dialling number", 1, 2 * max_octets)
    bcd = swap_bcd(digits)
    ton_npi = 0x91 if international else 0x81
    return bytes((len(bcd) + 1, ton_npi)) + bcd.ljust(max_octets, b"\xff")


def decode_number(data: bytes) -> str:
    if not data or data[0] in (0, 0xFF) or data[0] > len(data) - 1:
        return ""
    ton_npi, bcd = data[1], data[2 : 1 + data[0]]
    digits = unswap_bcd(bcd)
    return ("+" if ton_npi & 0x70 == 0x10 else "") + digits
