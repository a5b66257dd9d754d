"""Terminals against the card: PBOC-like purchase and undo, door and attendance credentials,
blacklists, limits, MAC failures, and the log terminals read."""

from __future__ import annotations

import datetime

import pytest

from ota.onecard_apdu import Credit, SetStatus, SubApp
from sim_emulator.card import SimCard
from sim_emulator.desk import PersonalisationPlan, SubAppPlan, personalise
from sim_emulator.errors import ReaderError, TerminalError
from sim_emulator.purchase import LogRecord, TransactionType
from sim_emulator.sam import Sam
from sim_emulator.sw import Sw
from sim_emulator.terminals import AccessTerminal, Blacklist, PosTerminal, terminal_id_of
from sim_emulator.transport import InMemoryTransport
from tests.sim_emulator.helpers import OtaSender, fresh_card, run

MASTER = bytes(range(16))
NOON = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def issued() -> tuple[SimCard, OtaSender]:
    card, secrets = fresh_card()
    personalise(InMemoryTransport(card), PersonalisationPlan(
        enterprise_id=7, sam_master=MASTER, transport_key=secrets.transport_key,
        per_purchase_limit=5_000, daily_limit=8_000,
        sub_apps=(SubAppPlan(SubApp.PURSE, "1001", b"cred", 100_000),
                  SubAppPlan(SubApp.DOOR, "1001", b"door", valid_until=datetime.date(2030, 1, 1)),
                  SubAppPlan(SubApp.ATTENDANCE, "1001", b"attn"))))
    sender = OtaSender(card, secrets.ota)
    sender.onecard(Credit(10_000, b"t" * 16))
    return card, sender


def pos(code: str = "000000000031") -> PosTerminal:
    return PosTerminal(code, Sam(7, MASTER, terminal_id_of(code)))


def test_purchase_debits_and_proves_it(issued: tuple[SimCard, OtaSender]) -> None:
    card, _ = issued
    terminal = pos()
    link = InMemoryTransport(card)
    record = terminal.purchase(link, 1_250, NOON)
    assert (record.kind, record.amount_fen, record.card_balance_fen) == ("purchase", 1250, 8750)
    assert terminal.balance(link) == 8_750
    assert record.tac is not None and len(record.tac) == 8
    log = [LogRecord.decode(run(card, f"00b2{n:02x}c417")[0]) for n in (1, 2)]
    assert log[0] == LogRecord(0, 1250, TransactionType.PURCHASE, terminal_id_of(terminal.code),
                               "20250301", "120000")
    assert log[1] is not None and log[1].kind is TransactionType.LOAD
    api = record.to_api()
    assert api["type"] == "purchase" and api["seq"] == 1 and "tac" not in api


def test_undo_only_last_purchase_same_terminal(issued: tuple[SimCard, OtaSender]) -> None:
    card, _ = issued
    link = InMemoryTransport(card)
    first, other = pos(), pos("000000000032")
    sale = first.purchase(link, 1_000, NOON)
    with pytest.raises(TerminalError):
        other.undo(link, NOON)  # this terminal sold nothing
    other.last_sale = first.last_sale
    with pytest.raises(ReaderError) as info:
        other.undo(link, NOON)  # the card knows which terminal made the purchase
    assert info.value.status_word == Sw.CONDITIONS_NOT_SATISFIED
    undo = first.undo(link, NOON)
    assert (undo.kind, undo.undo_seq, undo.card_balance_fen) == ("undo", sale.seq, 10_000)
    with pytest.raises(TerminalError):
        first.undo(link, NOON)  # once only
    first.last_sale = other.last_sale
    with pytest.raises(ReaderError):
        first.undo(link, NOON)


def test_limits_and_funds(issued: tuple[SimCard, OtaSender]) -> None:
    card, sender = issued
    sender.onecard(Credit(10_000, b"u" * 16))  # balance 20,000
    link = InMemoryTransport(card)
    terminal = pos()
    day = datetime.timedelta(days=1)

    def refused(amount: int, when: datetime.datetime) -> int:
        with pytest.raises(ReaderError) as info:
            terminal.purchase(link, amount, when)
        return info.value.status_word

    assert refused(5_001, NOON) == 0x9402  # per-purchase limit 5,000
    terminal.purchase(link, 5_000, NOON)
    assert refused(3_001, NOON) == 0x9402  # daily limit 8,000
    terminal.purchase(link, 5_000, NOON + day)  # a new day, a new allowance
    terminal.purchase(link, 3_000, NOON + day)
    # A terminal with its clock in the past does not reopen the allowance.
    assert refused(1, NOON) == 0x9402
    terminal.purchase(link, 5_000, NOON + 2 * day)  # balance now 2,000
    assert refused(2_001, NOON + 3 * day) == Sw.INSUFFICIENT_FUNDS
    assert terminal.balance(link) == 2_000


def test_wrong_sam_key_fails_mac1(issued: tuple[SimCard, OtaSender]) -> None:
    card, _ = issued
    forger = PosTerminal("000000000033", Sam(7, bytes(16), terminal_id_of("000000000033")))
    with pytest.raises(ReaderError) as info:
        forger.purchase(InMemoryTransport(card), 100, NOON)
    assert info.value.status_word == Sw.MAC_INVALID
    assert pos().balance(InMemoryTransport(card)) == 10_000


def test_debit_must_follow_initialize(issued: tuple[SimCard, OtaSender]) -> None:
    card, _ = issued
    run(card, "00a4040009" + SubApp.PURSE.aid.hex())
    assert run(card, "805401000f" + "00" * 15 + "08")[1] == Sw.CONDITIONS_NOT_SATISFIED
    assert run(card, "805001020b01000000000000000000003100")[1] == Sw.WRONG_LENGTH
    assert run(card, "805001020b0100000064000000000031" + "0f")[1] == Sw.OK
    assert run(card, "805c000200")[1] == Sw.OK  # anything in between drops the INITIALIZE
    assert run(card, "805401000f" + "00" * 15 + "08")[1] == Sw.CONDITIONS_NOT_SATISFIED
    assert run(card, "805002020b0100000064000000000031")[1] == Sw.WRONG_P1P2
    assert run(card, "805001020b0900000064000000000031")[1] == Sw.KEY_INDEX_UNKNOWN


def test_locked_purse_refuses_terminals(issued: tuple[SimCard, OtaSender]) -> None:
    card, sender = issued
    sender.onecard(SetStatus(SubApp.PURSE, locked=True))
    with pytest.raises(TerminalError) as info:
        pos().purchase(InMemoryTransport(card), 100, NOON)
    assert info.value.status_word == Sw.APP_LOCKED
    assert run(card, "805001020b0100000064000000000031")[1] == Sw.APP_LOCKED


def test_door_and_attendance(issued: tuple[SimCard, OtaSender]) -> None:
    card, sender = issued
    link = InMemoryTransport(card)
    door = AccessTerminal("000000000041", Sam(7, MASTER, terminal_id_of("000000000041")))
    record = door.present(link, NOON)
    assert (record.kind, record.result, record.direction, record.member_number) == (
        "door", "granted", "in", "1001")
    clock = AccessTerminal("000000000042", Sam(7, MASTER, terminal_id_of("000000000042")),
                           SubApp.ATTENDANCE)
    assert clock.present(link, NOON).result == "granted"
    late = door.present(link, datetime.datetime(2031, 1, 1, tzinfo=datetime.UTC))
    assert (late.result, late.reason) == ("denied", "expired")
    other = AccessTerminal("000000000043", Sam(8, MASTER, terminal_id_of("000000000043")))
    assert other.present(link, NOON).reason == "other enterprise"
    forged = AccessTerminal("000000000044", Sam(7, bytes(16), terminal_id_of("000000000044")))
    assert forged.present(link, NOON).reason == "bad credential"
    sender.onecard(SetStatus(SubApp.DOOR, locked=True))
    assert door.present(link, NOON).reason == "locked"
    assert [r.seq for r in door.take_pending()] == [1, 2, 3]


def test_blacklist_deltas(issued: tuple[SimCard, OtaSender]) -> None:
    card, _ = issued
    link = InMemoryTransport(card)
    iccid = card.state.iccid
    blacklist = Blacklist()
    blacklist.apply({"version": 3, "full": True, "entries": [
        {"version": 3, "iccid": iccid, "app": None, "action": "add"}]})
    door = AccessTerminal("000000000041", Sam(7, MASTER, terminal_id_of("000000000041")),
                          blacklist=blacklist)
    assert door.present(link, NOON).reason == "blacklisted"
    terminal = pos()
    terminal.blacklist = blacklist
    with pytest.raises(TerminalError):
        terminal.purchase(link, 100, NOON)
    blacklist.apply({"version": 4, "full": False, "entries": [
        {"version": 4, "iccid": iccid, "app": None, "action": "remove"}]})
    assert door.present(link, NOON).result == "granted"
    blacklist.apply({"version": 5, "entries": [
        {"version": 5, "iccid": iccid, "app": "door", "action": "add"}]})
    assert door.present(link, NOON).reason == "blacklisted"
    assert terminal.purchase(link, 100, NOON).kind == "purchase"
    assert blacklist.version == 5


def test_card_without_the_application(issued: tuple[SimCard, OtaSender]) -> None:
    card, _ = fresh_card()
    with pytest.raises(TerminalError) as info:
        pos().purchase(InMemoryTransport(card), 100, NOON)
    assert info.value.status_word == Sw.FILE_NOT_FOUND
