"""TP-UDL and TP-UD (3GPP TS 23.040 9.2.3.16 and 9.2.3.24) and the text they carry.

The payload after the user data header is kept in a coding-neutral form: for the GSM 7-bit
alphabet unpacked septets one per octet (as SMPP short_message carries them), otherwise the
octets as sent (UCS2 big-endian, 8-bit data, compressed data).
"""

from __future__ import annotations

from smpp.errors import UdhError
from smpp.sms_dcs import Alphabet, DataCodingScheme
from smpp.sms_errors import SmsFormatError, UnsupportedCodingError
from smpp.udh import Concat, Iei, Udh
from stk.errors import TextCodingError
from stk.text import gsm7_decode, pack_7bit, unpack_7bit

MAX_UD_OCTETS = 140  # TS 23.040 9.2.3.24
MAX_UD_SEPTETS = 160


def header_septets(udh_octets: int) -> int:
    """Septets a UDH of ``udh_octets`` (UDHL included) occupies with its fill bits."""
    return (udh_octets * 8 + 6) // 7


def fill_bits(udh_octets: int) -> int:
    """Fill bits after the UDH so the first character starts on a septet boundary."""
    return header_septets(udh_octets) * 7 - udh_octets * 8


def encode_user_data(dcs: DataCodingScheme, udh: Udh | None, payload: bytes) -> tuple[int, bytes]:
    """(TP-UDL, TP-UD) for a header and payload; UDL counts septets for 7-bit text."""
    header = udh.encode() if udh is not None else b""
    if dcs.septets:
        if any(s > 0x7F for s in payload):
            raise SmsFormatError("a 7-bit payload holds septets (values 0..0x7F) only")
        udl = header_septets(len(header)) + len(payload)
        if udl > MAX_UD_SEPTETS:
            raise SmsFormatError(f"user data is {udl} septets, at most {MAX_UD_SEPTETS}")
        return udl, header + pack_7bit(payload, fill_bits(len(header)))
    data = header + payload
    if len(data) > MAX_UD_OCTETS:
        raise SmsFormatError(f"user data is {len(data)} octets, at most {MAX_UD_OCTETS}")
    return len(data), data


def decode_user_data(
    dcs: DataCodingScheme, udhi: bool, udl: int, data: bytes
) -> tuple[Udh | None, bytes]:
    """Split TP-UD (everything after TP-UDL) into header and payload.

    ``data`` must be exactly as long as TP-UDL says: a shorter one is truncated, a longer one
    carries octets that belong to no field.
    """
    if dcs.septets:
        if udl > MAX_UD_SEPTETS:
            raise SmsFormatError(f"TP-UDL {udl} septets is over {MAX_UD_SEPTETS}")
        expected = (udl * 7 + 7) // 8
    else:
        if udl > MAX_UD_OCTETS:
            raise SmsFormatError(f"TP-UDL {udl} octets is over {MAX_UD_OCTETS}")
        expected = udl
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "oversized"
        raise SmsFormatError(
            f"TP-UD {kind}: TP-UDL {udl} needs {expected} octets, {len(data)} present"
        )
    udh: Udh | None = None
    body = data
    header_len = 0
    if udhi:
        try:
            udh, body = Udh.decode(data)
        except UdhError as exc:
            # Inside a TPDU this is a malformed user data field, and the peer needs a TP-FCS.
            raise SmsFormatError(f"user data header: {exc}") from exc
        header_len = len(data) - len(body)
    if not dcs.septets:
        return udh, body
    skip = header_septets(header_len)
    if skip > udl:
        raise SmsFormatError(f"user data header takes {skip} septets, TP-UDL is {udl}")
    try:
        payload = unpack_7bit(body, udl - skip, fill_bits(header_len))
    except TextCodingError as exc:
        raise SmsFormatError(f"7-bit user data: {exc}") from exc
    return udh, payload


# National language shift tables (TS 23.038 6.2.1.2.4) change what each septet means.
_SHIFT_IEIS = (Iei.NATIONAL_SINGLE_SHIFT, Iei.NATIONAL_LOCKING_SHIFT)


def user_data_text(dcs: DataCodingScheme, udh: Udh | None, payload: bytes) -> str:
    """The text of a payload, or a clear refusal when it has none we can produce."""
    if dcs.compressed:
        raise UnsupportedCodingError(
            f"TP-DCS {dcs.value:02X}: compressed user data (TS 23.042) is not supported"
        )
    alphabet = dcs.alphabet
    if alphabet is Alphabet.DATA_8BIT:
        raise UnsupportedCodingError(f"TP-DCS {dcs.value:02X}: 8-bit data carries no text")
    if alphabet is Alphabet.UCS2:
        return decode_ucs2(payload)
    if udh is not None and any(udh.has(iei) for iei in _SHIFT_IEIS):
        raise UnsupportedCodingError(
            "national language shift tables (TS 23.038 6.2.1.2.4) are not supported"
        )
    try:
        return gsm7_decode(payload)
    except TextCodingError as exc:
        raise SmsFormatError(f"7-bit user data: {exc}") from exc


def decode_ucs2(payload: bytes) -> str:
    """UCS2 as sent by handsets and SMSCs, which is UTF-16BE (surrogate pairs allowed)."""
    if len(payload) % 2:
        raise SmsFormatError(f"UCS2 user data has an odd number of octets ({len(payload)})")
    try:
        return payload.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise SmsFormatError(f"UCS2 user data is not valid UTF-16: {exc.reason}") from exc


def describe_udh(udh: Udh) -> list[str]:
    lines = []
    for ie in udh.elements:
        try:
            name = Iei(ie.iei).name
        except ValueError:
            name = "unknown"
        lines.append(f"IE {ie.iei:02X} {name} [{ie.data.hex()}]")
    concat: Concat | None = udh.concat
    if concat is not None:
        width = 16 if concat.ref16 else 8
        lines.append(
            f"part {concat.sequence} of {concat.total}, {width}-bit reference {concat.reference}"
        )
    return lines


class UserDataMixin:
    """Derived user data views for TPDUs with ``dcs``, ``udh`` and ``payload`` fields."""

    __slots__ = ()
    dcs: int | None
    udh: Udh | None
    payload: bytes

    @property
    def coding(self) -> DataCodingScheme:
        # TS 23.040 9.2.3.27: an absent TP-DCS means the default, 00.
        return DataCodingScheme(self.dcs if self.dcs is not None else 0)

    @property
    def text(self) -> str:
        return user_data_text(self.coding, self.udh, self.payload)

    @property
    def udl(self) -> int:
        return encode_user_data(self.coding, self.udh, self.payload)[0]

    @property
    def fill_bits(self) -> int:
        if self.udh is None or not self.coding.septets:
            return 0
        return fill_bits(len(self.udh))

    @property
    def user_data(self) -> bytes:
        """TP-UD as sent: header plus payload, 7-bit payloads packed after their fill bits."""
        return encode_user_data(self.coding, self.udh, self.payload)[1]

    @property
    def concat(self) -> Concat | None:
        return self.udh.concat if self.udh is not None else None

    def describe_user_data(self) -> list[str]:
        lines = [f"TP-UDL  {self.udl} {'septets' if self.coding.septets else 'octets'}"]
        if self.udh is not None:
            lines.append(f"UDH     {self.udh.encode().hex()}")
            lines.extend(f"        {line}" for line in describe_udh(self.udh))
            if self.fill_bits:
                lines.append(f"        {self.fill_bits} fill bit(s)")
        try:
            lines.append(f"text    {self.text!r}")
        except (SmsFormatError, UnsupportedCodingError) as exc:
            lines.append(f"data    {self.payload.hex()} ({exc})")
        return lines
