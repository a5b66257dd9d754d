"""SMPP 3.4 PDUs as frozen dataclasses, and the command_id and optional-parameter tables.

Only the wire shape lives here: no encoding, no I/O. ``smpp.codec`` turns these into bytes and
back (smpplib is the codec of record, ``smpp.fastcodec`` the measured fast path for the PDUs a
gateway moves in bulk). Field names follow the specification (SMPP v3.4, issue 1.2, section 4)
so that a reader can hold a PDU next to its table in the spec.

Optional parameters (TLVs, section 5.3) are typed fields set to ``None`` when absent. A TLV we
do not carry is ignored on receipt, as section 3.2.4 ("...shall ignore the optional parameter")
asks, which is why there is no catch-all TLV list.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Final

from smpp.frozen import fast_init
from smpp.status import CommandStatus


class CommandId(enum.IntEnum):
    """command_id values (SMPP v3.4 5.1.2.1). Responses are the request with bit 31 set."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103

    @property
    def is_response(self) -> bool:
        return bool(self & RESPONSE_BIT)


RESPONSE_BIT = 0x80000000

# Requests that expect no response (4.1.7 outbind, 4.12 alert_notification); every other
# request is answered with command_id | RESPONSE_BIT.
UNANSWERED = frozenset({CommandId.OUTBIND, CommandId.ALERT_NOTIFICATION})


class Tag(enum.IntEnum):
    """Optional parameter tags carried by our PDUs (SMPP v3.4 5.3.2, table 5-3)."""

    USER_MESSAGE_REFERENCE = 0x0204  # 5.3.2.17
    SOURCE_PORT = 0x020A  # 5.3.2.20
    DESTINATION_PORT = 0x020B  # 5.3.2.21
    SAR_MSG_REF_NUM = 0x020C  # 5.3.2.22
    SAR_TOTAL_SEGMENTS = 0x020E  # 5.3.2.23
    SAR_SEGMENT_SEQNUM = 0x020F  # 5.3.2.24
    SC_INTERFACE_VERSION = 0x0210  # 5.3.2.25
    PAYLOAD_TYPE = 0x0019  # 5.3.2.10
    MESSAGE_PAYLOAD = 0x0424  # 5.3.2.32
    RECEIPTED_MESSAGE_ID = 0x001E  # 5.3.2.12
    MESSAGE_STATE = 0x0427  # 5.3.2.35
    NETWORK_ERROR_CODE = 0x0423  # 5.3.2.31
    MORE_MESSAGES_TO_SEND = 0x0426  # 5.3.2.34
    LANGUAGE_INDICATOR = 0x020D  # 5.3.2.19


@dataclass(frozen=True, slots=True)
class TlvSpec:
    """How an optional parameter we carry is laid out (SMPP v3.4 5.3.2)."""

    tag: int
    kind: str  # "int" (big-endian, ``size`` octets), "cstr" (NUL-terminated), "octets"
    size: int  # int width, or the maximum length including the NUL for "cstr"; 0: unbounded


TLV_SPECS: Final[dict[str, TlvSpec]] = {
    "user_message_reference": TlvSpec(Tag.USER_MESSAGE_REFERENCE, "int", 2),
    "source_port": TlvSpec(Tag.SOURCE_PORT, "int", 2),
    "destination_port": TlvSpec(Tag.DESTINATION_PORT, "int", 2),
    "sar_msg_ref_num": TlvSpec(Tag.SAR_MSG_REF_NUM, "int", 2),
    "sar_total_segments": TlvSpec(Tag.SAR_TOTAL_SEGMENTS, "int", 1),
    "sar_segment_seqnum": TlvSpec(Tag.SAR_SEGMENT_SEQNUM, "int", 1),
    "sc_interface_version": TlvSpec(Tag.SC_INTERFACE_VERSION, "int", 1),
    "payload_type": TlvSpec(Tag.PAYLOAD_TYPE, "int", 1),
    "message_payload": TlvSpec(Tag.MESSAGE_PAYLOAD, "octets", 0),
    "receipted_message_id": TlvSpec(Tag.RECEIPTED_MESSAGE_ID, "cstr", 65),
    "message_state": TlvSpec(Tag.MESSAGE_STATE, "int", 1),
    "network_error_code": TlvSpec(Tag.NETWORK_ERROR_CODE, "octets", 3),  # exactly 3 octets
    "more_messages_to_send": TlvSpec(Tag.MORE_MESSAGES_TO_SEND, "int", 1),
    "language_indicator": TlvSpec(Tag.LANGUAGE_INDICATOR, "int", 1),
}


class MessageState(enum.IntEnum):
    """message_state (SMPP v3.4 5.2.28), also the 7-letter ``stat:`` of a receipt (appendix B)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8

    @property
    def is_final(self) -> bool:
        return self not in (MessageState.ENROUTE, MessageState.ACCEPTED)

    @property
    def stat(self) -> str:
        """The receipt's ``stat:`` word (appendix B, table B-2)."""
        return _STAT_WORDS[self]

    @classmethod
    def from_stat(cls, word: str) -> MessageState:
        """Read a ``stat:`` word; unknown words are UNKNOWN rather than an error, since SMSCs
        invent their own (e.g. "DELIVERED", "FAILED")."""
        return _STAT_STATES.get(word.strip().upper(), MessageState.UNKNOWN)


_STAT_WORDS: Final[dict[MessageState, str]] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}
# Words seen from SMSCs that do not follow table B-2 to the letter.
_STAT_STATES: Final[dict[str, MessageState]] = {
    **{word: state for state, word in _STAT_WORDS.items()},
    "DELIVERED": MessageState.DELIVERED,
    "UNDELIVERABLE": MessageState.UNDELIVERABLE,
    "FAILED": MessageState.UNDELIVERABLE,
    "REJECTED": MessageState.REJECTED,
    "ACCEPTED": MessageState.ACCEPTED,
}


class EsmClass(enum.IntFlag):
    """esm_class bits used here (SMPP v3.4 5.2.12)."""

    DEFAULT = 0x00
    DATAGRAM = 0x01  # bits 1-0: messaging mode
    FORWARD = 0x02
    STORE_AND_FORWARD = 0x03
    DELIVERY_RECEIPT = 0x04  # bits 5-2 on deliver_sm: SMSC delivery receipt
    SME_DELIVERY_ACK = 0x08
    SME_MANUAL_ACK = 0x10
    INTERMEDIATE_NOTIFICATION = 0x20
    UDHI = 0x40  # bits 7-6: GSM network specific features
    REPLY_PATH = 0x80


MESSAGE_TYPE_MASK = 0x3C  # esm_class bits 5-2 (message type)
# Plain ints for the hot properties: IntFlag's & costs microseconds, thousands of times a second.
_UDHI: Final = int(EsmClass.UDHI)
_DELIVERY_RECEIPT: Final = int(EsmClass.DELIVERY_RECEIPT)
RECEIPT_REQUESTED_MASK = 0x03  # registered_delivery bits 1-0 (5.2.17)


class BindMode(enum.Enum):
    """Which of the three binds (4.1): what the ESME may send and receive afterwards."""

    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"

    @property
    def can_submit(self) -> bool:
        return self is not BindMode.RECEIVER

    @property
    def can_receive(self) -> bool:
        return self is not BindMode.TRANSMITTER


INTERFACE_VERSION_34 = 0x34


@dataclass(frozen=True, slots=True, kw_only=True)
class Pdu:
    """Header fields shared by every PDU (SMPP v3.4 3.2)."""

    command_id: ClassVar[CommandId]
    sequence: int = 0
    command_status: int = CommandStatus.ESME_ROK


@dataclass(frozen=True, slots=True, kw_only=True)
class Bind(Pdu):
    """bind_transmitter / bind_receiver / bind_transceiver (4.1.1, 4.1.3, 4.1.5)."""

    mode: ClassVar[BindMode]
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION_34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransmitter(Bind):
    command_id = CommandId.BIND_TRANSMITTER
    mode = BindMode.TRANSMITTER


@dataclass(frozen=True, slots=True, kw_only=True)
class BindReceiver(Bind):
    command_id = CommandId.BIND_RECEIVER
    mode = BindMode.RECEIVER


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransceiver(Bind):
    command_id = CommandId.BIND_TRANSCEIVER
    mode = BindMode.TRANSCEIVER


@dataclass(frozen=True, slots=True, kw_only=True)
class BindResp(Pdu):
    """bind_*_resp (4.1.2, 4.1.4, 4.1.6); sc_interface_version is TLV 5.3.2.25."""

    mode: ClassVar[BindMode]
    system_id: str = ""
    sc_interface_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransmitterResp(BindResp):
    command_id = CommandId.BIND_TRANSMITTER_RESP
    mode = BindMode.TRANSMITTER


@dataclass(frozen=True, slots=True, kw_only=True)
class BindReceiverResp(BindResp):
    command_id = CommandId.BIND_RECEIVER_RESP
    mode = BindMode.RECEIVER


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransceiverResp(BindResp):
    command_id = CommandId.BIND_TRANSCEIVER_RESP
    mode = BindMode.TRANSCEIVER


BIND_CLASSES: dict[BindMode, tuple[type[Bind], type[BindResp]]] = {
    BindMode.TRANSMITTER: (BindTransmitter, BindTransmitterResp),
    BindMode.RECEIVER: (BindReceiver, BindReceiverResp),
    BindMode.TRANSCEIVER: (BindTransceiver, BindTransceiverResp),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Unbind(Pdu):
    """unbind (4.2.1): header only."""

    command_id = CommandId.UNBIND


@dataclass(frozen=True, slots=True, kw_only=True)
class UnbindResp(Pdu):
    """unbind_resp (4.2.2): header only."""

    command_id = CommandId.UNBIND_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericNack(Pdu):
    """generic_nack (4.3.1): the answer to a PDU with a bad command_length or command_id."""

    command_id = CommandId.GENERIC_NACK


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLink(Pdu):
    """enquire_link (4.11.1): header only."""

    command_id = CommandId.ENQUIRE_LINK


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLinkResp(Pdu):
    """enquire_link_resp (4.11.2): header only."""

    command_id = CommandId.ENQUIRE_LINK_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class ShortMessagePdu(Pdu):
    """The body shared by submit_sm (4.4.1) and deliver_sm (4.6.1), in wire order."""

    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    # Optional parameters (5.3.2) common to both.
    user_message_reference: int | None = None
    source_port: int | None = None
    destination_port: int | None = None
    sar_msg_ref_num: int | None = None
    sar_total_segments: int | None = None
    sar_segment_seqnum: int | None = None
    payload_type: int | None = None
    message_payload: bytes | None = None
    language_indicator: int | None = None
    more_messages_to_send: int | None = None

    @property
    def udhi(self) -> bool:
        return bool(self.esm_class & _UDHI)

    @property
    def user_data(self) -> bytes:
        """short_message, or message_payload when the message travels in the TLV (5.3.2.32)."""
        return self.short_message or (self.message_payload or b"")


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSm(ShortMessagePdu):
    command_id = CommandId.SUBMIT_SM


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSm(ShortMessagePdu):
    """deliver_sm (4.6.1); a delivery receipt also carries the three receipt TLVs (5.3.2)."""

    command_id = CommandId.DELIVER_SM
    receipted_message_id: str | None = None
    message_state: int | None = None
    network_error_code: bytes | None = None

    @property
    def is_receipt(self) -> bool:
        return self.esm_class & MESSAGE_TYPE_MASK == _DELIVERY_RECEIPT


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSmResp(Pdu):
    """submit_sm_resp (4.4.2); message_id is absent on the wire when command_status != 0."""

    command_id = CommandId.SUBMIT_SM_RESP
    message_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSmResp(Pdu):
    """deliver_sm_resp (4.6.2); message_id is unused and sent as an empty C-string."""

    command_id = CommandId.DELIVER_SM_RESP
    message_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QuerySm(Pdu):
    """query_sm (4.8.1)."""

    command_id = CommandId.QUERY_SM
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QuerySmResp(Pdu):
    """query_sm_resp (4.8.2); final_date is an SMPP absolute time (7.1.1) or empty."""

    command_id = CommandId.QUERY_SM_RESP
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertNotification(Pdu):
    """alert_notification (4.12.1): SMSC to ESME, never answered."""

    command_id = CommandId.ALERT_NOTIFICATION
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorResp(Pdu):
    """A header-only response to a request we cannot or will not process (3.3, 5.1.3).

    SMPP lets a response with a non-zero command_status omit its body, so one class answers
    any command_id: cancel_sm_resp, data_sm_resp, a submit_sm_resp to a bad submit_sm...
    """

    response_id: int = CommandId.GENERIC_NACK

    def __post_init__(self) -> None:
        if not self.response_id & RESPONSE_BIT:
            raise ValueError(f"{self.response_id:#010x} is not a response command_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsupportedPdu(Pdu):
    """A PDU with a valid SMPP 3.4 command_id that we do not process (outbind, data_sm...).

    The session answers requests among them with ESME_RINVCMDID; responses are dropped.
    """

    raw_command_id: int = 0
    body: bytes = b""


PDU_CLASSES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter,
        BindReceiver,
        BindTransceiver,
        BindTransmitterResp,
        BindReceiverResp,
        BindTransceiverResp,
        Unbind,
        UnbindResp,
        GenericNack,
        EnquireLink,
        EnquireLinkResp,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
        QuerySm,
        QuerySmResp,
        AlertNotification,
    )
}


for _cls in (*PDU_CLASSES.values(), ErrorResp, UnsupportedPdu):
    fast_init(_cls)

_WIRE_IDS: Final[dict[type[Pdu], int]] = {cls: cls.command_id for cls in PDU_CLASSES.values()}


def wire_command_id(pdu: Pdu) -> int:
    """The command_id the PDU goes out with (ErrorResp and UnsupportedPdu carry their own)."""
    command_id = _WIRE_IDS.get(type(pdu))
    if command_id is not None:
        return command_id
    if isinstance(pdu, ErrorResp):
        return pdu.response_id
    if isinstance(pdu, UnsupportedPdu):
        return pdu.raw_command_id
    return pdu.command_id


def response_to(request_id: int, status: int, sequence: int) -> Pdu:
    """The header-only negative answer to a request (generic_nack for unknown command_ids)."""
    if request_id not in CommandId._value2member_map_ or request_id & RESPONSE_BIT:
        return GenericNack(sequence=sequence, command_status=status)
    return ErrorResp(
        sequence=sequence, command_status=status, response_id=request_id | RESPONSE_BIT
    )
