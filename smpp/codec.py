"""PDU codec: 4-octet framing, and smpplib's PDU classes <-> our frozen dataclasses.

smpplib is the codec of record. It is lenient where a decoder that faces the network must not
be (a C-string without its NUL is read past the field; a TLV its class does not list raises
``KeyError``; a short body leaves fields ``None``), so every body is first walked here against
the field layout that smpplib itself declares (``params``/``params_order``) plus the TLV sizes of
SMPP v3.4 5.3.2. The walk rejects what is malformed with the command_status of the field at
fault (5.1.3) and drops TLVs we do not carry, as 3.2.4 asks; only then does smpplib parse.
No smpplib exception leaves this module.

``smpp.fastcodec`` encodes and decodes the PDUs moved in bulk without smpplib; it declines
anything unusual, and this module then takes the slow path. Tests hold the two byte-identical.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from typing import Any, Final

import smpplib.command
import smpplib.consts
import smpplib.smpp

from smpp import fastcodec
from smpp.errors import FramingError, InvalidField, PduError, UnknownCommand
from smpp.pdus import (
    PDU_CLASSES,
    TLV_SPECS,
    CommandId,
    ErrorResp,
    Pdu,
    UnsupportedPdu,
    wire_command_id,
)
from smpp.status import CommandStatus

HEADER: Final = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence
HEADER_LENGTH: Final = 16
# message_payload (5.3.2.32) may carry up to 64K octets; nothing legitimate is larger.
MAX_COMMAND_LENGTH: Final = 0x11000
MAX_SEQUENCE: Final = 0x7FFFFFFF  # 3.2: sequence numbers are 0x00000001..0x7FFFFFFF

S = CommandStatus

# The command_status that names each field's fault (5.1.3); others get ESME_RINVMSGLEN.
FIELD_STATUS: Final[dict[str, CommandStatus]] = {
    "system_id": S.ESME_RINVSYSID,
    "password": S.ESME_RINVPASWD,
    "system_type": S.ESME_RINVSYSTYP,
    "service_type": S.ESME_RINVSERTYP,
    "source_addr": S.ESME_RINVSRCADR,
    "destination_addr": S.ESME_RINVDSTADR,
    "esme_addr": S.ESME_RINVDSTADR,
    "address_range": S.ESME_RBINDFAIL,
    "source_addr_ton": S.ESME_RINVSRCTON,
    "source_addr_npi": S.ESME_RINVSRCNPI,
    "dest_addr_ton": S.ESME_RINVDSTTON,
    "dest_addr_npi": S.ESME_RINVDSTNPI,
    "esm_class": S.ESME_RINVESMCLASS,
    "priority_flag": S.ESME_RINVPRTFLG,
    "registered_delivery": S.ESME_RINVREGDLVFLG,
    "replace_if_present_flag": S.ESME_RINVREPFLAG,
    "schedule_delivery_time": S.ESME_RINVSCHED,
    "validity_period": S.ESME_RINVEXPIRY,
    "sm_default_msg_id": S.ESME_RINVDFTMSGID,
    "message_id": S.ESME_RINVMSGID,
    "short_message": S.ESME_RINVMSGLEN,
    "sm_length": S.ESME_RINVMSGLEN,
}

# SMPP absolute and relative times are 16 characters or empty (7.1).
TIME_FIELDS: Final = frozenset({"schedule_delivery_time", "validity_period", "final_date"})


class _CodecClient:
    """Stands in for smpplib's Client: we always pass the sequence, so nothing is counted.

    ``sequence`` must be ``None``: smpplib keeps a ``sequence=`` argument only while the
    client's own sequence reads ``None``; decoding a request calls ``next_sequence()``.
    """

    sequence = None

    def next_sequence(self) -> int:
        return 0


_CLIENT: Final = _CodecClient()


@dataclasses.dataclass(frozen=True, slots=True)
class _Layout:
    """One PDU class: its smpplib command, mandatory fields in order, and TLVs it carries."""

    cls: type[Pdu]
    smpplib_name: str
    mandatory: tuple[tuple[str, Any], ...]  # (field name, smpplib Param)
    tlvs: dict[int, str]  # tag -> field name, for the TLVs both we and smpplib carry
    fields: tuple[str, ...]  # dataclass fields other than the header


def _layout(cls: type[Pdu]) -> _Layout:
    name = CommandId(cls.command_id).name.lower()
    probe = smpplib.smpp.make_pdu(name, client=_CLIENT, sequence=0)
    params: dict[str, Any] = probe.params
    own = tuple(
        f.name for f in dataclasses.fields(cls) if f.name not in ("sequence", "command_status")
    )
    mandatory = tuple(
        (field, params[field])
        for field in probe.params_order
        if not probe.field_is_optional(field) and field in params
    )
    tlvs = {TLV_SPECS[f].tag: f for f in own if f in TLV_SPECS and f in params}
    return _Layout(cls, name, mandatory, tlvs, own)


LAYOUTS: Final[dict[int, _Layout]] = {cid: _layout(cls) for cid, cls in PDU_CLASSES.items()}


def peek_header(data: bytes) -> tuple[int, int, int, int]:
    """(command_length, command_id, command_status, sequence) of the PDU starting ``data``."""
    if len(data) < HEADER_LENGTH:
        raise FramingError(f"{len(data)} octets cannot hold the 16-octet PDU header")
    length, command_id, status, sequence = HEADER.unpack_from(data)
    if not HEADER_LENGTH <= length <= MAX_COMMAND_LENGTH:
        raise FramingError(
            f"command_length {length} outside {HEADER_LENGTH}..{MAX_COMMAND_LENGTH}",
            command_id=command_id,
            sequence=sequence,
        )
    return length, command_id, status, sequence


# --- decoding -------------------------------------------------------------------------------


def decode(frame: bytes, *, fast: bool = True) -> Pdu:
    """One whole PDU (exactly ``command_length`` octets) as its dataclass.

    Raises a :class:`PduError` subclass whose ``command_status``, ``command_id`` and
    ``sequence`` say how to answer it.
    """
    if fast:
        pdu = fastcodec.decode(frame)
        if pdu is not None:
            return pdu
    length, command_id, status, sequence = peek_header(frame)
    if length != len(frame):
        raise FramingError(
            f"command_length {length} but the frame has {len(frame)} octets",
            command_id=command_id,
            sequence=sequence,
        )
    layout = LAYOUTS.get(command_id)
    if layout is None:
        if command_id in CommandId._value2member_map_:
            return UnsupportedPdu(
                sequence=sequence,
                command_status=status,
                raw_command_id=command_id,
                body=bytes(frame[HEADER_LENGTH:]),
            )
        raise UnknownCommand(
            f"command_id {command_id:#010x} is not SMPP 3.4",
            command_id=command_id,
            sequence=sequence,
        )
    body = _checked_body(layout, frame[HEADER_LENGTH:], command_id, sequence)
    return _from_smpplib(layout, frame[:HEADER_LENGTH] + body, command_id, sequence)


def _checked_body(layout: _Layout, body: bytes, command_id: int, sequence: int) -> bytes:
    """Validate the body against the layout; return it without the TLVs we do not carry."""

    def fail(field: str, why: str, status: CommandStatus | None = None) -> PduError:
        return InvalidField(
            f"{layout.smpplib_name}.{field}: {why}",
            command_id=command_id,
            sequence=sequence,
            command_status=status or FIELD_STATUS.get(field, S.ESME_RINVMSGLEN),
        )

    if not body and (command_id & 0x80000000 or not layout.mandatory):
        return body  # a response may omit its body (e.g. submit_sm_resp with an error)
    pos, values = 0, dict[str, int]()
    field: str | None
    for field, param in layout.mandatory:
        pos = _walk_mandatory(body, pos, field, param, values, fail)
    kept = [body[:pos]]
    while pos < len(body):
        if pos + 4 > len(body):
            raise fail("tlv", "truncated TLV header", S.ESME_RINVOPTPARSTREAM)
        tag, size = struct.unpack_from(">HH", body, pos)
        end = pos + 4 + size
        if end > len(body):
            raise fail(f"tlv {tag:#06x}", "value runs past the PDU", S.ESME_RINVOPTPARSTREAM)
        field = layout.tlvs.get(tag)
        if field is not None:
            _check_tlv(field, body[pos + 4 : end], fail)
            kept.append(body[pos:end])
        pos = end
    return b"".join(kept)


def _walk_mandatory(
    body: bytes,
    pos: int,
    field: str,
    param: Any,
    values: dict[str, int],
    fail: Callable[..., PduError],
) -> int:
    if param.type is int:
        end: int = pos + param.size
        if end > len(body):
            raise fail(field, "body ends inside the field", S.ESME_RINVCMDLEN)
        values[field] = int.from_bytes(body[pos:end], "big")
        return end
    if param.type is str:
        limit = getattr(param, "max", getattr(param, "size", 1))
        nul = body.find(b"\0", pos, pos + limit)
        if nul < 0 and pos + limit > len(body):
            raise fail(field, "body ends inside the field", S.ESME_RINVCMDLEN)
        if nul < 0:
            raise fail(field, f"no NUL within {limit} octets")
        if field in TIME_FIELDS and nul - pos not in (0, 16):
            raise fail(field, "an SMPP time is 16 characters or empty")
        return nul + 1
    # An octet string whose length is the preceding field (short_message after sm_length).
    size: int = values[param.len_field]
    if size > 254:
        raise fail(field, f"sm_length {size} above 254")
    if pos + size > len(body):
        raise fail(field, f"sm_length {size} but {len(body) - pos} octets left")
    return pos + size


def _check_tlv(field: str, value: bytes, fail: Callable[..., PduError]) -> None:
    spec = TLV_SPECS[field]
    if spec.kind == "int" and len(value) != spec.size:
        raise fail(field, f"TLV length {len(value)}, expected {spec.size}", S.ESME_RINVPARLEN)
    if spec.kind == "cstr" and (not value or value[-1] != 0 or len(value) > spec.size):
        raise fail(field, "not a NUL-terminated string of its size", S.ESME_RINVOPTPARAMVAL)
    if spec.kind == "octets" and spec.size and len(value) != spec.size:
        raise fail(field, f"TLV length {len(value)}, expected {spec.size}", S.ESME_RINVPARLEN)


def _from_smpplib(layout: _Layout, frame: bytes, command_id: int, sequence: int) -> Pdu:
    try:
        obj = smpplib.smpp.parse_pdu(frame, client=_CLIENT, allow_unknown_opt_params=True)
    except Exception as exc:  # smpplib raises anything from KeyError to struct.error
        raise PduError(
            f"smpplib could not parse {layout.smpplib_name}: {exc!r}",
            command_id=command_id,
            sequence=sequence,
        ) from exc
    values: dict[str, Any] = {}
    for name in layout.fields:
        value = getattr(obj, name, None)
        if value is None:
            continue  # absent: the dataclass default ("" / 0 / None)
        if isinstance(value, bytes) and name not in _OCTET_FIELDS:
            value = value.decode("latin-1")
        values[name] = value
    return layout.cls(sequence=obj.sequence, command_status=obj.status, **values)


_OCTET_FIELDS: Final = frozenset({"short_message", "message_payload", "network_error_code"})


# --- encoding -------------------------------------------------------------------------------


def encode(pdu: Pdu, *, fast: bool = True, sequence: int | None = None) -> bytes:
    """The PDU on the wire, under ``sequence`` if given (else its own).

    Raises :class:`InvalidField` for values it cannot carry.
    """
    number = pdu.sequence if sequence is None else sequence
    if fast:
        quick = fastcodec.encode(pdu, number)
        if quick is not None:
            return quick
    if isinstance(pdu, ErrorResp | UnsupportedPdu):
        body = pdu.body if isinstance(pdu, UnsupportedPdu) else b""
        length = HEADER_LENGTH + len(body)
        return HEADER.pack(length, wire_command_id(pdu), pdu.command_status, number) + body
    layout = LAYOUTS[pdu.command_id]
    check_encodable(pdu, layout, number)
    obj = smpplib.smpp.make_pdu(layout.smpplib_name, client=_CLIENT, sequence=number)
    # Assigned after construction: smpplib's bind constructors overwrite interface_version.
    for name in layout.fields:
        setattr(obj, name, getattr(pdu, name))
    obj.status = pdu.command_status
    try:
        data: bytes = obj.generate()
    except Exception as exc:  # defensive: check_encodable should have caught it
        raise InvalidField(f"smpplib could not encode {layout.smpplib_name}: {exc!r}") from exc
    return data


def check_encodable(pdu: Pdu, layout: _Layout | None = None, sequence: int | None = None) -> None:
    """Refuse values smpplib would silently truncate or crash on (C-strings past their size,
    non-ASCII text, integers out of range, short_message beside message_payload)."""
    layout = layout or LAYOUTS[pdu.command_id]
    number = pdu.sequence if sequence is None else sequence
    if not 0 <= number <= MAX_SEQUENCE or not 0 <= pdu.command_status <= 0xFFFFFFFF:
        raise InvalidField(f"sequence {number} or status outside their range")
    for field, param in layout.mandatory:
        if field in layout.fields:  # sm_length is derived from short_message
            limit = getattr(param, "max", 0) or getattr(param, "size", 1)
            _check_value(field, getattr(pdu, field), param.type, limit)
    for field in layout.tlvs.values():
        value = getattr(pdu, field)
        if value is None:
            continue
        spec = TLV_SPECS[field]
        kind = {"int": int, "cstr": str, "octets": bytes}[spec.kind]
        _check_value(field, value, kind, spec.size or 0xFFFF)
        if spec.kind == "octets" and spec.size and len(value) != spec.size:
            raise InvalidField(
                f"{field} must be {spec.size} octets", command_status=S.ESME_RINVPARLEN
            )
    if getattr(pdu, "short_message", b"") and getattr(pdu, "message_payload", None):
        raise InvalidField("short_message and message_payload are mutually exclusive (5.3.2.32)")


def _check_value(field: str, value: Any, kind: Any, limit: int) -> None:
    status = FIELD_STATUS.get(field, S.ESME_RINVMSGLEN)
    if kind is int:
        if not isinstance(value, int) or not 0 <= value < 1 << (8 * limit):
            raise InvalidField(
                f"{field}={value!r} does not fit {limit} octet(s)", command_status=status
            )
    elif kind is str:
        if not isinstance(value, str) or not value.isascii() or len(value) >= limit:
            raise InvalidField(
                f"{field} must be ASCII of at most {limit - 1} characters", command_status=status
            )
        if field in TIME_FIELDS and len(value) not in (0, 16):
            raise InvalidField(f"{field} must be 16 characters or empty", command_status=status)
    elif field == "short_message":
        if not isinstance(value, bytes) or len(value) > 254:
            raise InvalidField("short_message holds at most 254 octets", command_status=status)
    elif not isinstance(value, bytes) or len(value) > limit:
        raise InvalidField(f"{field} must be at most {limit} octets", command_status=status)
