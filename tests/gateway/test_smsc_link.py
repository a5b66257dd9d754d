"""The gateway's SMSC link over TCP to the SMSC simulator: binding, submitting text and binary,
receipt and MO handlers in order, and what no handler takes kept in ``inbound_messages``."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from gateway import keys
from gateway.app import create_app
from gateway.db.models_outbox import InboundKind, InboundMessage
from gateway.settings import Settings
from gateway.smsc_link import SmscLink, relative_validity
from smpp.errors import NotBound
from smpp.mo import MoMessage
from smpp.pdus import MessageState
from smpp.receipts import Receipt
from smpp.simulator import Smsc
from tests.gateway.outbox_helpers import (
    SERVICE_NUMBER,
    Stack,
    eventually,
    fleet_for,
    smsc_config,
    start_gateway,
    with_smsc,
)

PHONE = "8613900000001"
OWN_NUMBER = "10650001"


@pytest.fixture
async def stack(aiohttp_client: Any, sqlite_settings: Settings) -> AsyncIterator[Stack]:
    async with Smsc(smsc_config()) as smsc:
        client = await start_gateway(aiohttp_client, with_smsc(sqlite_settings, smsc.port))
        fleet = fleet_for([PHONE], smsc.port)
        await fleet.start()
        yield Stack(smsc, client, fleet)
        await fleet.stop()


async def kept(stack: Stack) -> list[InboundMessage]:
    async with stack.app[keys.DEPS].uow(readonly=True) as uow:
        return list(await uow.session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


async def test_text_reaches_the_handset_with_a_delivery_outcome(stack: Stack) -> None:
    result = await stack.link.submit_text(PHONE, "你好，一卡通" * 20)  # 120 UCS2 chars: 2 parts
    assert len(result.message_ids) == 2 and result.delivery is not None
    outcome = await result.delivery
    assert outcome.delivered and outcome.message_ids == result.message_ids
    assert stack.inbox(PHONE) == ["你好，一卡通" * 20]
    (sent,) = stack.smsc.messages
    assert sent.source == SERVICE_NUMBER and sent.origin == "gateway"
    assert stack.link.bound and stack.link.metrics.accepted == 2


async def test_binary_goes_out_as_sim_data_download(stack: Stack) -> None:
    result = await stack.link.submit_binary("8613700000009", [bytes.fromhex("027000") + b"\x01"])
    assert len(result.message_ids) == 1 and result.delivery is None
    (sent,) = stack.smsc.messages
    assert (sent.protocol_id, sent.data_coding) == (0x7F, 0xF6)


async def test_receipts_nobody_claims_are_kept_once(stack: Stack) -> None:
    seen: list[Receipt] = []

    async def not_mine(receipt: Receipt) -> bool:
        seen.append(receipt)
        return False

    stack.link.add_receipt_handler(not_mine)
    result = await stack.link.submit_text("8613700000001", "无人认领的回执")
    await eventually(lambda: _count_kept(stack, 1), what="receipt kept")
    (row,) = await kept(stack)
    assert row.kind is InboundKind.RECEIPT and row.smsc_id == result.message_ids[0]
    assert row.receipt_state == "DELIVERED" and row.payload == b""
    assert [r.message_id for r in seen] == list(result.message_ids)


async def _count_kept(stack: Stack, n: int) -> bool:
    return len(await kept(stack)) == n


@pytest.fixture
async def own_link(stack: Stack) -> AsyncIterator[SmscLink]:
    """A link of its own (the app's link carries the other subsystems' MO handlers), serving
    another service number."""
    settings = stack.app[keys.DEPS].settings.smsc
    assert settings is not None
    link = SmscLink(stack.app[keys.DEPS], None)
    await link.start(dataclasses.replace(settings, source_addr=OWN_NUMBER))
    await link.wait_bound(10)
    yield link
    await link.stop()


async def test_mo_handlers_are_tried_in_order(stack: Stack, own_link: SmscLink) -> None:
    calls: list[str] = []

    async def first(message: MoMessage) -> bool:
        calls.append(f"first:{message.text}")
        return False

    async def second(message: MoMessage) -> bool:
        calls.append(f"second:{message.text}")
        return message.text == "余额"

    own_link.add_mo_handler(first)
    own_link.add_mo_handler(second)
    stack.smsc.inject_mo(PHONE, OWN_NUMBER, "余额")
    stack.smsc.inject_mo(PHONE, OWN_NUMBER, "你好")
    await eventually(lambda: _count_kept(stack, 1), what="unclaimed MO kept")
    await eventually(lambda: len(calls) == 4, what="both MO handled")
    for text in ("余额", "你好"):  # the two MO may be handled concurrently; each in order
        assert [c for c in calls if c.endswith(text)] == [f"first:{text}", f"second:{text}"]
    (row,) = await kept(stack)
    assert row.kind is InboundKind.MO and row.source == PHONE
    assert row.payload == "你好".encode("utf-16-be") and row.data_coding == 8
    assert row.destination == OWN_NUMBER and row.parts == 1


async def test_a_failing_handler_makes_the_smsc_retry(stack: Stack, own_link: SmscLink) -> None:
    attempts: list[int] = []

    async def flaky(message: MoMessage) -> bool:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database away")
        return True

    own_link.add_mo_handler(flaky)
    stack.smsc.inject_mo(PHONE, OWN_NUMBER, "重试")
    await eventually(lambda: len(attempts) == 2, what="redelivery")  # retry_interval 0.2 s
    assert await kept(stack) == []


async def test_without_an_smsc_the_link_is_disabled(aiohttp_client: Any,
                                                    sqlite_settings: Settings) -> None:
    client = await aiohttp_client(create_app(sqlite_settings))
    link = client.app[keys.SMSC_LINK]
    assert not link.enabled and not link.bound
    with pytest.raises(NotBound):
        await link.submit_text(PHONE, "x")
    metrics = await client.get("/metrics")
    assert "onecard_smpp_bound 0" in await metrics.text()


async def test_a_refused_bind_leaves_the_gateway_serving(aiohttp_client: Any,
                                                         sqlite_settings: Settings) -> None:
    async with Smsc(smsc_config()) as smsc:
        settings = with_smsc(sqlite_settings, smsc.port, password="wrong")
        client = await aiohttp_client(create_app(settings))
        link = client.app[keys.SMSC_LINK]
        await eventually(lambda: smsc.stats["bind_refused"] >= 1, what="bind refused")
        assert link.enabled and not link.bound
        assert (await client.get("/healthz")).status == 200


def test_relative_validity() -> None:
    assert relative_validity(3600) == "000000010000000R"
    assert relative_validity(2 * 86400 + 61) == "000002000101000R"
    assert relative_validity(5) == "000000000100000R"  # at least a minute
    assert relative_validity(10**9).startswith("000099")
    assert MessageState.DELIVERED.stat == "DELIVRD"
