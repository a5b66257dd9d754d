"""The terminal-side purse protocol of the one-card applet: APDUs and MAC inputs, both roles.

PBOC-like (JR/T 0025 e-purse purchase, adapted to AES; see ``docs/sim_emulator-purchase.md``):

    terminal                                         card (purse sub-application selected)
    INITIALIZE FOR PURCHASE 80 50 01 02 0B  ─────▶   key version | amount | terminal id
                            ◀─────  balance | offline seq | overdraft | key ver | alg | random
    SAM: SK = KDF(DPK, random | offline seq | terminal seq); MAC1 = CMAC(SK, amount | 06 |
         terminal id | date | time)
    DEBIT FOR PURCHASE 80 54 01 00 0F  ──────────▶   terminal seq | date | time | MAC1
                            ◀─────  TAC | MAC2      (MAC2 = CMAC(SK, amount);
                                                     TAC = CMAC(DTK, record fields))

UNDO (撤销) of the last purchase by the same terminal is the same exchange with
``INITIALIZE FOR UNDO 80 50 03 02`` and ``UNDO PURCHASE 80 56 00 00``, transaction type '0A'.
Sans-I/O: encoders and decoders only; the card logic is in ``sim_emulator.onecard``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sim_emulator.cardkeys import mac, session_key
from sim_emulator.errors import WrongData, WrongLength

CLA = 0x80
INS_INITIALIZE = 0x50
INS_DEBIT = 0x54
INS_UNDO = 0x56
INS_AUTHENTICATE = 0x88
P1_PURCHASE = 0x01
P1_UNDO = 0x03
P2_PURSE = 0x02  # JR/T 0025: '02' electronic purse (EP), '01' electronic deposit (ED)
ALGORITHM_AES = 0x02  # algorithm identifier in the INITIALIZE response ('00' is 3DES in PBOC)
TERMINAL_ID_LENGTH = 6
LOG_RECORD_LENGTH = 23


class TransactionType(enum.IntEnum):
    """Transaction type octet in MAC inputs and log records (JR/T 0025 where it defines one)."""

    LOAD = 0x02  # 圈存: OTA credit
    PURCHASE = 0x06  # 消费
    UNDO = 0x0A  # 撤销 (ours: PBOC has no undo)


@dataclass(frozen=True, slots=True)
class InitializeCommand:
    undo: bool
    key_version: int
    amount: int
    terminal_id: bytes

    def encode(self) -> bytes:
        p1 = P1_UNDO if self.undo else P1_PURCHASE
        data = (bytes((self.key_version,)) + self.amount.to_bytes(4, "big") + self.terminal_id)
        return bytes((CLA, INS_INITIALIZE, p1, P2_PURSE, len(data))) + data + b"\x0f"

    @classmethod
    def decode(cls, p1: int, data: bytes) -> InitializeCommand:
        if len(data) != 11:
            raise WrongLength("INITIALIZE takes key version (1), amount (4), terminal id (6)")
        return cls(p1 == P1_UNDO, data[0], int.from_bytes(data[1:5], "big"), bytes(data[5:11]))


@dataclass(frozen=True, slots=True)
class InitializeResponse:
    balance: int
    offline_seq: int
    key_version: int
    random: bytes
    algorithm: int = ALGORITHM_AES

    def encode(self) -> bytes:
        return (self.balance.to_bytes(4, "big") + self.offline_seq.to_bytes(2, "big")
                + bytes(3) + bytes((self.key_version, self.algorithm)) + self.random)

    @classmethod
    def decode(cls, data: bytes) -> InitializeResponse:
        if len(data) != 15:
            raise WrongData(f"INITIALIZE response is 15 octets, got {len(data)}")
        return cls(int.from_bytes(data[:4], "big"), int.from_bytes(data[4:6], "big"), data[9],
                   bytes(data[11:15]), data[10])


@dataclass(frozen=True, slots=True)
class DebitCommand:
    """DEBIT FOR PURCHASE / UNDO PURCHASE: terminal seq, date and time (BCD), MAC1."""

    undo: bool
    terminal_seq: int
    date: str  # YYYYMMDD
    time: str  # hhmmss
    mac1: bytes

    def encode(self) -> bytes:
        data = self.fields() + self.mac1
        ins, p1 = (INS_UNDO, 0x00) if self.undo else (INS_DEBIT, 0x01)
        return bytes((CLA, ins, p1, 0x00, len(data))) + data + b"\x08"

    def fields(self) -> bytes:
        return self.terminal_seq.to_bytes(4, "big") + bcd(self.date, 4) + bcd(self.time, 3)

    @classmethod
    def decode(cls, undo: bool, data: bytes) -> DebitCommand:
        if len(data) != 15:
            raise WrongLength("DEBIT takes terminal seq (4), date (4), time (3), MAC1 (4)")
        date, time = data[4:8].hex(), data[8:11].hex()
        if not (date.isdigit() and time.isdigit()):
            raise WrongData("date and time must be BCD")
        return cls(undo, int.from_bytes(data[:4], "big"), date, time, bytes(data[11:15]))


def bcd(digits: str, length: int) -> bytes:
    if len(digits) != 2 * length or not digits.isdigit():
        raise WrongData(f"{digits!r} is not {2 * length} BCD digits")
    return bytes.fromhex(digits)


# -- MAC inputs (both roles compute the same bytes) ------------------------------------------


def purchase_session_key(dpk: bytes, random: bytes, offline_seq: int, terminal_seq: int) -> bytes:
    return session_key(dpk, b"onecard/purchase", random, offline_seq.to_bytes(2, "big"),
                       terminal_seq.to_bytes(4, "big"))


def mac1(sk: bytes, amount: int, kind: TransactionType, terminal_id: bytes, date: str,
         time: str) -> bytes:
    data = (amount.to_bytes(4, "big") + bytes((kind,)) + terminal_id + bcd(date, 4)
            + bcd(time, 3))
    return mac(sk, data)


def mac2(sk: bytes, amount: int) -> bytes:
    return mac(sk, amount.to_bytes(4, "big"))


def tac(dtk: bytes, amount: int, kind: TransactionType, terminal_id: bytes, terminal_seq: int,
        date: str, time: str, offline_seq: int, iccid_bcd: bytes) -> bytes:
    """Transaction authentication code: proves to the back office that this card did it."""
    data = (amount.to_bytes(4, "big") + bytes((kind,)) + terminal_id
            + terminal_seq.to_bytes(4, "big") + bcd(date, 4) + bcd(time, 3)
            + offline_seq.to_bytes(2, "big") + iccid_bcd)
    return mac(dtk, data)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record of EF.LOG (SFI '18', cyclic, 23 octets, record 1 the most recent)."""

    seq: int
    amount: int
    kind: TransactionType
    terminal_id: bytes
    date: str
    time: str

    def encode(self) -> bytes:
        return (self.seq.to_bytes(2, "big") + bytes(3) + self.amount.to_bytes(4, "big")
                + bytes((self.kind,)) + self.terminal_id + bcd(self.date, 4) + bcd(self.time, 3))

    @classmethod
    def decode(cls, data: bytes) -> LogRecord | None:
        """None for an unused record (all zero)."""
        if len(data) != LOG_RECORD_LENGTH:
            raise WrongData(f"log record is {LOG_RECORD_LENGTH} octets, got {len(data)}")
        if not any(data):
            return None
        try:
            kind = TransactionType(data[9])
        except ValueError:
            raise WrongData(f"unknown transaction type {data[9]:02X}") from None
        return cls(int.from_bytes(data[:2], "big"), int.from_bytes(data[5:9], "big"), kind,
                   bytes(data[10:16]), data[16:20].hex(), data[20:23].hex())
