"""Normalisation of the identifiers members and cards are found by.

MSISDNs are kept in E.164 digits without '+' (ITU-T E.164), so that ``+86 138-0013-8000``,
``8613800138000`` and the national ``13800138000`` are one number: one number, one card.
ICCIDs are kept as printed digits (ITU-T E.118: up to 19 digits plus a possible filler, major
industry identifier 89).
"""

from __future__ import annotations

import re

from gateway.errors import ValidationError

_MSISDN_SEPARATORS = re.compile(r"[\s\-()]")
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
_E164 = re.compile(r"[1-9]\d{7,14}")
_ICCID = re.compile(r"89\d{16,18}")


def msisdn(value: str, field: str = "msisdn") -> str:
    digits = _MSISDN_SEPARATORS.sub("", value)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    elif _CN_MOBILE.fullmatch(digits):
        digits = "86" + digits  # a national Chinese mobile number
    if not _E164.fullmatch(digits):
        raise ValidationError(field, f"{value!r} is not a mobile number (E.164, 8-15 digits)")
    return digits


def iccid(value: str, field: str = "iccid") -> str:
    text = value.strip().upper().rstrip("F")
    if not _ICCID.fullmatch(text):
        raise ValidationError(field, f"{value!r} is not an ICCID (18-20 digits starting 89)")
    return text
