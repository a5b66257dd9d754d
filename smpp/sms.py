"""SMS TPDUs (3GPP TS 23.040 9.2): SMS-DELIVER and SMS-SUBMIT here, the reports and
SMS-COMMAND in :mod:`smpp.sms_reports`, a dispatcher by TP-MTI, and builders that turn a long
text into concatenated TPDUs.

TPDUs are the TP layer only, without the SMSC address that AT+CMGS or an RP-DATA puts in
front. Fields follow the spec's order; the DCS is kept as its octet (see
:class:`~smpp.sms_dcs.DataCodingScheme` for its meaning) and the user data as UDH plus payload
(unpacked septets for GSM 7-bit text, octets otherwise). pySim gets TP-UDL wrong in places
(tests/data/sim-conformance.FINDINGS.md); here TP-UDL is always computed, never supplied.

Sans-I/O: bytes in, frozen dataclasses out; every decoder raises :class:`SmsFormatError`
(or :class:`~smpp.errors.UdhError`) on malformed input.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from smpp.sms_dcs import Alphabet, DataCodingScheme, MessageClass
from smpp.sms_errors import (
    FailureCause,
    ReassemblyError,
    SmsError,
    SmsFormatError,
    UnsupportedCodingError,
)
from smpp.sms_fields import (
    Address,
    Reader,
    ValidityFormat,
    ValidityPeriod,
    decode_timestamp,
    decode_validity,
    describe_pid,
    encode_timestamp,
    validity_format,
)
from smpp.sms_reports import SmsCommand, SmsDeliverReport, SmsStatusReport, SmsSubmitReport
from smpp.sms_userdata import UserDataMixin, decode_user_data, encode_user_data
from smpp.text import Coding, Segment, split_text
from smpp.udh import Udh

__all__ = [
    "Direction",
    "FailureCause",
    "MessageType",
    "ReassemblyError",
    "SmsCommand",
    "SmsDeliver",
    "SmsDeliverReport",
    "SmsError",
    "SmsFormatError",
    "SmsStatusReport",
    "SmsSubmit",
    "SmsSubmitReport",
    "Tpdu",
    "UnsupportedCodingError",
    "build_delivers",
    "build_submits",
    "decode_tpdu",
]


class Direction(enum.Enum):
    """Which way a TPDU travels; TP-MTI means different TPDUs each way (9.2.3.1)."""

    SC_TO_MS = "SC→MS"  # mobile terminated: DELIVER, SUBMIT-REPORT, STATUS-REPORT
    MS_TO_SC = "MS→SC"  # mobile originated: SUBMIT, DELIVER-REPORT, COMMAND


class MessageType(enum.IntEnum):
    """TP-MTI, bits 1..0 of the first octet (TS 23.040 9.2.3.1)."""

    DELIVER = 0b00  # SMS-DELIVER (SC→MS) / SMS-DELIVER-REPORT (MS→SC)
    SUBMIT = 0b01  # SMS-SUBMIT-REPORT (SC→MS) / SMS-SUBMIT (MS→SC)
    COMMAND = 0b10  # SMS-STATUS-REPORT (SC→MS) / SMS-COMMAND (MS→SC)
    RESERVED = 0b11


# First-octet bits shared by several TPDUs (TS 23.040 9.2.3).
_RP = 0x80  # TP-Reply-Path (9.2.3.17)
_UDHI = 0x40  # TP-User-Data-Header-Indicator (9.2.3.23)
_SRI_SRR = 0x20  # TP-Status-Report-Indication (9.2.3.4) / -Request (9.2.3.5)
_LP = 0x08  # TP-Loop-Prevention (9.2.3.28)
_MMS_RD = 0x04  # TP-More-Messages-to-Send (9.2.3.2) / TP-Reject-Duplicates (9.2.3.25)


def _octet(value: int, what: str) -> None:
    if not 0 <= value <= 0xFF:
        raise SmsFormatError(f"{what} {value} is not an octet")


@dataclass(frozen=True, slots=True)
class SmsDeliver(UserDataMixin):
    """SMS-DELIVER, SC→MS (TS 23.040 9.2.2.1)."""

    originator: Address
    scts: dt.datetime
    pid: int = 0
    dcs: int = 0
    udh: Udh | None = None
    payload: bytes = b""
    # TP-MMS is 0 when more messages are waiting; the field states it positively.
    more_messages_waiting: bool = False
    loop_prevention: bool = False
    status_report_indication: bool = False
    reply_path: bool = False

    def __post_init__(self) -> None:
        _octet(self.pid, "TP-PID")
        _octet(self.dcs, "TP-DCS")

    @property
    def first_octet(self) -> int:
        first = MessageType.DELIVER | (0 if self.more_messages_waiting else _MMS_RD)
        first |= _LP if self.loop_prevention else 0
        first |= _SRI_SRR if self.status_report_indication else 0
        first |= _UDHI if self.udh is not None else 0
        return first | (_RP if self.reply_path else 0)

    def encode(self) -> bytes:
        udl, ud = encode_user_data(self.coding, self.udh, self.payload)
        return (
            bytes((self.first_octet,))
            + self.originator.encode()
            + bytes((self.pid, self.dcs))
            + encode_timestamp(self.scts)
            + bytes((udl,))
            + ud
        )

    @classmethod
    def decode(cls, data: bytes) -> SmsDeliver:
        reader = Reader(data)
        first = reader.octet("first octet")
        originator = Address.decode(reader, "TP-OA")
        pid = reader.octet("TP-PID")
        dcs = reader.octet("TP-DCS")
        scts = decode_timestamp(reader.take(7, "TP-SCTS"))
        udl = reader.octet("TP-UDL")
        udh, payload = decode_user_data(
            DataCodingScheme(dcs), bool(first & _UDHI), udl, reader.rest()
        )
        return cls(
            originator,
            scts,
            pid,
            dcs,
            udh,
            payload,
            more_messages_waiting=not first & _MMS_RD,
            loop_prevention=bool(first & _LP),
            status_report_indication=bool(first & _SRI_SRR),
            reply_path=bool(first & _RP),
        )

    def describe(self) -> list[str]:
        flags = [
            f"first octet {self.first_octet:02X}: MTI=00",
            "MMS=0 (more messages waiting)" if self.more_messages_waiting else "MMS=1",
            f"LP={int(self.loop_prevention)}",
            f"SRI={int(self.status_report_indication)}",
            f"UDHI={int(self.udh is not None)}",
            f"RP={int(self.reply_path)}",
        ]
        return [
            "SMS-DELIVER (SC→MS, TS 23.040 9.2.2.1)",
            f"TP-MTI  {', '.join(flags)}",
            f"TP-OA   {self.originator.describe()}",
            f"TP-PID  {self.pid:02X} {describe_pid(self.pid)}",
            f"TP-DCS  {self.dcs:02X} {self.coding.describe()}",
            f"TP-SCTS {self.scts.isoformat(sep=' ')}",
            *self.describe_user_data(),
        ]


@dataclass(frozen=True, slots=True)
class SmsSubmit(UserDataMixin):
    """SMS-SUBMIT, MS→SC (TS 23.040 9.2.2.2)."""

    destination: Address
    message_reference: int = 0
    pid: int = 0
    dcs: int = 0
    udh: Udh | None = None
    payload: bytes = b""
    validity: ValidityPeriod | None = None
    reject_duplicates: bool = False
    status_report_request: bool = False
    reply_path: bool = False

    def __post_init__(self) -> None:
        _octet(self.message_reference, "TP-MR")
        _octet(self.pid, "TP-PID")
        _octet(self.dcs, "TP-DCS")

    @property
    def first_octet(self) -> int:
        first = MessageType.SUBMIT | (validity_format(self.validity) << 3)
        first |= _MMS_RD if self.reject_duplicates else 0
        first |= _SRI_SRR if self.status_report_request else 0
        first |= _UDHI if self.udh is not None else 0
        return first | (_RP if self.reply_path else 0)

    def encode(self) -> bytes:
        udl, ud = encode_user_data(self.coding, self.udh, self.payload)
        return (
            bytes((self.first_octet, self.message_reference))
            + self.destination.encode()
            + bytes((self.pid, self.dcs))
            + (self.validity.encode() if self.validity is not None else b"")
            + bytes((udl,))
            + ud
        )

    @classmethod
    def decode(cls, data: bytes) -> SmsSubmit:
        reader = Reader(data)
        first = reader.octet("first octet")
        reference = reader.octet("TP-MR")
        destination = Address.decode(reader, "TP-DA")
        pid = reader.octet("TP-PID")
        dcs = reader.octet("TP-DCS")
        validity = decode_validity(ValidityFormat((first >> 3) & 0b11), reader)
        udl = reader.octet("TP-UDL")
        udh, payload = decode_user_data(
            DataCodingScheme(dcs), bool(first & _UDHI), udl, reader.rest()
        )
        return cls(
            destination,
            reference,
            pid,
            dcs,
            udh,
            payload,
            validity,
            reject_duplicates=bool(first & _MMS_RD),
            status_report_request=bool(first & _SRI_SRR),
            reply_path=bool(first & _RP),
        )

    def describe(self) -> list[str]:
        flags = [
            f"first octet {self.first_octet:02X}: MTI=01",
            f"RD={int(self.reject_duplicates)}",
            f"VPF={validity_format(self.validity).name.lower()}",
            f"SRR={int(self.status_report_request)}",
            f"UDHI={int(self.udh is not None)}",
            f"RP={int(self.reply_path)}",
        ]
        lines = [
            "SMS-SUBMIT (MS→SC, TS 23.040 9.2.2.2)",
            f"TP-MTI  {', '.join(flags)}",
            f"TP-MR   {self.message_reference}",
            f"TP-DA   {self.destination.describe()}",
            f"TP-PID  {self.pid:02X} {describe_pid(self.pid)}",
            f"TP-DCS  {self.dcs:02X} {self.coding.describe()}",
        ]
        if self.validity is not None:
            lines.append(f"TP-VP   {self.validity.describe()}")
        return lines + self.describe_user_data()


Tpdu = SmsDeliver | SmsSubmit | SmsDeliverReport | SmsSubmitReport | SmsStatusReport | SmsCommand


def message_type(data: bytes) -> MessageType:
    if not data:
        raise SmsFormatError("TPDU is empty")
    return MessageType(data[0] & 0b11)


def decode_tpdu(data: bytes, direction: Direction, *, rp_error: bool | None = None) -> Tpdu:
    """Decode any TPDU by TP-MTI and direction (TS 23.040 9.2.3.1).

    ``rp_error`` tells a report carried in RP-ERROR (with TP-FCS) from one in RP-ACK; None
    infers it from the octet after the first (see :mod:`smpp.sms_reports`).
    """
    mti = message_type(data)
    if direction is Direction.SC_TO_MS:
        # 9.2.3.1: an MS treats a reserved TP-MTI as SMS-DELIVER.
        if mti in (MessageType.DELIVER, MessageType.RESERVED):
            return SmsDeliver.decode(bytes((data[0] & 0xFC,)) + data[1:])
        if mti is MessageType.SUBMIT:
            return SmsSubmitReport.decode(data, rp_error=rp_error)
        return SmsStatusReport.decode(data)
    if mti is MessageType.DELIVER:
        return SmsDeliverReport.decode(data, rp_error=rp_error)
    if mti is MessageType.SUBMIT:
        return SmsSubmit.decode(data)
    if mti is MessageType.COMMAND:
        return SmsCommand.decode(data)
    raise SmsFormatError("TP-MTI 11 is reserved for a TPDU from the MS")


# --- Builders for long texts ------------------------------------------------------------------


def _dcs_for(coding: Coding, message_class: MessageClass | None) -> int:
    alphabet = Alphabet.GSM7 if coding is Coding.GSM7 else Alphabet.UCS2
    return DataCodingScheme.for_alphabet(alphabet, message_class).value


def _segment_udh(segment: Segment) -> Udh | None:
    return Udh.decode(segment.udh)[0] if segment.udh else None


def _address(value: Address | str) -> Address:
    return value if isinstance(value, Address) else Address.parse(value)


def build_submits(
    text: str,
    destination: Address | str,
    reference: int,
    *,
    message_reference: int = 0,
    ref16: bool = False,
    coding: Coding | None = None,
    message_class: MessageClass | None = None,
    validity: ValidityPeriod | None = None,
    status_report_request: bool = False,
    pid: int = 0,
) -> tuple[SmsSubmit, ...]:
    """SMS-SUBMITs for ``text``, concatenated when long; each part takes the next TP-MR."""
    target = _address(destination)
    segments = split_text(text, reference=reference, ref16=ref16, coding=coding)
    return tuple(
        SmsSubmit(
            target,
            (message_reference + i) % 256,
            pid,
            _dcs_for(seg.coding, message_class),
            _segment_udh(seg),
            seg.payload,
            validity,
            status_report_request=status_report_request,
        )
        for i, seg in enumerate(segments)
    )


def build_delivers(
    text: str,
    originator: Address | str,
    reference: int,
    *,
    scts: dt.datetime,
    ref16: bool = False,
    coding: Coding | None = None,
    message_class: MessageClass | None = None,
    pid: int = 0,
    more_messages_waiting: bool = False,
) -> tuple[SmsDeliver, ...]:
    """SMS-DELIVERs for ``text``, concatenated when long, all with the same TP-SCTS."""
    source = _address(originator)
    segments = split_text(text, reference=reference, ref16=ref16, coding=coding)
    return tuple(
        SmsDeliver(
            source,
            scts,
            pid,
            _dcs_for(seg.coding, message_class),
            _segment_udh(seg),
            seg.payload,
            more_messages_waiting=more_messages_waiting,
        )
        for seg in segments
    )
