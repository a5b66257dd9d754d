"""PoRs that must not be believed, over real sockets: a bad CC, a replayed counter, a counter no
packet used, a PoR from a number the gateway never sent to. Each is refused, leaves the job as
it was, and is recorded as an alert (and counted in /metrics).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.ota_core import COMMAND_SPI
from gateway.settings import Settings
from ota.keys import derive_card_keyset
from ota.onecard_apdu import TAR_ONECARD, CreditResult
from ota.por import PorStatus, build_por
from ota.remote import CompactResponse
from tests.gateway.helpers import new_msisdn
from tests.gateway.ota_stack import (
    SERVICE_NUMBER,
    OtaStack,
    Phone,
    eventually,
    lose_pors,
    stack_of,
)


@pytest.fixture
async def stack(aiohttp_client: Any, sqlite_settings: Settings) -> AsyncIterator[OtaStack]:
    async for built in stack_of(aiohttp_client, sqlite_settings, phones=1,
                                por_timeout_s=5, max_attempts=2):
        await built.issue(built.phones[0], ["purse"])
        yield built


async def inject(stack: OtaStack, source: str, tp_ud: bytes) -> None:
    """An MO as if the phone had sent it: through the SMSC, to the service number."""
    assert stack.fleet is not None
    await stack.fleet.esme.submit_binary(SERVICE_NUMBER, [tp_ud], pid=0x7F, dcs=0xF6,
                                         source=source, registered_delivery=0)


async def alert_kinds(stack: OtaStack) -> list[str]:
    return [a.kind for a in await stack.alerts()]


async def test_forged_and_replayed_pors_are_refused_and_alerted(stack: OtaStack) -> None:
    phone = stack.phones[0]
    lost = lose_pors(phone, 10)  # the network loses every PoR: we deliver them by hand
    topup = await stack.topup(phone, 700)
    await eventually(lambda: lost.lost, what="the card's PoR")
    genuine = lost.lost[0]
    forged = genuine[:-1] + bytes((genuine[-1] ^ 0x01,))  # one bit of the ciphertext flipped
    await inject(stack, phone.msisdn, forged)
    await eventually(lambda: _has(stack, "bad_cc"), what="the bad CC alert")
    job = (await stack.ok("GET", f"/topups/{topup['id']}"))["job"]
    assert job["state"] in ("sent", "pending") and job["result"] is None  # untouched
    await inject(stack, phone.msisdn, genuine)
    done = await stack.topup_done(topup["id"])
    assert (done["state"], done["card_balance_fen"]) == ("confirmed", 700)
    await inject(stack, phone.msisdn, genuine)  # the same PoR again
    await eventually(lambda: _has(stack, "replayed_counter"), what="the replay alert")
    assert (await stack.topup_done(topup["id"]))["state"] == "confirmed"
    assert phone.balance == 700
    assert (await stack.card(phone))["balance_fen"] == 700
    alerts = await stack.ok("GET", "/ota/alerts")
    assert [a["kind"] for a in alerts["items"]] == ["bad_cc", "replayed_counter"]
    assert alerts["items"][1]["job_id"] == done["job_id"]
    metrics = await stack.api.call("GET", "/metrics", token=None)
    assert 'onecard_ota_alerts_total{kind="bad_cc"} 1' in metrics.body
    assert 'onecard_ota_alerts_total{kind="replayed_counter"} 1' in metrics.body


async def _has(stack: OtaStack, kind: str) -> bool:
    return kind in await alert_kinds(stack)


def por_for(stack: OtaStack, phone: Phone, counter: int, balance: int) -> bytes:
    """A correctly secured PoR with the card's own keys, for a counter of our choice."""
    keyset = derive_card_keyset(stack.master, phone.iccid)
    data = CompactResponse(1, 0x9000, CreditResult(balance, 9, False).encode()).encode()
    return build_por(COMMAND_SPI, keyset, TAR_ONECARD, counter, PorStatus.POR_OK, data)


async def test_a_counter_no_packet_used_is_refused(stack: OtaStack) -> None:
    phone = stack.phones[0]
    await inject(stack, phone.msisdn, por_for(stack, phone, 999_999, 1_000_000))
    await eventually(lambda: _has(stack, "unknown_counter"), what="the unknown counter alert")
    assert (await stack.card(phone))["balance_fen"] == 0
    stranger = new_msisdn()
    await inject(stack, stranger, por_for(stack, phone, 1, 5))
    await eventually(lambda: _has(stack, "unknown_sender"), what="the unknown sender alert")
    assert await alert_kinds(stack) == ["unknown_counter", "unknown_sender"]
