"""The SMSC simulator over real TCP: binds, routing, store-and-forward, receipts, bad PDUs."""

from __future__ import annotations

import asyncio
import re
import signal
import struct
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from smpp.client import Esme
from smpp.errors import BindFailed
from smpp.mo import MoMessage
from smpp.pdus import (
    BindTransceiverResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    MessageState,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from smpp.receipts import IdFormat, IdPolicy, Receipt
from smpp.simulator import NETWORK, Route, Smsc, Unrouted
from smpp.simulator.config import IdStyle
from smpp.status import CommandStatus as S
from tests.smpp.conftest import HANDSET, MSISDN, SERVICE_NUMBER, RawClient

StartSmsc = Callable[..., Awaitable[Smsc]]
StartEsme = Callable[..., Awaitable[Esme]]


async def test_authentication(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc()
    with pytest.raises(BindFailed) as info:
        await start_esme(smsc.port, password="wrong")
    assert info.value.command_status == S.ESME_RINVPASWD
    with pytest.raises(BindFailed) as info:
        await start_esme(smsc.port, system_id="nobody")
    assert info.value.command_status == S.ESME_RINVSYSID
    esme = await start_esme(smsc.port)
    assert esme.bound and smsc.stats["bind_refused"] == 2


async def test_mt_routed_to_handset_and_receipt_on_its_ack(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc()
    received: list[MoMessage] = []

    async def handset_inbox(message: MoMessage) -> None:
        received.append(message)

    await start_esme(
        smsc.port,
        system_id=HANDSET.system_id,
        password=HANDSET.password,
        address_range=f"^{MSISDN}$",
        on_mo=handset_inbox,
        source_addr=MSISDN,
    )
    gateway = await start_esme(smsc.port)
    result = await gateway.submit(MSISDN, "您的考勤账单：本月出勤22天。" * 6, want_delivery=True)
    assert len(result.message_ids) == 2
    assert result.delivery is not None
    outcome = await asyncio.wait_for(result.delivery, 5)
    assert outcome.delivered
    assert [m.text for m in received] == ["您的考勤账单：本月出勤22天。" * 6]
    assert received[0].source == SERVICE_NUMBER and received[0].parts == 2


async def test_mo_from_handset_to_service_bind(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(routes=(Route.parse(f"^{SERVICE_NUMBER}$=gateway"),))
    inbox: list[MoMessage] = []

    async def gateway_inbox(message: MoMessage) -> None:
        inbox.append(message)

    await start_esme(smsc.port, on_mo=gateway_inbox)
    handset_receipts: list[Receipt] = []

    async def on_receipt(receipt: Receipt) -> None:
        handset_receipts.append(receipt)

    handset = await start_esme(
        smsc.port,
        system_id="handset",
        password="hs",
        source_addr=MSISDN,
        address_range=f"^{MSISDN}$",
        on_receipt=on_receipt,
    )
    await handset.submit(SERVICE_NUMBER, "CX")
    await smsc.wait_for(lambda: bool(inbox) and bool(handset_receipts))
    assert inbox[0].text == "CX" and inbox[0].source == MSISDN
    assert handset_receipts[0].state is MessageState.DELIVERED


async def test_store_and_forward_until_the_handset_binds(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(unrouted=Unrouted.STORE)
    gateway = await start_esme(smsc.port)
    result = await gateway.submit(MSISDN, "hello", want_delivery=True)
    await asyncio.sleep(0.3)
    assert result.delivery is not None and not result.delivery.done()
    inbox: list[MoMessage] = []

    async def handset_inbox(message: MoMessage) -> None:
        inbox.append(message)

    await start_esme(
        smsc.port,
        system_id="handset",
        password="hs",
        address_range=f"^{MSISDN}$",
        on_mo=handset_inbox,
    )
    outcome = await asyncio.wait_for(result.delivery, 5)
    assert outcome.delivered and inbox[0].text == "hello"


async def test_expired_after_validity(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc(unrouted=Unrouted.STORE, default_validity=0.3)
    gateway = await start_esme(smsc.port)
    result = await gateway.submit(MSISDN, "nobody home", want_delivery=True)
    assert result.delivery is not None
    outcome = await asyncio.wait_for(result.delivery, 5)
    assert outcome.state is MessageState.EXPIRED and smsc.stats["expired"] == 1


async def test_relative_validity_period_from_the_pdu(start_smsc: StartSmsc) -> None:
    smsc = await start_smsc(unrouted=Unrouted.STORE)
    client = await RawClient.connect(smsc.port)
    await client.bind()
    client.send(
        SubmitSm(
            sequence=2,
            destination_addr=MSISDN,
            validity_period="000000000001000R",
            registered_delivery=1,
            source_addr=SERVICE_NUMBER,
        )
    )
    response = await client.receive()
    assert isinstance(response, SubmitSmResp) and response.command_status == 0
    receipt = await client.receive(timeout=5)
    assert isinstance(receipt, DeliverSm) and receipt.message_state == MessageState.EXPIRED
    client.send(DeliverSmResp(sequence=receipt.sequence))
    client.send(SubmitSm(sequence=3, destination_addr=MSISDN, validity_period="99999999999X000R"))
    refused = await client.receive()
    assert refused.command_status == S.ESME_RINVEXPIRY
    client.close()


async def test_handset_refusal_ends_undeliv(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc()
    handset = await RawClient.connect(smsc.port)
    await handset.bind(HANDSET, address_range=f"^{MSISDN}$")
    gateway = await start_esme(smsc.port)
    result = await gateway.submit(MSISDN, "x", want_delivery=True)
    deliver = await handset.receive()
    assert isinstance(deliver, DeliverSm) and deliver.destination_addr == MSISDN
    handset.send(DeliverSmResp(sequence=deliver.sequence, command_status=S.ESME_RX_P_APPN))
    assert result.delivery is not None
    outcome = await asyncio.wait_for(result.delivery, 5)
    assert outcome.state is MessageState.UNDELIVERABLE
    assert outcome.receipts[0] is not None and outcome.receipts[0].error == S.ESME_RX_P_APPN
    handset.close()


async def test_temporary_refusal_is_retried(start_smsc: StartSmsc) -> None:
    smsc = await start_smsc()
    handset = await RawClient.connect(smsc.port)
    await handset.bind(HANDSET, address_range=f"^{MSISDN}$")
    smsc.inject_mo(SERVICE_NUMBER, MSISDN, "retry me")
    first = await handset.receive()
    handset.send(DeliverSmResp(sequence=first.sequence, command_status=S.ESME_RX_T_APPN))
    second = await handset.receive()
    assert isinstance(second, DeliverSm) and isinstance(first, DeliverSm)
    assert second.short_message == first.short_message
    handset.send(DeliverSmResp(sequence=second.sequence))
    await smsc.wait_for(lambda: smsc.stats["delivered"] == 1)
    handset.close()


async def test_undeliverable_pattern(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER, undeliverable=re.compile("^8613900"))
    gateway = await start_esme(smsc.port)
    bad = await gateway.submit("8613900000000", "x", want_delivery=True)
    good = await gateway.submit("8613800000000", "x", want_delivery=True)
    assert bad.delivery is not None and good.delivery is not None
    assert (await asyncio.wait_for(bad.delivery, 5)).state is MessageState.UNDELIVERABLE
    assert (await asyncio.wait_for(good.delivery, 5)).delivered


async def test_reject_unrouted(start_smsc: StartSmsc) -> None:
    smsc = await start_smsc(unrouted=Unrouted.REJECT)
    client = await RawClient.connect(smsc.port)
    await client.bind()
    client.send(SubmitSm(sequence=2, destination_addr=MSISDN))
    assert (await client.receive()).command_status == S.ESME_RINVDSTADR
    client.close()


async def test_hex_ids_with_decimal_receipt_text(
    start_smsc: StartSmsc, start_esme: StartEsme
) -> None:
    smsc = await start_smsc(
        unrouted=Unrouted.DELIVER,
        id_style=IdStyle.HEX,
        receipt_id_style=IdStyle.DECIMAL_PADDED,
        receipt_tlvs=False,
    )
    policy = IdPolicy(response=IdFormat.HEX, receipt_text=IdFormat.DECIMAL)
    gateway = await start_esme(smsc.port, id_policy=policy)
    results = [await gateway.submit(MSISDN, f"m{i}", want_delivery=True) for i in range(20)]
    for result in results:
        assert result.delivery is not None
        assert (await asyncio.wait_for(result.delivery, 5)).delivered
    assert results[-1].raw_message_ids == ("00000014",) and results[-1].message_ids == ("20",)


async def test_query_sm(start_smsc: StartSmsc) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    client = await RawClient.connect(smsc.port)
    await client.bind()
    client.send(SubmitSm(sequence=2, destination_addr=MSISDN, source_addr=SERVICE_NUMBER))
    response = await client.receive()
    assert isinstance(response, SubmitSmResp)
    client.send(QuerySm(sequence=3, message_id=response.message_id, source_addr=SERVICE_NUMBER))
    answer = await client.receive()
    assert isinstance(answer, QuerySmResp) and answer.message_state == MessageState.DELIVERED
    assert answer.final_date.endswith("000+")
    client.send(QuerySm(sequence=4, message_id="nope"))
    assert (await client.receive()).command_status == S.ESME_RQUERYFAIL
    client.close()


async def test_bad_pdus_never_crash_the_server(start_smsc: StartSmsc) -> None:
    smsc = await start_smsc()
    client = await RawClient.connect(smsc.port)
    client.send(SubmitSm(sequence=1, destination_addr=MSISDN))  # before any bind
    assert (await client.receive()).command_status == S.ESME_RINVBNDSTS
    assert isinstance(await client.bind(), BindTransceiverResp)
    client.send_raw(struct.pack(">IIII", 16, 0x00000999, 0, 2))  # unknown command_id
    assert await client.receive() == GenericNack(sequence=2, command_status=S.ESME_RINVCMDID)
    client.send_raw(struct.pack(">IIII", 20, 4, 0, 3) + b"\x00\x00\x00\x01")  # truncated body
    assert await client.receive() == SubmitSmResp(sequence=3, command_status=S.ESME_RINVCMDLEN)
    bad_source = struct.pack(">IIII", 16 + 40, 4, 0, 4) + b"\x00\x00\x00" + b"1" * 37
    client.send_raw(bad_source)
    assert (await client.receive()).command_status == S.ESME_RINVSRCADR
    client.send_raw(struct.pack(">IIII", 20, 0x00000008, 0, 5) + bytes(4))  # cancel_sm
    assert (await client.receive()).command_status == S.ESME_RINVCMDID
    client.send(EnquireLink(sequence=6))
    assert await client.receive() == EnquireLinkResp(sequence=6)
    client.send_raw(struct.pack(">IIII", 8, 4, 0, 7))  # command_length below the header
    nack = await client.receive()
    assert isinstance(nack, GenericNack) and nack.command_status == S.ESME_RINVCMDLEN
    assert await client.closed()
    client.close()
    assert smsc.stats["bad_pdus"] == 6
    other = await RawClient.connect(smsc.port)  # the server is still serving
    assert isinstance(await other.bind(), BindTransceiverResp)
    other.close()


async def test_unbind_is_always_answered(start_smsc: StartSmsc) -> None:
    smsc = await start_smsc()
    smsc.faults.silent_enquire_link = True
    client = await RawClient.connect(smsc.port)
    await client.bind()
    client.send(EnquireLink(sequence=2))
    client.send(Unbind(sequence=3))
    assert await client.receive() == UnbindResp(sequence=3)
    assert await client.closed()
    client.close()


async def test_fault_knobs_throttle_and_queue_full(start_smsc: StartSmsc) -> None:
    smsc = await start_smsc(unrouted=Unrouted.DELIVER)
    smsc.faults.throttle_every = 2
    smsc.faults.queue_full_every = 3
    client = await RawClient.connect(smsc.port)
    await client.bind()
    statuses = []
    for sequence in range(2, 8):
        client.send(SubmitSm(sequence=sequence, destination_addr=MSISDN))
        statuses.append((await client.receive()).command_status)
    assert statuses == [
        0,
        S.ESME_RTHROTTLED,
        S.ESME_RMSGQFUL,
        S.ESME_RTHROTTLED,
        0,
        S.ESME_RTHROTTLED,
    ]
    client.close()


async def test_several_binds_and_smsc_unbind(start_smsc: StartSmsc) -> None:
    smsc = await start_smsc()
    clients = [await RawClient.connect(smsc.port) for _ in range(3)]
    for client in clients:
        await client.bind()
    assert len(smsc.binds) == 3
    smsc.unbind_all()
    for client in clients:
        unbind = await client.receive()
        assert isinstance(unbind, Unbind)
        client.send(UnbindResp(sequence=unbind.sequence))
        assert await client.closed()
        client.close()
    await smsc.wait_for(lambda: not smsc.binds)


async def test_inject_mo_binary_to_service(start_smsc: StartSmsc, start_esme: StartEsme) -> None:
    smsc = await start_smsc(routes=(Route.parse(f"^{SERVICE_NUMBER}=gateway"),))
    inbox: list[MoMessage] = []

    async def gateway_inbox(message: MoMessage) -> None:
        inbox.append(message)

    await start_esme(smsc.port, on_mo=gateway_inbox)
    por = bytes.fromhex("027100") + bytes(range(20))  # UDH 71: a response packet (TS 31.115)
    smsc.inject_mo(MSISDN, SERVICE_NUMBER, tp_ud_segments=[por], protocol_id=0x7F)
    await smsc.wait_for(lambda: bool(inbox))
    message = inbox[0]
    assert message.text is None and message.payload == bytes(range(20))
    assert message.udh is not None and message.udh.has(0x71) and message.protocol_id == 0x7F
    assert smsc.messages[-1].origin == NETWORK


def test_onecard_smsc_command() -> None:
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "smsc",
            "--port",
            "0",
            "--user",
            "a:b",
            "--unrouted",
            "deliver",
            "--throttle-every",
            "5",
            "--log-level",
            "WARNING",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])

        async def talk() -> None:
            client = await RawClient.connect(port)
            client.send(EnquireLink(sequence=1))
            assert await client.receive() == EnquireLinkResp(sequence=1)
            client.close()

        asyncio.run(talk())
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


async def test_random_pdus_never_crash_the_server(start_smsc: StartSmsc) -> None:
    """A stream of well-framed garbage: every PDU is answered or dropped, the server lives."""
    import random

    smsc = await start_smsc()
    rng = random.Random(1234)
    client = await RawClient.connect(smsc.port)
    await client.bind()
    command_ids = [
        0x00000004,
        0x00000003,
        0x00000009,
        0x00000015,
        0x00000006,
        0x80000005,
        0x00000103,
        0x00000999,
        0x80000004,
        0x00000002,
    ]
    for sequence in range(2, 300):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80)))
        command_id = rng.choice(command_ids[:4] + command_ids[7:])  # keep the bind alive
        client.send_raw(struct.pack(">IIII", 16 + len(body), command_id, 0, sequence) + body)
    client.send(EnquireLink(sequence=999))
    while not isinstance(await client.receive(), EnquireLinkResp):
        pass
    client.close()
    other = await RawClient.connect(smsc.port)
    assert isinstance(await other.bind(), BindTransceiverResp)
    other.close()
    assert smsc.stats["bad_pdus"] > 100
