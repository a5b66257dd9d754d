"""smpp.session: the sans-I/O state machine in both roles, fed whole, split and byte by byte."""

from __future__ import annotations

import pytest

from smpp import codec
from smpp.errors import AlreadyBound, InvalidBindState, WindowFull
from smpp.pdus import (
    BindMode,
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
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from smpp.session import (
    BadPdu,
    ConnectionBroken,
    RequestReceived,
    ResponseReceived,
    Role,
    Session,
    State,
    UnmatchedResponse,
)
from smpp.status import CommandStatus as S


def bound_pair(mode: BindMode = BindMode.TRANSCEIVER, window: int = 10) -> tuple[Session, Session]:
    """An ESME and an SMSC session that went through a bind over "the wire"."""
    esme, smsc = Session(Role.ESME, window=window), Session(Role.SMSC, window=window)
    bind_class = {BindMode.TRANSMITTER: BindTransmitter, BindMode.RECEIVER: BindReceiver}.get(
        mode, BindTransceiver
    )
    resp_class = {
        BindMode.TRANSMITTER: BindTransmitterResp,
        BindMode.RECEIVER: BindReceiverResp,
    }.get(mode, BindTransceiverResp)
    [event] = smsc.receive_data(
        esme.send(bind_class(sequence=esme.next_sequence(), system_id="gw"))
    )
    assert isinstance(event, RequestReceived) and smsc.state is State.BINDING
    [answer] = esme.receive_data(smsc.send(resp_class(sequence=event.pdu.sequence, system_id="S")))
    assert isinstance(answer, ResponseReceived)
    assert esme.state is smsc.state is State.BOUND and esme.mode is smsc.mode is mode
    return esme, smsc


def test_bind_submit_deliver_unbind() -> None:
    esme, smsc = bound_pair()
    submit = SubmitSm(sequence=esme.next_sequence(), destination_addr="1", short_message=b"x")
    [request] = smsc.receive_data(esme.send(submit))
    assert request == RequestReceived(submit)
    assert esme.in_window == 1
    [response] = esme.receive_data(
        smsc.send(SubmitSmResp(sequence=submit.sequence, message_id="9"))
    )
    assert response == ResponseReceived(
        SubmitSmResp(sequence=submit.sequence, message_id="9"), submit
    )
    assert esme.in_window == 0
    deliver = DeliverSm(sequence=smsc.next_sequence(), esm_class=4, short_message=b"id:9")
    [incoming] = esme.receive_data(smsc.send(deliver))
    assert incoming == RequestReceived(deliver)
    smsc.receive_data(esme.send(DeliverSmResp(sequence=deliver.sequence)))
    assert smsc.in_window == 0
    [unbind] = smsc.receive_data(esme.send(Unbind(sequence=esme.next_sequence())))
    assert esme.state is State.UNBINDING
    [done] = esme.receive_data(smsc.send(UnbindResp(sequence=unbind.pdu.sequence)))
    assert isinstance(done, ResponseReceived)
    assert esme.state is smsc.state is State.CLOSED


def test_refused_bind_returns_to_open() -> None:
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    smsc.receive_data(esme.send(BindTransmitter(sequence=1, password="bad")))
    reply = BindTransmitterResp(sequence=1, command_status=S.ESME_RINVPASWD)
    [answer] = esme.receive_data(smsc.send(reply))
    assert isinstance(answer, ResponseReceived)
    assert esme.state is smsc.state is State.OPEN and esme.mode is None


def test_a_generic_nack_to_a_bind_also_returns_to_open() -> None:
    esme = Session(Role.ESME)
    esme.send(BindTransceiver(sequence=1))
    [answer] = esme.receive_data(codec.encode(GenericNack(sequence=1, command_status=3)))
    assert isinstance(answer, ResponseReceived) and esme.state is State.OPEN


@pytest.mark.parametrize("chunk", [1, 3, 7, 16, 1000])
def test_fed_in_any_chunking(chunk: int) -> None:
    esme, smsc = bound_pair()
    pdus = [
        SubmitSm(sequence=esme.next_sequence(), destination_addr=str(i), short_message=b"x" * i)
        for i in range(1, 6)
    ]
    stream = b"".join(esme.send(p) for p in pdus) + esme.send(EnquireLink(sequence=99))
    events = []
    for i in range(0, len(stream), chunk):
        events.extend(smsc.receive_data(stream[i : i + chunk]))
    assert [e.pdu for e in events if isinstance(e, RequestReceived)] == [
        *pdus,
        EnquireLink(sequence=99),
    ]


def test_window_is_enforced_for_traffic_only() -> None:
    esme, _ = bound_pair(window=2)
    esme.send(SubmitSm(sequence=1, destination_addr="1"))
    esme.send(SubmitSm(sequence=2, destination_addr="1"))
    with pytest.raises(WindowFull):
        esme.send(SubmitSm(sequence=3, destination_addr="1"))
    esme.send(EnquireLink(sequence=4))  # housekeeping passes a full window
    assert esme.window_free == 0
    assert esme.abandon(1) is not None and esme.window_free == 1
    [late] = esme.receive_data(codec.encode(SubmitSmResp(sequence=1, message_id="x")))
    assert isinstance(late, UnmatchedResponse)


def test_sequence_numbers_wrap_and_skip_outstanding() -> None:
    esme, _ = bound_pair()
    esme._sequence = codec.MAX_SEQUENCE - 1
    assert esme.next_sequence() == codec.MAX_SEQUENCE
    esme.send(SubmitSm(sequence=1, destination_addr="1"))
    assert esme.next_sequence() == 2  # 1 is still outstanding


@pytest.mark.parametrize(
    ("mode", "role", "pdu"),
    [
        (BindMode.RECEIVER, Role.ESME, SubmitSm(sequence=1)),
        (BindMode.TRANSMITTER, Role.SMSC, DeliverSm(sequence=1)),
    ],
)
def test_what_a_bind_mode_forbids_to_send(mode: BindMode, role: Role, pdu: SubmitSm) -> None:
    esme, smsc = bound_pair(mode)
    with pytest.raises(InvalidBindState):
        (esme if role is Role.ESME else smsc).send(pdu)


def test_what_a_bind_mode_forbids_to_receive_is_answered() -> None:
    _, smsc = bound_pair(BindMode.RECEIVER)
    [event] = smsc.receive_data(codec.encode(SubmitSm(sequence=5, destination_addr="1")))
    assert isinstance(event, BadPdu) and isinstance(event.error, InvalidBindState)
    assert event.reply == ErrorResp(
        sequence=5, command_status=S.ESME_RINVBNDSTS, response_id=0x80000004
    )


def test_traffic_before_bind_and_second_bind() -> None:
    smsc = Session(Role.SMSC)
    [early] = smsc.receive_data(codec.encode(SubmitSm(sequence=3, destination_addr="1")))
    assert isinstance(early, BadPdu) and early.reply is not None
    assert early.reply.command_status == S.ESME_RINVBNDSTS
    _, smsc = bound_pair()
    [again] = smsc.receive_data(codec.encode(BindTransceiver(sequence=4)))
    assert isinstance(again, BadPdu) and isinstance(again.error, AlreadyBound)
    assert again.reply is not None and again.reply.command_status == S.ESME_RALYBND


def test_unknown_command_id_gets_generic_nack_and_the_stream_goes_on() -> None:
    _, smsc = bound_pair()
    unknown = b"\x00\x00\x00\x10\x00\x00\x09\x99\x00\x00\x00\x00\x00\x00\x00\x07"
    events = smsc.receive_data(unknown + codec.encode(EnquireLink(sequence=8)))
    assert isinstance(events[0], BadPdu)
    assert events[0].reply == GenericNack(sequence=7, command_status=S.ESME_RINVCMDID)
    assert events[1] == RequestReceived(EnquireLink(sequence=8))


def test_unsupported_request_is_refused_with_its_own_response() -> None:
    _, smsc = bound_pair()
    cancel = b"\x00\x00\x00\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00"
    [event] = smsc.receive_data(cancel)
    assert isinstance(event, BadPdu)
    assert event.reply == ErrorResp(
        sequence=7, command_status=S.ESME_RINVCMDID, response_id=0x80000008
    )


def test_bad_command_length_breaks_the_stream() -> None:
    _, smsc = bound_pair()
    [event] = smsc.receive_data(b"\x00\x00\x00\x02" + bytes(12) + b"more")
    assert isinstance(event, ConnectionBroken)
    assert event.reply.command_status == S.ESME_RINVCMDLEN
    assert smsc.receive_data(codec.encode(EnquireLink(sequence=1))) == []


def test_an_unreadable_response_settles_its_request() -> None:
    esme, _ = bound_pair()
    submit = SubmitSm(sequence=esme.next_sequence(), destination_addr="1")
    esme.send(submit)
    garbage = b"\x00\x00\x00\x15\x80\x00\x00\x04\x00\x00\x00\x00" + submit.sequence.to_bytes(
        4, "big"
    )
    [event] = esme.receive_data(garbage + b"abcde")
    assert isinstance(event, BadPdu) and event.request == submit and event.reply is None
    assert esme.in_window == 0


def test_smsc_initiated_unbind() -> None:
    esme, smsc = bound_pair()
    [event] = esme.receive_data(smsc.send(Unbind(sequence=smsc.next_sequence())))
    assert isinstance(event, RequestReceived)
    [answer] = smsc.receive_data(esme.send(UnbindResp(sequence=event.pdu.sequence)))
    assert isinstance(answer, ResponseReceived)
    assert esme.state is smsc.state is State.CLOSED


def test_template_sent_under_fresh_sequences() -> None:
    esme, smsc = bound_pair()
    template = SubmitSm(destination_addr="1", short_message=b"x")
    frames = [esme.send(template, sequence=n) for n in (5, 6)]
    events = smsc.receive_data(b"".join(frames))
    assert [e.pdu.sequence for e in events if isinstance(e, RequestReceived)] == [5, 6]
    [answer] = esme.receive_data(codec.encode(EnquireLinkResp(sequence=77)))
    assert isinstance(answer, UnmatchedResponse)
