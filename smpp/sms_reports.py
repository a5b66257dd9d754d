"""The report TPDUs and SMS-COMMAND (3GPP TS 23.040 9.2.2.1a, 9.2.2.2a, 9.2.2.3, 9.2.2.4).

A report travels in an RP-ACK or an RP-ERROR (TS 24.011); only the RP-ERROR form carries
TP-FCS, and the TPDU alone does not say which it is. Decoders take ``rp_error``; when it is
None they infer it from the second octet: every TP-FCS value is 0x80 or above (9.2.3.22) while
a TP-PI with bit 7 set would announce an extension octet no release defines (9.2.3.27).

Sans-I/O: bytes in, frozen dataclasses out.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from smpp.sms_dcs import DataCodingScheme
from smpp.sms_errors import FailureCause, SmsFormatError
from smpp.sms_fields import Address, Reader, decode_timestamp, describe_pid, encode_timestamp
from smpp.sms_userdata import UserDataMixin, decode_user_data, encode_user_data
from smpp.udh import Udh

_UDHI = 0x40
_MTI_DELIVER_REPORT = 0b00
_MTI_SUBMIT_REPORT = 0b01
_MTI_STATUS_REPORT = 0b10
_MTI_COMMAND = 0b10

# TP-Parameter-Indicator bits (9.2.3.27).
_PI_PID = 0x01
_PI_DCS = 0x02
_PI_UDL = 0x04
_PI_EXTENSION = 0x80
MAX_COMMAND_DATA = 157  # TP-CDL limit (9.2.3.20)


def _octet(value: int | None, what: str) -> None:
    if value is not None and not 0 <= value <= 0xFF:
        raise SmsFormatError(f"{what} {value} is not an octet")


def _has_user_data(udh: Udh | None, payload: bytes) -> bool:
    return udh is not None or bool(payload)


def _encode_optional(pid: int | None, dcs: int | None, udh: Udh | None, payload: bytes) -> bytes:
    """TP-PI and the optional TP-PID, TP-DCS, TP-UDL and TP-UD it announces."""
    indicator = (_PI_PID if pid is not None else 0) | (_PI_DCS if dcs is not None else 0)
    tail = b""
    if pid is not None:
        tail += bytes((pid,))
    if dcs is not None:
        tail += bytes((dcs,))
    if _has_user_data(udh, payload):
        indicator |= _PI_UDL
        udl, ud = encode_user_data(DataCodingScheme(dcs or 0), udh, payload)
        tail += bytes((udl,)) + ud
    return bytes((indicator,)) + tail


def _decode_optional(
    reader: Reader, udhi: bool
) -> tuple[int | None, int | None, Udh | None, bytes]:
    indicator = reader.octet("TP-PI")
    extension = indicator
    while extension & _PI_EXTENSION:  # further TP-PI octets: none defined, skip them
        extension = reader.octet("TP-PI extension")
    pid = reader.octet("TP-PID") if indicator & _PI_PID else None
    dcs = reader.octet("TP-DCS") if indicator & _PI_DCS else None
    udh: Udh | None = None
    payload = b""
    if indicator & _PI_UDL:
        udl = reader.octet("TP-UDL")
        udh, payload = decode_user_data(DataCodingScheme(dcs or 0), udhi, udl, reader.rest())
    elif udhi:
        raise SmsFormatError("TP-UDHI is set but TP-PI announces no user data")
    if reader.remaining:
        raise SmsFormatError(f"{reader.remaining} octet(s) after the last TPDU field")
    return pid, dcs, udh, payload


def _infer_error(data: bytes, rp_error: bool | None) -> bool:
    if rp_error is not None:
        return rp_error
    return len(data) > 1 and data[1] >= 0x80


def _first_octet(mti: int, udh: Udh | None) -> int:
    return mti | (_UDHI if udh is not None else 0)


def _describe_optional(report: UserDataMixin, pid: int | None, dcs: int | None) -> list[str]:
    lines = []
    if pid is not None:
        lines.append(f"TP-PID  {pid:02X} {describe_pid(pid)}")
    if dcs is not None:
        lines.append(f"TP-DCS  {dcs:02X} {report.coding.describe()}")
    if _has_user_data(report.udh, report.payload):
        lines.extend(report.describe_user_data())
    return lines


def _describe_fcs(failure_cause: int | None) -> list[str]:
    if failure_cause is None:
        return ["RP-ACK form (no TP-FCS)"]
    return [f"TP-FCS  {failure_cause:02X} {FailureCause.describe(failure_cause)}"]


@dataclass(frozen=True, slots=True)
class SmsDeliverReport(UserDataMixin):
    """SMS-DELIVER-REPORT, MS→SC (9.2.2.1a); ``failure_cause`` None is the RP-ACK form.

    An SMS-PP data download answers with one of these carrying the card's PoR (TS 31.111 7.1).
    """

    failure_cause: int | None = None
    pid: int | None = None
    dcs: int | None = None
    udh: Udh | None = None
    payload: bytes = b""

    def __post_init__(self) -> None:
        if self.failure_cause is not None and not 0x80 <= self.failure_cause <= 0xFF:
            raise SmsFormatError(f"TP-FCS {self.failure_cause} is not 0x80..0xFF")
        _octet(self.pid, "TP-PID")
        _octet(self.dcs, "TP-DCS")

    def encode(self) -> bytes:
        first = _first_octet(_MTI_DELIVER_REPORT, self.udh)
        fcs = bytes((self.failure_cause,)) if self.failure_cause is not None else b""
        return bytes((first,)) + fcs + _encode_optional(self.pid, self.dcs, self.udh, self.payload)

    @classmethod
    def decode(cls, data: bytes, *, rp_error: bool | None = None) -> SmsDeliverReport:
        reader = Reader(data)
        first = reader.octet("first octet")
        fcs = reader.octet("TP-FCS") if _infer_error(data, rp_error) else None
        pid, dcs, udh, payload = _decode_optional(reader, bool(first & _UDHI))
        return cls(fcs, pid, dcs, udh, payload)

    def describe(self) -> list[str]:
        return [
            "SMS-DELIVER-REPORT (MS→SC, TS 23.040 9.2.2.1a)",
            *_describe_fcs(self.failure_cause),
            *_describe_optional(self, self.pid, self.dcs),
        ]


@dataclass(frozen=True, slots=True)
class SmsSubmitReport(UserDataMixin):
    """SMS-SUBMIT-REPORT, SC→MS (9.2.2.2a); ``failure_cause`` None is the RP-ACK form."""

    scts: dt.datetime
    failure_cause: int | None = None
    pid: int | None = None
    dcs: int | None = None
    udh: Udh | None = None
    payload: bytes = b""

    def __post_init__(self) -> None:
        if self.failure_cause is not None and not 0x80 <= self.failure_cause <= 0xFF:
            raise SmsFormatError(f"TP-FCS {self.failure_cause} is not 0x80..0xFF")
        _octet(self.pid, "TP-PID")
        _octet(self.dcs, "TP-DCS")

    def encode(self) -> bytes:
        first = _first_octet(_MTI_SUBMIT_REPORT, self.udh)
        fcs = bytes((self.failure_cause,)) if self.failure_cause is not None else b""
        optional = _encode_optional(self.pid, self.dcs, self.udh, self.payload)
        # TP-SCTS sits between TP-PI and the optional fields (9.2.2.2a).
        return bytes((first,)) + fcs + optional[:1] + encode_timestamp(self.scts) + optional[1:]

    @classmethod
    def decode(cls, data: bytes, *, rp_error: bool | None = None) -> SmsSubmitReport:
        reader = Reader(data)
        first = reader.octet("first octet")
        fcs = reader.octet("TP-FCS") if _infer_error(data, rp_error) else None
        indicator = reader.take(1, "TP-PI")
        scts = decode_timestamp(reader.take(7, "TP-SCTS"))
        # Put TP-PI back in front of the optional fields it announces.
        rest = Reader(indicator + reader.rest())
        pid, dcs, udh, payload = _decode_optional(rest, bool(first & _UDHI))
        return cls(scts, fcs, pid, dcs, udh, payload)

    def describe(self) -> list[str]:
        return [
            "SMS-SUBMIT-REPORT (SC→MS, TS 23.040 9.2.2.2a)",
            *_describe_fcs(self.failure_cause),
            f"TP-SCTS {self.scts.isoformat(sep=' ')}",
            *_describe_optional(self, self.pid, self.dcs),
        ]


class TransferStatus(enum.IntEnum):
    """TP-Status (TS 23.040 9.2.3.15), the values with a name of their own."""

    RECEIVED = 0x00
    FORWARDED_UNCONFIRMED = 0x01
    REPLACED = 0x02
    TEMP_CONGESTION = 0x20
    TEMP_SME_BUSY = 0x21
    TEMP_NO_RESPONSE = 0x22
    TEMP_SERVICE_REJECTED = 0x23
    TEMP_QOS_NOT_AVAILABLE = 0x24
    TEMP_ERROR_IN_SME = 0x25
    REMOTE_PROCEDURE_ERROR = 0x40
    INCOMPATIBLE_DESTINATION = 0x41
    CONNECTION_REJECTED = 0x42
    NOT_OBTAINABLE = 0x43
    QOS_NOT_AVAILABLE = 0x44
    NO_INTERWORKING = 0x45
    VALIDITY_EXPIRED = 0x46
    DELETED_BY_ORIGINATOR = 0x47
    DELETED_BY_SC = 0x48
    DOES_NOT_EXIST = 0x49
    FINAL_CONGESTION = 0x60
    FINAL_SME_BUSY = 0x61
    FINAL_NO_RESPONSE = 0x62
    FINAL_SERVICE_REJECTED = 0x63
    FINAL_QOS_NOT_AVAILABLE = 0x64
    FINAL_ERROR_IN_SME = 0x65


_STATUS_CLASSES = (
    "transaction completed",
    "temporary error, SC still trying",
    "permanent error, SC not trying",
    "temporary error, SC not trying",
)


def describe_status(status: int) -> str:
    name = TransferStatus(status).name if status in TransferStatus._value2member_map_ else None
    group = _STATUS_CLASSES[(status >> 5) & 0b11] if status < 0x80 else "reserved"
    return f"{name.lower()} ({group})" if name else group


@dataclass(frozen=True, slots=True)
class SmsStatusReport(UserDataMixin):
    """SMS-STATUS-REPORT, SC→MS (9.2.2.3)."""

    message_reference: int
    recipient: Address
    scts: dt.datetime
    discharge_time: dt.datetime
    status: int
    pid: int | None = None
    dcs: int | None = None
    udh: Udh | None = None
    payload: bytes = b""
    more_messages_waiting: bool = False
    loop_prevention: bool = False
    # TP-SRQ: the report answers an SMS-COMMAND rather than an SMS-SUBMIT (9.2.3.26).
    command_result: bool = False

    def __post_init__(self) -> None:
        _octet(self.message_reference, "TP-MR")
        _octet(self.status, "TP-ST")
        _octet(self.pid, "TP-PID")
        _octet(self.dcs, "TP-DCS")

    @property
    def _has_optional(self) -> bool:
        return (
            self.pid is not None or self.dcs is not None or _has_user_data(self.udh, self.payload)
        )

    def encode(self) -> bytes:
        first = _first_octet(_MTI_STATUS_REPORT, self.udh)
        first |= 0 if self.more_messages_waiting else 0x04
        first |= 0x08 if self.loop_prevention else 0
        first |= 0x20 if self.command_result else 0
        optional = b""
        if self._has_optional:
            optional = _encode_optional(self.pid, self.dcs, self.udh, self.payload)
        return (
            bytes((first, self.message_reference))
            + self.recipient.encode()
            + encode_timestamp(self.scts)
            + encode_timestamp(self.discharge_time)
            + bytes((self.status,))
            + optional
        )

    @classmethod
    def decode(cls, data: bytes) -> SmsStatusReport:
        reader = Reader(data)
        first = reader.octet("first octet")
        reference = reader.octet("TP-MR")
        recipient = Address.decode(reader, "TP-RA")
        scts = decode_timestamp(reader.take(7, "TP-SCTS"))
        discharge = decode_timestamp(reader.take(7, "TP-DT"), "TP-DT")
        status = reader.octet("TP-ST")
        pid: int | None = None
        dcs: int | None = None
        udh: Udh | None = None
        payload = b""
        if reader.remaining:  # TP-PI and what it announces are optional here
            pid, dcs, udh, payload = _decode_optional(reader, bool(first & _UDHI))
        elif first & _UDHI:
            raise SmsFormatError("TP-UDHI is set but the report has no user data")
        return cls(
            reference,
            recipient,
            scts,
            discharge,
            status,
            pid,
            dcs,
            udh,
            payload,
            more_messages_waiting=not first & 0x04,
            loop_prevention=bool(first & 0x08),
            command_result=bool(first & 0x20),
        )

    def describe(self) -> list[str]:
        return [
            "SMS-STATUS-REPORT (SC→MS, TS 23.040 9.2.2.3)",
            f"TP-MR   {self.message_reference}",
            f"TP-RA   {self.recipient.describe()}",
            f"TP-SCTS {self.scts.isoformat(sep=' ')}",
            f"TP-DT   {self.discharge_time.isoformat(sep=' ')}",
            f"TP-ST   {self.status:02X} {describe_status(self.status)}",
            *_describe_optional(self, self.pid, self.dcs),
        ]


class CommandType(enum.IntEnum):
    """TP-Command-Type (9.2.3.19); E0..FF are SC specific."""

    ENQUIRY = 0x00
    CANCEL_STATUS_REPORT = 0x01
    DELETE = 0x02
    ENABLE_STATUS_REPORT = 0x03


@dataclass(frozen=True, slots=True)
class SmsCommand:
    """SMS-COMMAND, MS→SC (9.2.2.4): an operation on a previously submitted message."""

    message_reference: int
    command_type: int
    message_number: int
    destination: Address
    pid: int = 0
    command_data: bytes = b""
    status_report_request: bool = False
    # TP-UDHI here says TP-CD starts with a user data header (9.2.3.23).
    header_in_data: bool = False

    def __post_init__(self) -> None:
        for value, what in (
            (self.message_reference, "TP-MR"),
            (self.command_type, "TP-CT"),
            (self.message_number, "TP-MN"),
            (self.pid, "TP-PID"),
        ):
            _octet(value, what)
        if len(self.command_data) > MAX_COMMAND_DATA:
            raise SmsFormatError(f"TP-CD is {len(self.command_data)} octets, at most 157")

    def encode(self) -> bytes:
        first = _MTI_COMMAND | (0x20 if self.status_report_request else 0)
        first |= _UDHI if self.header_in_data else 0
        return (
            bytes((first, self.message_reference, self.pid, self.command_type))
            + bytes((self.message_number,))
            + self.destination.encode()
            + bytes((len(self.command_data),))
            + self.command_data
        )

    @classmethod
    def decode(cls, data: bytes) -> SmsCommand:
        reader = Reader(data)
        first = reader.octet("first octet")
        reference = reader.octet("TP-MR")
        pid = reader.octet("TP-PID")
        command_type = reader.octet("TP-CT")
        number = reader.octet("TP-MN")
        destination = Address.decode(reader, "TP-DA")
        length = reader.octet("TP-CDL")
        if length > MAX_COMMAND_DATA:
            raise SmsFormatError(f"TP-CDL {length} is over {MAX_COMMAND_DATA}")
        command_data = reader.take(length, "TP-CD")
        if reader.remaining:
            raise SmsFormatError(f"{reader.remaining} octet(s) after TP-CD")
        return cls(
            reference,
            command_type,
            number,
            destination,
            pid,
            command_data,
            status_report_request=bool(first & 0x20),
            header_in_data=bool(first & _UDHI),
        )

    def describe(self) -> list[str]:
        try:
            kind = CommandType(self.command_type).name.lower()
        except ValueError:
            kind = "SC specific" if self.command_type >= 0xE0 else "reserved"
        return [
            "SMS-COMMAND (MS→SC, TS 23.040 9.2.2.4)",
            f"TP-MR   {self.message_reference}",
            f"TP-PID  {self.pid:02X} {describe_pid(self.pid)}",
            f"TP-CT   {self.command_type:02X} {kind}",
            f"TP-MN   {self.message_number}",
            f"TP-DA   {self.destination.describe()}",
            f"TP-CD   {self.command_data.hex()}",
        ]
