"""smpp.receipts: receipt text, message_id normalisation, part tracking with orphans."""

from __future__ import annotations

from datetime import datetime

import pytest

from smpp.pdus import DeliverSm, MessageState
from smpp.receipts import (
    IdFormat,
    IdPolicy,
    ReceiptError,
    ReceiptTracker,
    format_receipt_text,
    normalise_message_id,
    parse_receipt_text,
    receipt_from_pdu,
)
from smpp.status import CommandStatus

SUBMITTED = datetime(2026, 11, 25, 15, 30)
DONE = datetime(2026, 11, 25, 15, 31)


def test_format_and_parse_appendix_b() -> None:
    text = format_receipt_text("0000002A", MessageState.DELIVERED, SUBMITTED, DONE)
    assert text == (
        b"id:0000002A sub:001 dlvrd:001 submit date:2611251530 done date:2611251531 "
        b"stat:DELIVRD err:000 text:"
    )
    parsed = parse_receipt_text(text)
    assert (parsed.message_id, parsed.stat, parsed.err) == ("0000002A", "DELIVRD", "000")
    assert (parsed.submitted, parsed.delivered) == (1, 1)
    assert (parsed.submit_date, parsed.done_date) == (SUBMITTED, DONE)


@pytest.mark.parametrize(
    ("text", "message_id", "stat", "done"),
    [
        (
            b"id:7 sub:1 dlvrd:0 submit date:2611251530 done date:261125153107 stat:UNDELIV err:12 "
            b"Text:hello world",
            "7",
            "UNDELIV",
            datetime(2026, 11, 25, 15, 31, 7),
        ),
        (b"ID:abc STAT:EXPIRED ERR:0", "abc", "EXPIRED", None),
        (b"stat:DELIVRD id:99 done date:bogus", "99", "DELIVRD", None),
        (b"nothing useful", "", "", None),
        (b"", "", "", None),
    ],
)
def test_lenient_parse(text: bytes, message_id: str, stat: str, done: datetime | None) -> None:
    parsed = parse_receipt_text(text)
    assert (parsed.message_id, parsed.stat, parsed.done_date) == (message_id, stat, done)


@pytest.mark.parametrize(
    ("raw", "fmt", "key"),
    [
        ("0000002A", IdFormat.HEX, "42"),
        ("2a", IdFormat.HEX, "42"),
        ("0042", IdFormat.DECIMAL, "42"),
        ("42", IdFormat.DECIMAL, "42"),
        (" AbC-1 ", IdFormat.TEXT, "abc-1"),
        ("not-hex", IdFormat.HEX, "not-hex"),
        ("12x", IdFormat.DECIMAL, "12x"),
    ],
)
def test_normalise_message_id(raw: str, fmt: IdFormat, key: str) -> None:
    assert normalise_message_id(raw, fmt) == key


def test_policy_hex_response_decimal_receipt_text() -> None:
    policy = IdPolicy(response=IdFormat.HEX, receipt_text=IdFormat.DECIMAL)
    assert policy.from_response("0000002A") == policy.from_text("0000000042") == "42"
    assert policy.from_tlv("2a") == "42"


def _receipt_pdu(**fields: object) -> DeliverSm:
    base: dict[str, object] = {
        "source_addr": "8613800000000",
        "destination_addr": "10658888",
        "esm_class": 4,
        "short_message": format_receipt_text(
            "1F", MessageState.UNDELIVERABLE, SUBMITTED, DONE, err=5
        ),
    }
    base.update(fields)
    return DeliverSm(**base)  # type: ignore[arg-type]


def test_receipt_prefers_tlvs() -> None:
    policy = IdPolicy(response=IdFormat.HEX)
    receipt = receipt_from_pdu(
        _receipt_pdu(receipted_message_id="0000001f", message_state=2), policy
    )
    assert (receipt.message_id, receipt.raw_message_id) == ("31", "0000001f")
    assert receipt.state is MessageState.DELIVERED and receipt.delivered
    assert (receipt.submitted_at, receipt.done_at, receipt.error) == (SUBMITTED, DONE, 5)
    assert (receipt.source, receipt.destination) == ("8613800000000", "10658888")


def test_receipt_from_text_alone() -> None:
    receipt = receipt_from_pdu(_receipt_pdu(), IdPolicy(response=IdFormat.HEX))
    assert receipt.message_id == "31" and receipt.state is MessageState.UNDELIVERABLE


def test_receipt_error_from_network_error_code() -> None:
    pdu = _receipt_pdu(short_message=b"id:1 stat:UNDELIV", network_error_code=b"\x03\x00\x22")
    assert receipt_from_pdu(pdu, IdPolicy()).error == 0x22


def test_receipt_without_id_is_refused_permanently() -> None:
    with pytest.raises(ReceiptError) as info:
        receipt_from_pdu(_receipt_pdu(short_message=b"stat:DELIVRD"), IdPolicy())
    assert info.value.command_status == CommandStatus.ESME_RX_P_APPN


def _receipt(message_id: str, state: MessageState = MessageState.DELIVERED):  # type: ignore[no-untyped-def]
    pdu = _receipt_pdu(receipted_message_id=message_id, message_state=state)
    return receipt_from_pdu(pdu, IdPolicy())


def test_tracker_completes_when_every_part_is_final() -> None:
    tracker = ReceiptTracker()
    tracker.track("m", 2, now=0)
    assert tracker.part_accepted("m", 1, "a", now=0) is None
    assert tracker.part_accepted("m", 2, "b", now=0) is None
    assert tracker.receipt(_receipt("a"), now=1) == (True, None)
    assert tracker.receipt(_receipt("b", MessageState.ENROUTE), now=1) == (True, None)
    matched, outcome = tracker.receipt(_receipt("b"), now=2)
    assert matched and outcome is not None
    assert outcome.delivered and outcome.message_ids == ("a", "b")
    assert len(tracker) == 0


def test_tracker_one_undelivered_part_fails_the_message() -> None:
    tracker = ReceiptTracker()
    tracker.track("m", 2, now=0)
    tracker.part_accepted("m", 1, "a", now=0)
    tracker.part_accepted("m", 2, "b", now=0)
    tracker.receipt(_receipt("a"), now=1)
    _, outcome = tracker.receipt(_receipt("b", MessageState.UNDELIVERABLE), now=1)
    assert outcome is not None and not outcome.delivered
    assert outcome.state is MessageState.UNDELIVERABLE


def test_early_receipt_waits_as_orphan() -> None:
    tracker = ReceiptTracker(orphan_ttl=10)
    tracker.track("m", 1, now=0)
    assert tracker.receipt(_receipt("a"), now=0) == (False, None)
    assert tracker.orphans == 1
    outcome = tracker.part_accepted("m", 1, "a", now=1)
    assert outcome is not None and outcome.delivered and tracker.orphans == 0


def test_orphans_and_messages_expire() -> None:
    tracker = ReceiptTracker(orphan_ttl=10, message_ttl=100)
    tracker.track("m", 2, now=0)
    tracker.part_accepted("m", 1, "a", now=0)
    tracker.receipt(_receipt("a"), now=0)
    tracker.receipt(_receipt("zz"), now=5)
    assert tracker.expire(now=14) == ([], [])
    outcomes, orphans = tracker.expire(now=16)
    assert outcomes == [] and [o.message_id for o in orphans] == ["zz"]
    outcomes, _ = tracker.expire(now=100)
    assert len(outcomes) == 1 and outcomes[0].receipts[1] is None
    assert outcomes[0].state is MessageState.UNKNOWN and not outcomes[0].delivered
