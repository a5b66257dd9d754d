"""The asyncio ESME over real TCP against the simulator, its fault knobs, and scripted SMSCs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from smpp.client import Esme
from smpp.errors import InvalidField, NotBound, ResponseTimeout, SubmitRejected
from smpp.mo import MoMessage
from smpp.pdus import (
    BindMode,
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    EsmClass,
    GenericNack,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from smpp.receipts import Receipt
from smpp.simulator import Smsc, Unrouted
from smpp.status import CommandStatus as S
from smpp.text import Coding, split_text
from smpp.udh import Udh, concat_ie
from tests.smpp.conftest import HANDSET, MSISDN, SERVICE_NUMBER, RawClient

StartSmsc = Callable[..., Awaitable[Smsc]]
StartEsme = Callable[..., Awaitable[Esme]]
LONG_CHINESE = "尊敬的用户，您本月一卡通消费合计128.50元，考勤22天。如有疑问请联系企业管理员。" * 4


async def test_long_ucs2_message_is_segmented_and_delivered(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    esme = await start_esme(smsc.port)
    result = await esme.submit(MSISDN, LONG_CHINESE, want_delivery=True)
    assert len(result.message_ids) == len(split_text(LONG_CHINESE, reference=0)) == 3
    assert result.delivery is not None
    outcome = await asyncio.wait_for(result.delivery, 5)
    assert outcome.delivered and outcome.message_ids == result.message_ids
    [message] = smsc.messages
    assert message.text == LONG_CHINESE and message.data_coding == Coding.UCS2
    assert message.message_ids == result.raw_message_ids
    assert esme.metrics.receipts["DELIVERED"] == 3 and esme.metrics.accepted == 3


async def test_gsm7_text_single_and_long(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    esme = await start_esme(smsc.port)
    await esme.submit(MSISDN, "Balance: 12.50 CNY")
    long = await esme.submit(MSISDN, "x" * 200)
    assert len(long.message_ids) == 2
    assert [m.text for m in smsc.messages] == ["Balance: 12.50 CNY", "x" * 200]
    assert {m.data_coding for m in smsc.messages} == {Coding.GSM7}


async def test_binary_sms_pp_download(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    esme = await start_esme(smsc.port)
    segments = [
        Udh((concat_ie(9, 2, i), Udh.decode(b"\x02\x70\x00")[0].elements[0])).encode()
        + bytes([i]) * 100
        for i in (1, 2)
    ]
    result = await esme.submit_binary(MSISDN, segments, want_delivery=True)
    assert result.delivery is not None and (await asyncio.wait_for(result.delivery, 5)).delivered
    [message] = smsc.messages
    assert (message.protocol_id, message.data_coding) == (0x7F, 0xF6)
    assert message.payload == b"\x01" * 100 + b"\x02" * 100 and message.text is None
    assert message.udh is not None and message.udh.has(0x70)


async def test_window_bounds_outstanding_submits() -> None:
    seen: list[int] = []
    release = asyncio.Event()

    async def smsc(client: RawClient) -> None:
        bind = await client.receive()
        client.send(BindTransceiverResp(sequence=bind.sequence, system_id="FAKE"))
        pending = []
        while True:
            try:
                pdu = await client.receive(timeout=0.3)
            except TimeoutError:
                seen.append(len(pending))
                for sequence in pending:
                    client.send(SubmitSmResp(sequence=sequence, message_id=str(sequence)))
                pending.clear()
                if len(seen) >= 3:
                    release.set()
                continue
            if isinstance(pdu, SubmitSm):
                pending.append(pdu.sequence)
            elif isinstance(pdu, Unbind):
                client.send(UnbindResp(sequence=pdu.sequence))
                return

    async with scripted_smsc(smsc) as port:
        esme = Esme(_config(port, window=4))
        await esme.start(timeout=5)
        futures = [esme.submit_nowait(MSISDN, f"m{i}") for i in range(10)]
        await asyncio.wait_for(release.wait(), 10)
        await asyncio.gather(*futures)
        await esme.stop()
    assert seen[:3] == [4, 4, 2]


async def test_throttling_pauses_and_keeps_segment_order(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    smsc.faults.throttle_every = 3
    smsc.faults.queue_full_every = 7
    esme = await start_esme(smsc.port, window=1)
    results = await asyncio.gather(*(esme.submit(MSISDN, f"{i}:" + LONG_CHINESE) for i in range(4)))
    assert esme.metrics.throttled >= 4 and esme.metrics.rejected == {}
    assert sorted(m.text or "" for m in smsc.messages) == [f"{i}:{LONG_CHINESE}" for i in range(4)]
    # With a window of 1, a resent part goes before every later part: ids grow with the parts.
    for result in results:
        numbers = [int(raw, 16) for raw in result.raw_message_ids]
        assert numbers == sorted(numbers)


async def test_throttling_with_a_wide_window_loses_nothing(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    smsc.faults.throttle_every = 5
    esme = await start_esme(smsc.port, window=20)
    texts = [f"message {i} " + "y" * (i * 10) for i in range(40)]
    await asyncio.gather(*(esme.submit(MSISDN, text) for text in texts))
    assert sorted(m.text or "" for m in smsc.messages) == sorted(texts)
    assert esme.metrics.resubmitted == esme.metrics.throttled > 0


async def test_connection_dropped_mid_window_resubmits(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    smsc.faults.drop_after = 25  # each connection dies after 25 PDUs from the ESME
    esme = await start_esme(smsc.port, window=10)
    texts = [f"bill {i}" for i in range(60)]
    results = await asyncio.wait_for(asyncio.gather(*(esme.submit(MSISDN, t) for t in texts)), 20)
    assert len(results) == 60
    assert esme.metrics.reconnects >= 2 and esme.metrics.resubmitted > 0
    # At least once: every text reached the SMSC (a part whose response died may come twice).
    assert {m.text for m in smsc.messages} == set(texts)


async def test_slow_responses_within_the_timeout(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    smsc.faults.response_delay = 0.1
    esme = await start_esme(smsc.port, window=5, response_timeout=1.0)
    await asyncio.gather(*(esme.submit(MSISDN, str(i)) for i in range(12)))
    assert esme.metrics.timeouts == 0


async def test_responses_slower_than_the_timeout(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    esme = await start_esme(smsc.port, response_timeout=0.2, max_attempts=2)
    smsc.faults.response_delay = 0.5
    with pytest.raises(ResponseTimeout):
        await esme.submit(MSISDN, "slow")
    assert esme.metrics.timeouts == 2
    smsc.faults.response_delay = 0.0
    await esme.wait_bound()
    await esme.submit(MSISDN, "fast again")
    await smsc.wait_for(lambda: esme.metrics.late_responses >= 1)


async def test_smsc_initiated_unbind_then_reconnect(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    esme = await start_esme(smsc.port)
    await esme.submit(MSISDN, "before")
    smsc.unbind_all()
    await smsc.wait_for(lambda: esme.metrics.binds == 2)
    await esme.submit(MSISDN, "after")
    assert [m.text for m in smsc.messages] == ["before", "after"]
    smsc.faults.unbind_after = 3  # the SMSC unbinds after the third submit_sm of a bind
    await asyncio.gather(*(esme.submit(MSISDN, str(i)) for i in range(10)))
    await smsc.wait_for(lambda: esme.metrics.binds == 3)
    smsc.faults.unbind_after = 0
    await esme.submit(MSISDN, "third bind")


async def test_unbind_with_a_queue_waiting(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    smsc.faults.unbind_after = 4
    esme = await start_esme(smsc.port, window=2)
    texts = [f"queued {i}" for i in range(30)]
    await asyncio.wait_for(asyncio.gather(*(esme.submit(MSISDN, t) for t in texts)), 20)
    assert {m.text for m in smsc.messages} == set(texts) and esme.metrics.binds > 3


async def test_silent_enquire_link_drops_the_link(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    smsc.faults.silent_enquire_link = True
    esme = await start_esme(smsc.port, enquire_link_interval=0.2, response_timeout=0.3)
    await smsc.wait_for(lambda: esme.metrics.reconnects >= 1, timeout=5)
    smsc.faults.silent_enquire_link = False
    await esme.wait_bound()
    await esme.submit(MSISDN, "still works")


async def test_early_receipts_are_matched(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    smsc.faults.early_receipts = True
    esme = await start_esme(smsc.port)
    results = await asyncio.gather(
        *(esme.submit(MSISDN, LONG_CHINESE, want_delivery=True) for _ in range(5))
    )
    for result in results:
        assert result.delivery is not None
        assert (await asyncio.wait_for(result.delivery, 5)).delivered
    assert esme.metrics.orphan_receipts == 15


async def test_receipts_reach_the_callback_before_the_resp(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    attempts: list[str] = []

    async def flaky(receipt: Receipt) -> None:
        attempts.append(receipt.message_id)
        if len(attempts) == 1:
            raise RuntimeError("database unavailable")

    esme = await start_esme(smsc.port, on_receipt=flaky)
    result = await esme.submit(MSISDN, "hello", want_delivery=True)
    assert result.delivery is not None
    await asyncio.wait_for(result.delivery, 5)
    assert attempts == [result.message_ids[0]] * 2  # refused once (RX_T_APPN), then retried
    assert esme.metrics.callback_failures == 1 and smsc.stats["retries"] == 1


async def _handset_and_gateway(
    start_smsc: StartSmsc, start_esme: StartEsme, inbox: list[MoMessage], fail_first: bool = False
) -> tuple[Smsc, Esme]:
    smsc = await start_smsc()

    async def on_mo(message: MoMessage) -> None:
        if fail_first and not inbox:
            inbox.append(message)
            raise RuntimeError("not now")
        inbox.append(message)

    await start_esme(smsc.port, address_range=f"^{SERVICE_NUMBER}$", on_mo=on_mo)
    handset = await start_esme(
        smsc.port,
        system_id=HANDSET.system_id,
        password=HANDSET.password,
        source_addr=MSISDN,
        address_range=f"^{MSISDN}$",
    )
    return smsc, handset


@pytest.mark.parametrize("how", ["udh8", "udh16", "sar"])
async def test_mo_reassembly(start_smsc: StartSmsc, start_esme: StartEsme, how: str) -> None:
    inbox: list[MoMessage] = []
    smsc, handset = await _handset_and_gateway(start_smsc, start_esme, inbox)
    segments = split_text(
        LONG_CHINESE, reference=0x1234 if how == "udh16" else 0x12, ref16=how == "udh16"
    )
    parts = []
    for segment in segments:
        if how == "sar":
            fields = {
                "short_message": segment.payload,
                "sar_msg_ref_num": 77,
                "sar_total_segments": segment.total,
                "sar_segment_seqnum": segment.index,
            }
        else:
            fields = {"short_message": segment.short_message, "esm_class": EsmClass.UDHI}
        parts.append(
            SubmitSm(source_addr=MSISDN, destination_addr=SERVICE_NUMBER, data_coding=8, **fields)
        )  # type: ignore[arg-type]
    await handset.submit_parts(list(reversed(parts)))  # out of order on purpose
    await smsc.wait_for(lambda: bool(inbox))
    [message] = inbox
    assert message.text == LONG_CHINESE and message.parts == 3 and message.udh is None
    assert (message.source, message.destination) == (MSISDN, SERVICE_NUMBER)


async def test_failed_mo_callback_makes_the_smsc_retry(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    inbox: list[MoMessage] = []
    smsc, handset = await _handset_and_gateway(start_smsc, start_esme, inbox, fail_first=True)
    await handset.submit(SERVICE_NUMBER, LONG_CHINESE, want_delivery=True)
    await smsc.wait_for(lambda: len(inbox) == 2)
    assert inbox[0] == inbox[1] and inbox[1].text == LONG_CHINESE
    await smsc.wait_for(lambda: smsc.stats["delivered"] == 3)


async def test_transmitter_and_receiver_binds(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    receipts: list[Receipt] = []

    async def on_receipt(receipt: Receipt) -> None:
        receipts.append(receipt)

    receiver = await start_esme(smsc.port, bind_mode=BindMode.RECEIVER, on_receipt=on_receipt)
    transmitter = await start_esme(smsc.port, bind_mode=BindMode.TRANSMITTER)
    result = await transmitter.submit(MSISDN, LONG_CHINESE)
    await smsc.wait_for(lambda: len(receipts) == len(result.message_ids))
    assert {r.message_id for r in receipts} == set(result.message_ids)
    with pytest.raises(NotBound):
        await receiver.submit(MSISDN, "a receiver cannot submit")


async def test_stop_is_graceful(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    esme = await start_esme(smsc.port)
    futures = [esme.submit_nowait(MSISDN, str(i)) for i in range(30)]
    await esme.stop()
    assert all(f.done() and not f.exception() for f in futures)
    await smsc.wait_for(lambda: not smsc.binds)
    with pytest.raises(NotBound):
        await esme.submit(MSISDN, "too late")


async def test_rejected_submit_raises(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc(unrouted=Unrouted.REJECT)
    esme = await start_esme(smsc.port)
    with pytest.raises(SubmitRejected) as info:
        await esme.submit(MSISDN, "nowhere")
    assert info.value.command_status == S.ESME_RINVDSTADR
    assert esme.metrics.rejected == {"ESME_RINVDSTADR": 1}


async def test_parts_submitted_with_a_callback(start_smsc: StartSmsc,
                                              start_esme: StartEsme) -> None:
    """``submit_part``: each part's message_id (or its failure) reaches its callback, once."""
    outcomes: dict[int, tuple[str | None, Exception | None]] = {}

    def told(n: int) -> Callable[[str | None, Exception | None], None]:
        def callback(message_id: str | None, error: Exception | None) -> None:
            assert n not in outcomes
            outcomes[n] = (message_id, error)
        return callback

    def part(destination: str) -> SubmitSm:
        return SubmitSm(source_addr=SERVICE_NUMBER, dest_addr_ton=1, dest_addr_npi=1,
                        destination_addr=destination, short_message=b"part")

    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    esme = await start_esme(smsc.port, window=3)
    for n in range(10):
        esme.submit_part(part(MSISDN), told(n))
    await smsc.wait_for(lambda: len(outcomes) == 10)
    ids = [outcomes[n][0] for n in range(10)]
    assert all(ids) and len(set(ids)) == 10 and not any(e for _, e in outcomes.values())
    await esme.stop()
    with pytest.raises(NotBound):
        esme.submit_part(part(MSISDN), told(99))

    refusing = await start_smsc(unrouted=Unrouted.REJECT)
    esme = await start_esme(refusing.port)
    esme.submit_part(part(MSISDN), told(10))
    await refusing.wait_for(lambda: 10 in outcomes)
    message_id, error = outcomes[10]
    assert message_id is None and isinstance(error, SubmitRejected)
    assert error.command_status == S.ESME_RINVDSTADR


# --- scripted SMSCs for what the simulator will not do -------------------------------------


@contextlib.asynccontextmanager
async def scripted_smsc(script: Callable[[RawClient], Awaitable[None]]) -> AsyncIterator[int]:
    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = RawClient(reader, writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            await script(client)
        writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _config(port: int, **overrides: object):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from tests.smpp.conftest import FAST_ESME

    return replace(FAST_ESME, port=port, **overrides)  # type: ignore[arg-type]


async def test_already_bound_gets_an_extra_backoff() -> None:
    binds = 0

    async def smsc(client: RawClient) -> None:
        nonlocal binds
        bind = await client.receive()
        binds += 1
        status = S.ESME_RALYBND if binds == 1 else S.ESME_ROK
        client.send(BindTransceiverResp(sequence=bind.sequence, command_status=status))
        if status:
            return
        unbind = await client.receive(timeout=10)
        client.send(UnbindResp(sequence=unbind.sequence))

    async with scripted_smsc(smsc) as port:
        esme = Esme(_config(port))
        await esme.start(timeout=5)
        assert binds == 2 and esme.bound
        await esme.stop()


async def test_malformed_pdus_from_the_smsc() -> None:
    replies: list[object] = []
    done = asyncio.Event()

    async def smsc(client: RawClient) -> None:
        bind = await client.receive()
        client.send(BindTransceiverResp(sequence=bind.sequence))
        client.send_raw(b"\x00\x00\x00\x10\x00\x00\x04\x44\x00\x00\x00\x00\x00\x00\x00\x05")
        replies.append(await client.receive())
        broken = DeliverSm(
            sequence=6, esm_class=0x40, short_message=b"\x09\x00\x03"
        )  # UDHL too big
        client.send(broken)
        replies.append(await client.receive())
        client.send(DeliverSm(sequence=7, esm_class=4, short_message=b"no id here"))
        replies.append(await client.receive())
        client.send(EnquireLink(sequence=8))
        replies.append(await client.receive())
        client.send_raw(b"\x00\x00\x00\x03" + bytes(12))
        replies.append(await client.receive())
        done.set()

    async with scripted_smsc(smsc) as port:
        esme = Esme(_config(port))
        await esme.start(timeout=5)
        await asyncio.wait_for(done.wait(), 5)
        await esme.stop(timeout=0.5)
    assert replies[0] == GenericNack(sequence=5, command_status=S.ESME_RINVCMDID)
    assert replies[1] == DeliverSmResp(sequence=6, command_status=S.ESME_RINVESMCLASS)
    assert replies[2] == DeliverSmResp(sequence=7, command_status=S.ESME_RX_P_APPN)
    assert replies[3] == EnquireLinkResp(sequence=8)
    assert isinstance(replies[4], GenericNack) and replies[4].command_status == S.ESME_RINVCMDLEN


async def test_a_bind_that_cannot_be_encoded_fails_start(start_smsc: StartSmsc) -> None:
    smsc = await start_smsc()
    esme = Esme(_config(smsc.port, system_id="a-system-id-far-too-long"))
    with pytest.raises(InvalidField):
        await esme.start(timeout=5)


async def test_unbound_esme_refuses_submits() -> None:
    esme = Esme(_config(1))
    with pytest.raises(NotBound):
        esme.submit_nowait(MSISDN, "x")
    assert BindTransceiver(system_id="x").system_id == "x"


async def test_random_deliver_sm_never_crash_the_esme() -> None:
    """Random (valid-framed) deliver_sm: each gets its deliver_sm_resp, the bind stays up."""
    import random

    rng = random.Random(99)
    answered: dict[int, int] = {}
    done = asyncio.Event()

    async def smsc(client: RawClient) -> None:
        bind = await client.receive()
        client.send(BindTransceiverResp(sequence=bind.sequence))
        for sequence in range(1, 201):
            udh = bytes([5, 0, 3, rng.randrange(4), rng.randrange(1, 4), rng.randrange(0, 5)])
            client.send(
                DeliverSm(
                    sequence=sequence,
                    source_addr=str(rng.randrange(3)),
                    esm_class=rng.choice([0, 0x04, 0x40, 0x44, 0x40]),
                    data_coding=rng.choice([0, 1, 3, 4, 8, 0xF6, 0x11]),
                    short_message=rng.choice([b"", udh]) + rng.randbytes(rng.randrange(0, 100)),
                    sar_msg_ref_num=rng.choice([None, 7]),
                    sar_total_segments=rng.choice([None, 2, 0]),
                    sar_segment_seqnum=rng.choice([None, 1, 2, 3]),
                )
            )
        while len(answered) < 200:
            pdu = await client.receive(timeout=5)
            if isinstance(pdu, DeliverSmResp):
                answered[pdu.sequence] = pdu.command_status
        done.set()
        while not isinstance(unbind := await client.receive(timeout=10), Unbind):
            pass
        client.send(UnbindResp(sequence=unbind.sequence))

    async def on_mo(message: object) -> None:
        pass

    async with scripted_smsc(smsc) as port:
        esme = Esme(_config(port), on_mo=on_mo)  # type: ignore[arg-type]
        await esme.start(timeout=5)
        await asyncio.wait_for(done.wait(), 15)
        assert esme.bound and esme.metrics.binds == 1  # answered on the first connection
        await esme.stop()
    assert sorted(answered) == list(range(1, 201))
    assert S.ESME_ROK in answered.values() and set(answered.values()) - {S.ESME_ROK}
