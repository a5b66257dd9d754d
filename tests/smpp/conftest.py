"""Fixtures for the SMPP tests that run over real TCP on loopback."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from smpp import codec
from smpp.client import Esme, EsmeConfig
from smpp.pdus import BindTransceiver, Pdu
from smpp.simulator import Smsc, SmscConfig, User

GATEWAY = User("gateway", "secret")
HANDSET = User("handset", "hs")
SERVICE_NUMBER = "10658888"
MSISDN = "8613800000001"

# Short timers: the faults must show up within a test, not within a production interval.
FAST_ESME = EsmeConfig(
    system_id=GATEWAY.system_id,
    password=GATEWAY.password,
    source_addr=SERVICE_NUMBER,
    response_timeout=2.0,
    reconnect_initial=0.05,
    reconnect_max=0.2,
    already_bound_delay=0.1,
    throttle_initial=0.02,
    throttle_max=0.1,
    mo_hold=0.5,
)


@pytest.fixture
async def start_smsc() -> AsyncIterator[Callable[..., Awaitable[Smsc]]]:
    started: list[Smsc] = []

    async def start(**overrides: Any) -> Smsc:
        config = SmscConfig(port=0, users=(GATEWAY, HANDSET), retry_interval=0.1, **overrides)
        smsc = Smsc(config)
        await smsc.start()
        started.append(smsc)
        return smsc

    yield start
    for smsc in started:
        await smsc.stop(timeout=0.5)


@pytest.fixture
async def start_esme() -> AsyncIterator[Callable[..., Awaitable[Esme]]]:
    started: list[Esme] = []

    async def start(
        smsc_port: int, *, on_receipt: Any = None, on_mo: Any = None, **overrides: Any
    ) -> Esme:
        config = replace(FAST_ESME, port=smsc_port, **overrides)
        esme = Esme(config, on_receipt=on_receipt, on_mo=on_mo)
        await esme.start(timeout=5)
        started.append(esme)
        return esme

    yield start
    for esme in started:
        await esme.stop(timeout=0.5)


class RawClient:
    """A bare TCP client speaking PDUs through our codec only: for malformed-input tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def send(self, pdu: Pdu) -> None:
        self.writer.write(codec.encode(pdu))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def receive(self, timeout: float = 3.0) -> Pdu:
        header = await asyncio.wait_for(self.reader.readexactly(16), timeout)
        (length,) = struct.unpack(">I", header[:4])
        body = await asyncio.wait_for(self.reader.readexactly(length - 16), timeout)
        return codec.decode(header + body)

    async def closed(self, timeout: float = 3.0) -> bool:
        return await asyncio.wait_for(self.reader.read(1), timeout) == b""

    async def bind(self, user: User = GATEWAY, address_range: str = "") -> Pdu:
        self.send(
            BindTransceiver(
                sequence=1,
                system_id=user.system_id,
                password=user.password,
                address_range=address_range,
            )
        )
        return await self.receive()

    def close(self) -> None:
        self.writer.close()
