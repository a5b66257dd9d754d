"""Fast path for the PDUs a gateway moves in bulk: submit_sm, deliver_sm, their responses and
the header-only PDUs.

Why it exists: building a submit_sm with smpplib costs ~45-65 us and parsing a receipt
deliver_sm ~45-85 us on the target machine (notes/smpp.md), which caps a single event loop near
the throughput the gateway is asked to exceed. This module writes and reads the same octets
directly from the layout of SMPP v3.4 4.4.1 / 4.6.1 (submit_sm / deliver_sm), 4.4.2 / 4.6.2
(their responses) and 3.2 (header).

Contract with ``smpp.codec`` (the codec of record, on smpplib): ``encode``/``decode`` return
``None`` for anything they do not handle or that looks unusual (a bad field, a truncated body,
an unknown TLV...), and the caller then takes the slow path, which also produces the precise
error. What they do return is byte-identical to smpplib's encoding and equal to its decoding;
tests/smpp/test_codec.py holds them to that with generated PDUs. TLVs are written in smpplib's
``params_order`` for the same reason.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable
from typing import Any, Final

import smpplib.command

from smpp.pdus import (
    TLV_SPECS,
    CommandId,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    ErrorResp,
    GenericNack,
    Pdu,
    ShortMessagePdu,
    SubmitSm,
    SubmitSmResp,
    TlvSpec,
    Unbind,
    UnbindResp,
)

_HEADER: Final = struct.Struct(">IIII")
_TLV_HEAD: Final = struct.Struct(">HH")
_MAX_SEQUENCE: Final = 0x7FFFFFFF


def _tlv_order(smpplib_cls: type, cls: type[ShortMessagePdu]) -> tuple[tuple[str, TlvSpec], ...]:
    ours = set(cls.__dataclass_fields__)
    return tuple(
        (name, TLV_SPECS[name])
        for name in smpplib_cls.params_order  # type: ignore[attr-defined]
        if name in ours and name in TLV_SPECS
    )


_TLVS_OUT: Final[dict[type, tuple[tuple[str, TlvSpec], ...]]] = {
    SubmitSm: _tlv_order(smpplib.command.SubmitSM, SubmitSm),
    DeliverSm: _tlv_order(smpplib.command.DeliverSM, DeliverSm),
}
# All TLV fields of a PDU in one C-level call: most are None, and reading them one by one
# with getattr was the larger part of encoding a receipt.
_TLV_GETTERS: Final[dict[type, Callable[[ShortMessagePdu], tuple[Any, ...]]]] = {
    cls: operator.attrgetter(*(name for name, _ in order)) for cls, order in _TLVS_OUT.items()
}
_TLVS_IN: Final[dict[type, dict[int, tuple[str, TlvSpec]]]] = {
    cls: {spec.tag: (name, spec) for name, spec in order} for cls, order in _TLVS_OUT.items()
}


# --- encoding -------------------------------------------------------------------------------


def encode(pdu: Pdu, sequence: int) -> bytes | None:
    """``pdu`` under ``sequence`` (the ESME resends one template under new numbers)."""
    encoder = _ENCODERS.get(type(pdu))
    if encoder is None or not 0 <= sequence <= _MAX_SEQUENCE:
        return None
    return encoder(pdu, sequence)


def _header_only(pdu: Pdu, sequence: int) -> bytes | None:
    command_id = pdu.response_id if isinstance(pdu, ErrorResp) else pdu.command_id
    if not 0 <= pdu.command_status <= 0xFFFFFFFF:
        return None
    return _HEADER.pack(16, command_id, pdu.command_status, sequence)


def _message_id_resp(pdu: Pdu, sequence: int) -> bytes | None:
    assert isinstance(pdu, SubmitSmResp | DeliverSmResp)
    message_id = pdu.message_id
    if (
        len(message_id) > 64
        or not message_id.isascii()
        or not 0 <= pdu.command_status <= 0xFFFFFFFF
    ):
        return None
    body = message_id.encode() + b"\0"
    return _HEADER.pack(16 + len(body), pdu.command_id, pdu.command_status, sequence) + body


def _short_message(pdu: Pdu, sequence: int) -> bytes | None:
    assert isinstance(pdu, ShortMessagePdu)
    service_type, source, destination = pdu.service_type, pdu.source_addr, pdu.destination_addr
    schedule, validity, sm = pdu.schedule_delivery_time, pdu.validity_period, pdu.short_message
    text = service_type + source + destination + schedule + validity
    if (
        len(service_type) > 5
        or len(source) > 20
        or len(destination) > 20
        or len(schedule) not in (0, 16)
        or len(validity) not in (0, 16)
        or len(sm) > 254
        or not text.isascii()
        or not 0 <= pdu.command_status <= 0xFFFFFFFF
    ):
        return None
    tlvs = _encode_tlvs(pdu, _TLVS_OUT[type(pdu)])
    if tlvs is None or (sm and pdu.message_payload):
        return None
    try:
        body = b"".join(
            (
                service_type.encode(),
                bytes((0, pdu.source_addr_ton, pdu.source_addr_npi)),
                source.encode(),
                bytes((0, pdu.dest_addr_ton, pdu.dest_addr_npi)),
                destination.encode(),
                bytes((0, pdu.esm_class, pdu.protocol_id, pdu.priority_flag)),
                schedule.encode(),
                b"\0",
                validity.encode(),
                bytes(
                    (
                        0,
                        pdu.registered_delivery,
                        pdu.replace_if_present_flag,
                        pdu.data_coding,
                        pdu.sm_default_msg_id,
                        len(sm),
                    )
                ),
                sm,
                tlvs,
            )
        )
    except (ValueError, TypeError):  # an octet field outside 0..255
        return None
    return _HEADER.pack(16 + len(body), pdu.command_id, pdu.command_status, sequence) + body


def _encode_tlvs(pdu: ShortMessagePdu, order: tuple[tuple[str, TlvSpec], ...]) -> bytes | None:
    out = b""
    for (_, spec), value in zip(order, _TLV_GETTERS[type(pdu)](pdu), strict=True):
        if value is None:
            continue
        if spec.kind == "int":
            if not isinstance(value, int) or not 0 <= value < 1 << (8 * spec.size):
                return None
            out += _TLV_HEAD.pack(spec.tag, spec.size) + value.to_bytes(spec.size, "big")
        elif spec.kind == "cstr":
            if not isinstance(value, str) or len(value) >= spec.size or not value.isascii():
                return None
            if value:  # smpplib omits an empty string TLV
                out += _TLV_HEAD.pack(spec.tag, len(value) + 1) + value.encode() + b"\0"
        else:
            if not isinstance(value, bytes) or (spec.size and len(value) != spec.size):
                return None
            if len(value) > 0xFFFF:
                return None
            if value:  # ...and an empty octet string TLV
                out += _TLV_HEAD.pack(spec.tag, len(value)) + value
    return out


_ENCODERS: Final[dict[type, Callable[[Pdu, int], bytes | None]]] = {
    SubmitSm: _short_message,
    DeliverSm: _short_message,
    SubmitSmResp: _message_id_resp,
    DeliverSmResp: _message_id_resp,
    EnquireLink: _header_only,
    EnquireLinkResp: _header_only,
    Unbind: _header_only,
    UnbindResp: _header_only,
    GenericNack: _header_only,
    ErrorResp: _header_only,
}


# --- decoding -------------------------------------------------------------------------------


def decode(frame: bytes) -> Pdu | None:
    if len(frame) < 16:
        return None
    length, command_id, status, sequence = _HEADER.unpack_from(frame)
    decoder = _DECODERS.get(command_id)
    if decoder is None or length != len(frame):
        return None
    return decoder(frame, status, sequence)


def _decode_header_only(cls: type[Pdu]) -> Callable[[bytes, int, int], Pdu | None]:
    def decode_one(frame: bytes, status: int, sequence: int) -> Pdu | None:
        if len(frame) != 16:
            return None
        return cls(sequence=sequence, command_status=status)

    return decode_one


def _decode_message_id_resp(
    cls: type[SubmitSmResp | DeliverSmResp],
) -> Callable[[bytes, int, int], Pdu | None]:
    def decode_one(frame: bytes, status: int, sequence: int) -> Pdu | None:
        if len(frame) == 16:
            return cls(sequence=sequence, command_status=status)
        end = frame.find(0, 16, 16 + 65)
        if end + 1 != len(frame):  # no NUL, or something after it: the slow path decides
            return None
        return cls(
            sequence=sequence, command_status=status, message_id=frame[16:end].decode("latin-1")
        )

    return decode_one


def _cstring(frame: bytes, pos: int, limit: int) -> tuple[str, int]:
    end = frame.index(0, pos, pos + limit)  # ValueError when absent: caller falls back
    return frame[pos:end].decode("latin-1"), end + 1


def _decode_short_message(cls: type[ShortMessagePdu]) -> Callable[[bytes, int, int], Pdu | None]:
    tlvs_in = _TLVS_IN[cls]

    def decode_one(frame: bytes, status: int, sequence: int) -> Pdu | None:
        try:
            service_type, p = _cstring(frame, 16, 6)
            source_ton, source_npi = frame[p], frame[p + 1]
            source, p = _cstring(frame, p + 2, 21)
            dest_ton, dest_npi = frame[p], frame[p + 1]
            destination, p = _cstring(frame, p + 2, 21)
            esm_class, protocol_id, priority = frame[p], frame[p + 1], frame[p + 2]
            schedule, p = _cstring(frame, p + 3, 17)
            validity, p = _cstring(frame, p, 17)
            registered, replace, coding, default_id, sm_length = frame[p : p + 5]
        except (ValueError, IndexError):
            return None
        p += 5
        end = p + sm_length
        if sm_length > 254 or end > len(frame) or len(schedule) not in (0, 16):
            return None
        if len(validity) not in (0, 16):
            return None
        options = _decode_tlvs(frame, end, tlvs_in)
        if options is None:
            return None
        return cls(
            sequence=sequence,
            command_status=status,
            service_type=service_type,
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            source_addr=source,
            dest_addr_ton=dest_ton,
            dest_addr_npi=dest_npi,
            destination_addr=destination,
            esm_class=esm_class,
            protocol_id=protocol_id,
            priority_flag=priority,
            schedule_delivery_time=schedule,
            validity_period=validity,
            registered_delivery=registered,
            replace_if_present_flag=replace,
            data_coding=coding,
            sm_default_msg_id=default_id,
            short_message=frame[p:end],
            **options,
        )

    return decode_one


def _decode_tlvs(
    frame: bytes, pos: int, known: dict[int, tuple[str, TlvSpec]]
) -> dict[str, Any] | None:
    options: dict[str, Any] = {}
    size = len(frame)
    while pos < size:
        if pos + 4 > size:
            return None
        tag, length = _TLV_HEAD.unpack_from(frame, pos)
        pos += 4
        end = pos + length
        if end > size:
            return None
        entry = known.get(tag)
        if entry is None:
            return None  # a TLV we drop: let the slow path validate the whole stream
        name, spec = entry
        value = frame[pos:end]
        if spec.kind == "int":
            if length != spec.size:
                return None
            options[name] = int.from_bytes(value, "big")
        elif spec.kind == "cstr":
            if not length or length > spec.size or value[-1] != 0:
                return None
            options[name] = value[:-1].decode("latin-1")
        else:
            if spec.size and length != spec.size:
                return None
            options[name] = value
        pos = end
    return options


_DECODERS: Final[dict[int, Callable[[bytes, int, int], Pdu | None]]] = {
    CommandId.SUBMIT_SM: _decode_short_message(SubmitSm),
    CommandId.DELIVER_SM: _decode_short_message(DeliverSm),
    CommandId.SUBMIT_SM_RESP: _decode_message_id_resp(SubmitSmResp),
    CommandId.DELIVER_SM_RESP: _decode_message_id_resp(DeliverSmResp),
    CommandId.ENQUIRE_LINK: _decode_header_only(EnquireLink),
    CommandId.ENQUIRE_LINK_RESP: _decode_header_only(EnquireLinkResp),
    CommandId.UNBIND: _decode_header_only(Unbind),
    CommandId.UNBIND_RESP: _decode_header_only(UnbindResp),
    CommandId.GENERIC_NACK: _decode_header_only(GenericNack),
}
