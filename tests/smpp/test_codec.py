"""smpp.codec and smpp.fastcodec: round trips, the fast path against smpplib, malformed bodies."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp import codec, fastcodec
from smpp.errors import FramingError, InvalidField, PduError, UnknownCommand
from smpp.pdus import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    ErrorResp,
    GenericNack,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnsupportedPdu,
)
from smpp.status import CommandStatus as S

EXAMPLES: list[Pdu] = [
    BindTransmitter(sequence=1, system_id="gw", password="secret", system_type="OTA"),
    BindReceiver(sequence=2, system_id="gw", password="pw", address_range="^8613800"),
    BindTransceiver(sequence=3, system_id="gw", password="pw", addr_ton=1, addr_npi=1),
    BindTransmitterResp(sequence=1, system_id="SMSC"),
    BindReceiverResp(sequence=2, system_id="SMSC", sc_interface_version=0x34),
    BindTransceiverResp(sequence=3, command_status=S.ESME_RINVPASWD, system_id="SMSC"),
    Unbind(sequence=7),
    UnbindResp(sequence=7),
    GenericNack(sequence=9, command_status=S.ESME_RINVCMDID),
    EnquireLink(sequence=10),
    EnquireLinkResp(sequence=10),
    SubmitSm(
        sequence=11,
        source_addr_ton=5,
        source_addr="ONECARD",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="8613800000000",
        esm_class=0x40,
        protocol_id=0x7F,
        registered_delivery=1,
        data_coding=0xF6,
        validity_period="000001000000000R",
        short_message=bytes.fromhex("027000") + b"\x01" * 40,
    ),
    SubmitSm(sequence=12, destination_addr="1", message_payload=b"x" * 400, payload_type=0),
    SubmitSm(
        sequence=13,
        destination_addr="8613800000000",
        data_coding=8,
        short_message="一卡通".encode("utf-16-be"),
        sar_msg_ref_num=0x1234,
        sar_total_segments=3,
        sar_segment_seqnum=2,
        user_message_reference=7,
        source_port=2948,
        destination_port=2948,
        more_messages_to_send=1,
        language_indicator=0,
    ),
    SubmitSmResp(sequence=11, message_id="0000002A"),
    SubmitSmResp(sequence=11, command_status=S.ESME_RTHROTTLED),
    DeliverSm(
        sequence=14,
        source_addr="8613800000000",
        destination_addr="10658888",
        esm_class=0x04,
        short_message=b"id:0000002A sub:001 dlvrd:001 submit date:2401011200 "
        b"done date:2401011201 stat:DELIVRD err:000 text:",
        receipted_message_id="0000002A",
        message_state=2,
        network_error_code=b"\x03\x00\x00",
    ),
    DeliverSmResp(sequence=14),
    DeliverSmResp(sequence=15, command_status=S.ESME_RX_T_APPN),
    QuerySm(sequence=16, message_id="2A", source_addr="10658888"),
    QuerySmResp(sequence=16, message_id="2A", final_date="240101120100000+", message_state=2),
    AlertNotification(sequence=17, source_addr="8613800000000", esme_addr="10658888"),
]


@pytest.mark.parametrize("pdu", EXAMPLES, ids=lambda p: type(p).__name__)
def test_round_trip_through_smpplib_and_fast_path(pdu: Pdu) -> None:
    slow = codec.encode(pdu, fast=False)
    assert codec.encode(pdu) == slow
    assert codec.decode(slow, fast=False) == pdu
    assert codec.decode(slow) == pdu


def test_external_vector_submit_sm() -> None:
    """A submit_sm written out by hand from SMPP v3.4 4.4.1 (each field in order)."""
    body = (
        b"\x00"  # service_type ""
        + b"\x00\x00"
        + b"10658888\x00"  # source ton, npi, addr
        + b"\x01\x01"
        + b"8613800000000\x00"  # dest ton, npi, addr
        + b"\x00\x00\x00"  # esm_class, protocol_id, priority_flag
        + b"\x00"
        + b"\x00"  # schedule_delivery_time, validity_period
        + b"\x01\x00\x08\x00"  # registered_delivery, replace_if_present, data_coding, default id
        + b"\x04"
        + "你好".encode("utf-16-be")  # sm_length, short_message
    )
    frame = struct.pack(">IIII", 16 + len(body), 4, 0, 42) + body
    pdu = codec.decode(frame)
    assert pdu == SubmitSm(
        sequence=42,
        source_addr="10658888",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="8613800000000",
        registered_delivery=1,
        data_coding=8,
        short_message="你好".encode("utf-16-be"),
    )
    assert codec.encode(pdu) == frame


def test_smpp34_reads_what_we_write() -> None:
    """An independent codec (smpp34, Rust) agrees with our submit_sm and deliver_sm."""
    smpp34 = pytest.importorskip("smpp34")
    submit = EXAMPLES[13]
    assert isinstance(submit, SubmitSm)
    theirs = smpp34.decode(codec.encode(submit))
    assert theirs.destination_addr == submit.destination_addr
    assert theirs.short_message == submit.short_message
    assert theirs.sequence_number == submit.sequence
    tags = {t.tag: t.value for t in theirs.tlvs}
    assert tags[0x020C] == b"\x12\x34" and tags[0x020E] == b"\x03" and tags[0x020F] == b"\x02"
    receipt = smpp34.DeliverSm(
        "8613800000000",
        "10658888",
        b"id:1 stat:DELIVRD",
        esm_class=4,
        sequence_number=5,
        tlvs=[smpp34.Tlv(0x001E, b"1\x00"), smpp34.Tlv(0x0427, b"\x02")],
    )
    ours = codec.decode(receipt.encode())
    assert isinstance(ours, DeliverSm) and ours.is_receipt
    assert ours.receipted_message_id == "1" and ours.message_state == 2


def test_sequence_override_for_templates() -> None:
    template = SubmitSm(destination_addr="1", short_message=b"x")
    for fast in (True, False):
        frame = codec.encode(template, fast=fast, sequence=77)
        assert codec.decode(frame).sequence == 77


def test_unknown_tlvs_are_ignored() -> None:
    frame = codec.encode(SubmitSmResp(sequence=1, message_id="a"))
    pdu = EXAMPLES[16]
    frame = codec.encode(pdu)
    extra = struct.pack(">HH", 0x1400, 3) + b"abc" + struct.pack(">HH", 0x0501, 1) + b"\x01"
    patched = struct.pack(">I", len(frame) + len(extra)) + frame[4:] + extra
    assert fastcodec.decode(patched) is None  # declined: the slow path validates and drops
    assert codec.decode(patched) == pdu


# --- malformed input gets the right command_status, never a crash ---------------------------


def _frame(command_id: int, body: bytes, sequence: int = 5) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, 0, sequence) + body


GOOD_SUBMIT_BODY = codec.encode(SubmitSm(destination_addr="8613800000000", short_message=b"hi"))[
    16:
]


@pytest.mark.parametrize(
    ("frame", "error", "status"),
    [
        (b"\x00\x00\x00\x08" + bytes(12), FramingError, S.ESME_RINVCMDLEN),
        (_frame(0x00000999, b""), UnknownCommand, S.ESME_RINVCMDID),
        (
            _frame(4, b"toolongservicetype\x00" + GOOD_SUBMIT_BODY[1:]),
            InvalidField,
            S.ESME_RINVSERTYP,
        ),
        (_frame(4, GOOD_SUBMIT_BODY[:3] + b"1" * 30), InvalidField, S.ESME_RINVSRCADR),
        (_frame(4, GOOD_SUBMIT_BODY[:-3] + b"\x09hi"), InvalidField, S.ESME_RINVMSGLEN),
        (_frame(4, GOOD_SUBMIT_BODY[:5]), InvalidField, S.ESME_RINVCMDLEN),
        (_frame(4, GOOD_SUBMIT_BODY + b"\x02\x0c\x00"), InvalidField, S.ESME_RINVOPTPARSTREAM),
        (
            _frame(4, GOOD_SUBMIT_BODY + b"\x02\x0c\x00\x09\x00"),
            InvalidField,
            S.ESME_RINVOPTPARSTREAM,
        ),
        (_frame(4, GOOD_SUBMIT_BODY + b"\x02\x0c\x00\x01\x00"), InvalidField, S.ESME_RINVPARLEN),
        (_frame(2, b"sys\x00pw\x00"), InvalidField, S.ESME_RINVCMDLEN),
        (_frame(2, b"s" * 20 + b"\x00pw\x00\x00\x34\x00\x00\x00"), InvalidField, S.ESME_RINVSYSID),
        (_frame(0x80000004, b"no terminator"), InvalidField, S.ESME_RINVCMDLEN),
        (_frame(0x80000004, b"9" * 70 + b"\x00"), InvalidField, S.ESME_RINVMSGID),
    ],
)
def test_malformed_pdus(frame: bytes, error: type[PduError], status: S) -> None:
    with pytest.raises(error) as info:
        codec.decode(frame)
    assert info.value.command_status == status
    if len(frame) >= 16 and error is not FramingError:
        assert info.value.sequence == 5


def test_bad_validity_period_and_schedule() -> None:
    body = bytearray(GOOD_SUBMIT_BODY)
    index = body.index(b"8613800000000\x00") + 14 + 3  # after esm_class, pid, priority
    broken = bytes(body[:index]) + b"123\x00" + bytes(body[index + 1 :])
    with pytest.raises(InvalidField) as info:
        codec.decode(_frame(4, broken))
    assert info.value.command_status == S.ESME_RINVSCHED


def test_known_but_unsupported_commands() -> None:
    pdu = codec.decode(_frame(0x00000008, b"\x00abc\x00"))  # cancel_sm
    assert isinstance(pdu, UnsupportedPdu) and pdu.raw_command_id == 8
    assert codec.encode(ErrorResp(sequence=5, response_id=0x80000008, command_status=3)) == (
        struct.pack(">IIII", 16, 0x80000008, 3, 5)
    )


@pytest.mark.parametrize(
    "pdu",
    [
        SubmitSm(sequence=1, source_addr="x" * 21),
        SubmitSm(sequence=1, destination_addr="八六"),
        SubmitSm(sequence=1, esm_class=256),
        SubmitSm(sequence=1, validity_period="1"),
        SubmitSm(sequence=1, short_message=b"x" * 255),
        SubmitSm(sequence=1, short_message=b"x", message_payload=b"y"),
        DeliverSm(sequence=1, network_error_code=b"\x01"),
        SubmitSmResp(sequence=1, message_id="x" * 65),
        BindTransmitter(sequence=1, password="123456789"),
        EnquireLink(sequence=-1),
    ],
    ids=str,
)
def test_unencodable_values_are_refused_not_truncated(pdu: Pdu) -> None:
    assert fastcodec.encode(pdu, pdu.sequence) is None
    with pytest.raises(InvalidField):
        codec.encode(pdu)


# --- the fast path is held byte-identical to smpplib on generated PDUs ------------------------

cstr = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
octet = st.integers(0, 255)
times = st.sampled_from(["", "000001000000000R", "240101120000000+"])
maybe16 = st.none() | st.integers(0, 0xFFFF)
maybe8 = st.none() | octet


@st.composite
def short_messages(draw: st.DrawFn, cls: type[SubmitSm] | type[DeliverSm]) -> Pdu:
    use_payload = draw(st.booleans())
    fields = {
        "sequence": draw(st.integers(1, 0x7FFFFFFF)),
        "command_status": draw(st.sampled_from([0, 0, S.ESME_RSYSERR])),
        "service_type": draw(cstr.filter(lambda s: len(s) <= 5)),
        "source_addr_ton": draw(octet),
        "source_addr_npi": draw(octet),
        "source_addr": draw(cstr),
        "dest_addr_ton": draw(octet),
        "dest_addr_npi": draw(octet),
        "destination_addr": draw(cstr),
        "esm_class": draw(octet),
        "protocol_id": draw(octet),
        "priority_flag": draw(octet),
        "schedule_delivery_time": draw(times),
        "validity_period": draw(times),
        "registered_delivery": draw(octet),
        "replace_if_present_flag": draw(octet),
        "data_coding": draw(octet),
        "sm_default_msg_id": draw(octet),
        "short_message": b"" if use_payload else draw(st.binary(max_size=254)),
        "message_payload": draw(st.binary(min_size=1, max_size=600)) if use_payload else None,
        "user_message_reference": draw(maybe16),
        "source_port": draw(maybe16),
        "destination_port": draw(maybe16),
        "sar_msg_ref_num": draw(maybe16),
        "sar_total_segments": draw(maybe8),
        "sar_segment_seqnum": draw(maybe8),
        "payload_type": draw(maybe8),
        "language_indicator": draw(maybe8),
        "more_messages_to_send": draw(maybe8),
    }
    if cls is DeliverSm:
        fields["receipted_message_id"] = draw(st.none() | cstr.filter(bool))
        fields["message_state"] = draw(maybe8)
        fields["network_error_code"] = draw(st.none() | st.binary(min_size=3, max_size=3))
    return cls(**fields)


@settings(max_examples=300, deadline=None)
@given(st.one_of(short_messages(SubmitSm), short_messages(DeliverSm)))
def test_fast_path_matches_smpplib(pdu: Pdu) -> None:
    fast = fastcodec.encode(pdu, pdu.sequence)
    slow = codec.encode(pdu, fast=False)
    assert fast == slow
    assert fastcodec.decode(slow) == codec.decode(slow, fast=False) == pdu


@settings(max_examples=200, deadline=None)
@given(
    st.builds(SubmitSmResp, sequence=st.integers(0, 0x7FFFFFFF), message_id=cstr)
    | st.builds(DeliverSmResp, sequence=st.integers(0, 0x7FFFFFFF), command_status=octet)
)
def test_fast_responses_match_smpplib(pdu: Pdu) -> None:
    slow = codec.encode(pdu, fast=False)
    assert fastcodec.encode(pdu, pdu.sequence) == slow
    assert fastcodec.decode(slow) == codec.decode(slow, fast=False) == pdu


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([4, 5, 0x80000004, 9, 0x80000009, 3, 0x80000003]))
def test_random_bodies_never_crash(body: bytes, command_id: int) -> None:
    frame = _frame(command_id, body)
    try:
        pdu = codec.decode(frame)
    except PduError as exc:
        assert exc.command_status != S.ESME_ROK
        assert codec.decode.__module__ == "smpp.codec"
    else:
        assert fastcodec.decode(frame) in (None, pdu)
        assert codec.decode(frame, fast=False) == pdu
