"""TPDU fields shared by the SMS TPDUs (3GPP TS 23.040 clause 9): addresses, protocol
identifier, service centre time stamps and validity periods, plus the bounds-checked reader
every TPDU decoder uses (so truncated input raises :class:`SmsFormatError`, never IndexError).

Sans-I/O: bytes in, frozen dataclasses out.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from smpp.sms_errors import SmsFormatError
from stk.text import gsm7_decode, gsm7_encode, gsm7_length, is_gsm7, pack_7bit, unpack_7bit


class Reader:
    """A cursor over one TPDU; every read names the field it wanted when the data ends."""

    __slots__ = ("_data", "offset")

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self.offset = 0

    def octet(self, what: str) -> int:
        return self.take(1, what)[0]

    def take(self, count: int, what: str) -> bytes:
        end = self.offset + count
        if count < 0 or end > len(self._data):
            raise SmsFormatError(
                f"TPDU truncated: {what} needs {count} octet(s) at offset {self.offset}, "
                f"{len(self._data) - self.offset} left"
            )
        chunk = self._data[self.offset : end]
        self.offset = end
        return chunk

    def rest(self) -> bytes:
        chunk = self._data[self.offset :]
        self.offset = len(self._data)
        return chunk

    @property
    def remaining(self) -> int:
        return len(self._data) - self.offset


# --- Addresses: TS 23.040 9.1.2.5 -------------------------------------------------------------


class TypeOfNumber(enum.IntEnum):
    """Type-of-number, bits 6..4 of the Type-of-Address octet (TS 23.040 9.1.2.5)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER = 4
    ALPHANUMERIC = 5  # coded in the GSM 7-bit default alphabet (TS 23.038 6.2.1)
    ABBREVIATED = 6
    RESERVED = 7


class NumberingPlan(enum.IntEnum):
    """Numbering-plan-identification, bits 3..0 of the Type-of-Address octet (9.1.2.5)."""

    UNKNOWN = 0
    ISDN = 1  # ISDN/telephone numbering plan (E.164/E.163)
    RESERVED_2 = 2
    DATA = 3  # X.121
    TELEX = 4
    SC_SPECIFIC_5 = 5
    SC_SPECIFIC_6 = 6
    RESERVED_7 = 7
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    RESERVED_11 = 11
    RESERVED_12 = 12
    RESERVED_13 = 13
    RESERVED_14 = 14
    EXTENSION = 15  # reserved for extension


# Semi-octet digit values (TS 23.040 9.1.2.3): 0-9, then '*', '#', 'a', 'b', 'c'; F is fill.
_SEMI_OCTET_DIGITS = "0123456789*#abc"
_DIGIT_VALUE = {ch: i for i, ch in enumerate(_SEMI_OCTET_DIGITS)}
MAX_ADDRESS_DIGITS = 20  # 10 octets of address value (the whole field is at most 12 octets)
MAX_ALPHANUMERIC_SEPTETS = 11  # 10 octets hold 80 bits, 11 whole septets


def encode_semi_octets(digits: str) -> bytes:
    """Digits as swapped semi-octets, odd counts filled with F (TS 23.040 9.1.2.3)."""
    values: list[int] = []
    for position, ch in enumerate(digits):
        value = _DIGIT_VALUE.get(ch)
        if value is None:
            raise SmsFormatError(f"{ch!r} at position {position} is not a semi-octet digit")
        values.append(value)
    if len(values) % 2:
        values.append(0xF)
    return bytes(values[i] | (values[i + 1] << 4) for i in range(0, len(values), 2))


def decode_semi_octets(data: bytes, count: int) -> str:
    """``count`` digits from swapped semi-octets; a digit F before the end is malformed."""
    nibbles = [n for b in data for n in (b & 0x0F, b >> 4)][:count]
    if len(nibbles) < count:
        raise SmsFormatError(f"address announces {count} digits, {len(nibbles)} present")
    if 0xF in nibbles:
        raise SmsFormatError(f"filler semi-octet F inside a {count}-digit address")
    return "".join(_SEMI_OCTET_DIGITS[n] for n in nibbles)


@dataclass(frozen=True, slots=True)
class Address:
    """TP-OA / TP-DA / TP-RA (TS 23.040 9.1.2.5).

    ``number`` holds the digits without a leading '+' (the type of number says international),
    or the text of an alphanumeric address.
    """

    number: str
    ton: TypeOfNumber = TypeOfNumber.UNKNOWN
    npi: NumberingPlan = NumberingPlan.ISDN

    def __post_init__(self) -> None:
        if self.ton is TypeOfNumber.ALPHANUMERIC:
            if not is_gsm7(self.number):
                raise SmsFormatError("alphanumeric address must use the GSM 7-bit alphabet")
            if gsm7_length(self.number) > MAX_ALPHANUMERIC_SEPTETS:
                raise SmsFormatError(
                    f"alphanumeric address {self.number!r} is over "
                    f"{MAX_ALPHANUMERIC_SEPTETS} septets"
                )
            return
        if len(self.number) > MAX_ADDRESS_DIGITS:
            raise SmsFormatError(f"address has {len(self.number)} digits, at most 20")
        bad = [ch for ch in self.number if ch not in _DIGIT_VALUE]
        if bad:
            raise SmsFormatError(f"address {self.number!r} has non-digit {bad[0]!r}")

    @classmethod
    def parse(cls, text: str) -> Address:
        """'+8613912345678' (international), '10658888' (unknown), 'OneCard' (alphanumeric)."""
        if text.startswith("+") and text[1:].isdigit():
            return cls(text[1:], TypeOfNumber.INTERNATIONAL, NumberingPlan.ISDN)
        # Semi-octets a..c exist but read as letters here: "Abc" is a sender name.
        if all(ch in "0123456789*#" for ch in text):
            return cls(text, TypeOfNumber.UNKNOWN, NumberingPlan.ISDN)
        return cls(text, TypeOfNumber.ALPHANUMERIC, NumberingPlan.UNKNOWN)

    def __str__(self) -> str:
        prefix = "+" if self.ton is TypeOfNumber.INTERNATIONAL and self.number else ""
        return prefix + self.number

    @property
    def type_octet(self) -> int:
        """Type-of-Address; bit 8 is always 1."""
        return 0x80 | (self.ton << 4) | self.npi

    def _value(self) -> tuple[int, bytes]:
        """(Address-Length in semi-octets, Address-Value)."""
        if self.ton is TypeOfNumber.ALPHANUMERIC:
            septets = gsm7_encode(self.number)
            # The length counts the semi-octets the packed septets occupy (9.1.2.5).
            return (len(septets) * 7 + 3) // 4, pack_7bit(septets)
        return len(self.number), encode_semi_octets(self.number)

    def encode(self) -> bytes:
        """The TP address field: Address-Length, Type-of-Address, Address-Value."""
        length, value = self._value()
        return bytes((length, self.type_octet)) + value

    def encode_value(self) -> bytes:
        """Type-of-Address and value without the length octet (RP addresses, STK TLVs)."""
        return bytes((self.type_octet,)) + self._value()[1]

    @classmethod
    def decode(cls, reader: Reader, what: str = "address") -> Address:
        length = reader.octet(f"{what} length")
        toa = reader.octet(f"{what} type")
        if length > MAX_ADDRESS_DIGITS:
            raise SmsFormatError(f"{what} length {length} semi-octets is over 20")
        value = reader.take((length + 1) // 2, f"{what} value")
        return cls._from_parts(toa, value, length)

    @classmethod
    def decode_value(cls, data: bytes) -> Address:
        """Inverse of :meth:`encode_value`: a trailing F nibble marks an odd digit count."""
        if not data:
            raise SmsFormatError("address value is empty (no type-of-address octet)")
        if len(data) - 1 > MAX_ADDRESS_DIGITS // 2:
            raise SmsFormatError(f"address value is {len(data) - 1} octets, at most 10")
        digits = 2 * (len(data) - 1)
        if digits and data[-1] >> 4 == 0xF:
            digits -= 1
        toa = data[0]
        if (toa >> 4) & 0x07 == TypeOfNumber.ALPHANUMERIC:
            digits = 2 * (len(data) - 1)
        return cls._from_parts(toa, data[1:], digits)

    @classmethod
    def _from_parts(cls, toa: int, value: bytes, length: int) -> Address:
        ton = TypeOfNumber((toa >> 4) & 0x07)
        npi = NumberingPlan(toa & 0x0F)
        if ton is TypeOfNumber.ALPHANUMERIC:
            septets = unpack_7bit(value, length * 4 // 7)
            return cls(gsm7_decode(septets), ton, npi)
        return cls(decode_semi_octets(value, length), ton, npi)

    def describe(self) -> str:
        return f"{self} (TON {self.ton.name.lower()}, NPI {self.npi.name.lower()})"


# --- Protocol identifier: TS 23.040 9.2.3.9 ---------------------------------------------------


class Pid(enum.IntEnum):
    """TP-PID values with a meaning of their own (TS 23.040 9.2.3.9)."""

    DEFAULT = 0x00  # plain short message to an SME
    SM_TYPE_0 = 0x40  # acknowledged, then discarded by the MS
    REPLACE_TYPE_1 = 0x41
    REPLACE_TYPE_2 = 0x42
    REPLACE_TYPE_3 = 0x43
    REPLACE_TYPE_4 = 0x44
    REPLACE_TYPE_5 = 0x45
    REPLACE_TYPE_6 = 0x46
    REPLACE_TYPE_7 = 0x47
    ENHANCED_MESSAGE_SERVICE = 0x5E
    RETURN_CALL = 0x5F
    ANSI_136_R_DATA = 0x7C
    ME_DATA_DOWNLOAD = 0x7D
    ME_DEPERSONALIZATION = 0x7E
    SIM_DATA_DOWNLOAD = 0x7F  # (U)SIM data download: SMS-PP OTA (TS 31.111 7.1)


# Bits 4..0 when bit 5 announces telematic interworking (9.2.3.9), the common ones.
_TELEMATIC_DEVICES = {
    0x00: "implicit",
    0x01: "telex",
    0x02: "group 3 telefax",
    0x03: "group 4 telefax",
    0x04: "voice telephone",
    0x05: "ERMES",
    0x06: "national paging system",
    0x07: "Videotex",
    0x10: "message handling facility",
    0x11: "X.400",
    0x12: "Internet electronic mail",
    0x1F: "GSM/UMTS mobile station",
}


def describe_pid(pid: int) -> str:
    if pid in Pid._value2member_map_:
        return Pid(pid).name.lower().replace("_", " ")
    group = pid >> 6
    if group == 0b00:
        if pid & 0x20:
            device = _TELEMATIC_DEVICES.get(pid & 0x1F, f"device 0x{pid & 0x1F:02X}")
            return f"telematic interworking ({device})"
        return f"SME-to-SME protocol 0x{pid & 0x1F:02X}"
    if group == 0b11:
        return "SC specific use"
    return "reserved"


# --- Time stamps: TS 23.040 9.2.3.11 ----------------------------------------------------------

TIMESTAMP_OCTETS = 7


def _bcd_swapped(value: int) -> int:
    return (value % 10) << 4 | (value // 10)


def _from_bcd_swapped(octet: int, what: str) -> int:
    low, high = octet & 0x0F, octet >> 4
    if low > 9 or high > 9:
        raise SmsFormatError(f"{what} octet {octet:02X} is not two decimal semi-octets")
    return low * 10 + high


def encode_timestamp(when: dt.datetime) -> bytes:
    """Year, month, day, hour, minute, second and time zone in quarter hours (9.2.3.11)."""
    offset = when.utcoffset()
    if offset is None:
        raise SmsFormatError("a TP time stamp needs a time zone (naive datetime given)")
    if not 2000 <= when.year <= 2099:
        raise SmsFormatError(f"year {when.year} does not fit two digits (2000..2099)")
    quarters, rest = divmod(int(offset.total_seconds()), 15 * 60)
    if rest or not -79 <= quarters <= 79:
        raise SmsFormatError(f"time zone {offset} is not a whole number of quarter hours")
    fields = (when.year - 2000, when.month, when.day, when.hour, when.minute, when.second)
    zone = _bcd_swapped(abs(quarters)) | (0x08 if quarters < 0 else 0)
    return bytes(_bcd_swapped(v) for v in fields) + bytes((zone,))


def decode_timestamp(data: bytes, what: str = "TP-SCTS") -> dt.datetime:
    if len(data) != TIMESTAMP_OCTETS:
        raise SmsFormatError(f"{what} is {len(data)} octets, 7 expected")
    year, month, day, hour, minute, second = (_from_bcd_swapped(b, what) for b in data[:6])
    zone = data[6]
    # The sign is bit 3 of the octet, i.e. the top bit of the (swapped) tens digit.
    quarters = _from_bcd_swapped(zone & 0xF7, f"{what} time zone")
    if zone & 0x08:
        quarters = -quarters
    tz = dt.timezone(dt.timedelta(minutes=15 * quarters))
    try:
        return dt.datetime(2000 + year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise SmsFormatError(f"{what} {data.hex()} is not a valid date: {exc}") from exc


# --- Validity period: TS 23.040 9.2.3.12 ------------------------------------------------------


class ValidityFormat(enum.IntEnum):
    """TP-VPF, bits 4..3 of the SMS-SUBMIT first octet (9.2.3.3)."""

    NONE = 0b00
    ENHANCED = 0b01
    RELATIVE = 0b10
    ABSOLUTE = 0b11


def _relative_duration(code: int) -> dt.timedelta:
    """TS 23.040 9.2.3.12.1: four ranges of growing step."""
    if code <= 143:
        return dt.timedelta(minutes=5 * (code + 1))
    if code <= 167:
        return dt.timedelta(hours=12, minutes=30 * (code - 143))
    if code <= 196:
        return dt.timedelta(days=code - 166)
    return dt.timedelta(weeks=code - 192)


@dataclass(frozen=True, slots=True)
class RelativeValidity:
    """Relative TP-VP, one octet (9.2.3.12.1)."""

    code: int

    def __post_init__(self) -> None:
        if not 0 <= self.code <= 0xFF:
            raise SmsFormatError(f"relative validity code {self.code} is not an octet")

    @property
    def duration(self) -> dt.timedelta:
        return _relative_duration(self.code)

    @classmethod
    def at_least(cls, duration: dt.timedelta) -> RelativeValidity:
        """The shortest relative period that is not shorter than ``duration``."""
        for code in range(256):
            if _relative_duration(code) >= duration:
                return cls(code)
        raise SmsFormatError(f"validity {duration} is over the 63 weeks TP-VP can carry")

    def encode(self) -> bytes:
        return bytes((self.code,))

    def describe(self) -> str:
        return f"relative 0x{self.code:02X} ({self.duration})"


@dataclass(frozen=True, slots=True)
class AbsoluteValidity:
    """Absolute TP-VP: a time stamp in the TP-SCTS format (9.2.3.12.2)."""

    expiry: dt.datetime

    def encode(self) -> bytes:
        return encode_timestamp(self.expiry)

    def describe(self) -> str:
        return f"absolute {self.expiry.isoformat(sep=' ')}"


class EnhancedFormat(enum.IntEnum):
    """Bits 2..0 of the enhanced TP-VP functionality indicator (9.2.3.12.3)."""

    NONE = 0b000
    RELATIVE = 0b001  # one octet coded as 9.2.3.12.1
    SECONDS = 0b010  # one octet, 0..255 seconds
    HHMMSS = 0b011  # three semi-octet octets, hours minutes seconds


@dataclass(frozen=True, slots=True)
class EnhancedValidity:
    """Enhanced TP-VP (9.2.3.12.3): always 7 octets, kept whole so that extension and reserved
    formats survive a decode/encode round trip."""

    octets: bytes

    def __post_init__(self) -> None:
        if len(self.octets) != 7:
            raise SmsFormatError(f"enhanced validity is {len(self.octets)} octets, 7 expected")

    @classmethod
    def build(
        cls, fmt: EnhancedFormat, value: bytes = b"", *, single_shot: bool = False
    ) -> EnhancedValidity:
        indicator = fmt | (0x40 if single_shot else 0)
        if len(value) > 6:
            raise SmsFormatError("enhanced validity value is over 6 octets")
        return cls(bytes((indicator,)) + value + bytes(6 - len(value)))

    @classmethod
    def seconds(cls, seconds: int, *, single_shot: bool = False) -> EnhancedValidity:
        if not 0 <= seconds <= 0xFF:
            raise SmsFormatError(f"enhanced validity of {seconds} s is not 0..255")
        return cls.build(EnhancedFormat.SECONDS, bytes((seconds,)), single_shot=single_shot)

    @property
    def extended(self) -> bool:
        return bool(self.octets[0] & 0x80)

    @property
    def single_shot(self) -> bool:
        return bool(self.octets[0] & 0x40)

    @property
    def format(self) -> int:
        return self.octets[0] & 0x07

    @property
    def duration(self) -> dt.timedelta | None:
        """The period, or None when none is given or the format is reserved/extended."""
        if self.extended:
            return None
        value = self.octets[1:]
        if self.format == EnhancedFormat.RELATIVE:
            return _relative_duration(value[0])
        if self.format == EnhancedFormat.SECONDS:
            return dt.timedelta(seconds=value[0])
        if self.format == EnhancedFormat.HHMMSS:
            hours, minutes, secs = (_from_bcd_swapped(b, "enhanced TP-VP") for b in value[:3])
            return dt.timedelta(hours=hours, minutes=minutes, seconds=secs)
        return None

    def encode(self) -> bytes:
        return self.octets

    def describe(self) -> str:
        shot = ", single shot" if self.single_shot else ""
        try:
            name = EnhancedFormat(self.format).name.lower()
        except ValueError:
            name = f"reserved format {self.format}"
        try:
            period = str(self.duration)
        except SmsFormatError as exc:  # a describer shows what is wrong instead of failing
            period = str(exc)
        return f"enhanced {self.octets.hex()} ({name}, {period}{shot})"


ValidityPeriod = RelativeValidity | AbsoluteValidity | EnhancedValidity


def validity_format(validity: ValidityPeriod | None) -> ValidityFormat:
    if validity is None:
        return ValidityFormat.NONE
    if isinstance(validity, RelativeValidity):
        return ValidityFormat.RELATIVE
    if isinstance(validity, AbsoluteValidity):
        return ValidityFormat.ABSOLUTE
    return ValidityFormat.ENHANCED


def decode_validity(vpf: ValidityFormat, reader: Reader) -> ValidityPeriod | None:
    if vpf is ValidityFormat.NONE:
        return None
    if vpf is ValidityFormat.RELATIVE:
        return RelativeValidity(reader.octet("TP-VP (relative)"))
    if vpf is ValidityFormat.ABSOLUTE:
        return AbsoluteValidity(decode_timestamp(reader.take(7, "TP-VP (absolute)"), "TP-VP"))
    return EnhancedValidity(reader.take(7, "TP-VP (enhanced)"))
