"""smpp.mo: MO reassembly and the responses it holds (sans-I/O)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from smpp.errors import UdhError
from smpp.mo import MoAssembler, MoComplete, MoDuplicate, MoHeld
from smpp.pdus import DeliverSm, EsmClass
from smpp.text import split_text

TEXT = "一卡通应用删除：请输入服务密码。" * 10


def parts(text: str = TEXT, first_sequence: int = 1) -> list[DeliverSm]:
    return [
        DeliverSm(
            sequence=first_sequence + i,
            source_addr="8613800000001",
            destination_addr="10658888",
            esm_class=EsmClass.UDHI,
            data_coding=8,
            short_message=segment.short_message,
        )
        for i, segment in enumerate(split_text(text, reference=5))
    ]


def test_single_part_completes_at_once() -> None:
    step = MoAssembler().add(DeliverSm(sequence=9, short_message=b"hello"), now=0)
    assert isinstance(step, MoComplete)
    assert step.message.text == "hello" and step.sequences == (9,) and step.key is None


def test_parts_are_held_until_the_message_is_stored() -> None:
    assembler = MoAssembler(hold=2.0)
    first, second, third = parts()
    assert isinstance(assembler.add(first, now=0), MoHeld)
    assert isinstance(assembler.add(third, now=0.1), MoHeld)
    step = assembler.add(second, now=0.2)
    assert isinstance(step, MoComplete) and step.message.text == TEXT and step.message.parts == 3
    assert isinstance(assembler.add(first, now=0.3), MoHeld)  # resent while being stored
    assert sorted(assembler.settle(step, stored=True)) == [1, 1, 2, 3]
    assert isinstance(assembler.add(first, now=0.4), MoDuplicate)


def test_failed_store_is_offered_again_on_the_smsc_retry() -> None:
    assembler = MoAssembler()
    pdus = parts()
    for pdu in pdus[:-1]:
        assembler.add(pdu, now=0)
    step = assembler.add(pdus[-1], now=0)
    assert isinstance(step, MoComplete)
    assert sorted(assembler.settle(step, stored=False)) == [1, 2, 3]
    retry = assembler.add(pdus[0], now=5)
    assert isinstance(retry, MoComplete) and retry.message == step.message
    assert isinstance(assembler.add(pdus[1], now=5), MoHeld)
    assert sorted(assembler.settle(retry, stored=True)) == [1, 2]
    assert isinstance(assembler.add(pdus[2], now=6), MoDuplicate)


def test_hold_runs_out() -> None:
    assembler = MoAssembler(hold=1.0)
    first, _, _ = parts()
    assembler.add(first, now=0)
    assert assembler.release(now=0.5) == []
    assert assembler.release(now=1.0) == [1]
    assert assembler.release(now=2.0) == []


def test_sar_tlvs_and_binary_payloads() -> None:
    assembler = MoAssembler()
    common = {
        "source_addr": "1",
        "destination_addr": "2",
        "data_coding": 0xF6,
        "protocol_id": 0x7F,
        "sar_msg_ref_num": 300,
        "sar_total_segments": 2,
    }
    assembler.add(
        DeliverSm(sequence=1, short_message=b"\x01\x02", sar_segment_seqnum=1, **common), 0
    )
    step = assembler.add(
        DeliverSm(sequence=2, short_message=b"\x03", sar_segment_seqnum=2, **common), 0
    )
    assert isinstance(step, MoComplete)
    assert step.message.payload == b"\x01\x02\x03" and step.message.text is None


def test_a_broken_udh_is_refused_with_its_status() -> None:
    with pytest.raises(UdhError):
        MoAssembler().add(DeliverSm(sequence=1, esm_class=0x40, short_message=b"\x07\x00"), now=0)


def test_expiry_drops_incomplete_messages() -> None:
    assembler = MoAssembler(ttl=10)
    assembler.add(parts()[0], now=0)
    assert assembler.expire(now=5) == 0
    assert assembler.expire(now=11) == 1


SANS_IO = ["codec", "fastcodec", "pdus", "session", "receipts", "mo", "throttle", "frozen"]


@pytest.mark.parametrize("module", SANS_IO)
def test_codecs_import_no_io(module: str) -> None:
    """The sans-I/O rule (DESIGN.md): codecs import no asyncio, sockets or database."""
    source = Path(__file__).parents[2] / "smpp" / f"{module}.py"
    tree = ast.parse(source.read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert not imported & {"asyncio", "socket", "selectors", "sqlalchemy", "aiohttp"}
