"""The SAM of a terminal (PSAM): the terminal's side of the purse and credential crypto.

A SAM holds one enterprise's SAM master key; it diversifies each card's keys from the ICCID the
card reports (``sim_emulator.cardkeys``), counts the terminal's transaction sequence number,
computes MAC1 and checks MAC2, the TAC and credential MACs. Sans-I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim_emulator.cardkeys import EnterpriseKeys, derive_enterprise_keys, mac, macs_equal
from sim_emulator.encoding import encode_iccid
from sim_emulator.purchase import (
    InitializeResponse,
    TransactionType,
    mac1,
    mac2,
    purchase_session_key,
    tac,
)


@dataclass(frozen=True, slots=True)
class PurchaseAuth:
    """What the SAM hands the terminal for one DEBIT: its sequence number, MAC1, session key."""

    terminal_seq: int
    mac1: bytes
    session_key: bytes = field(repr=False)


@dataclass
class Sam:
    enterprise_id: int
    master: bytes = field(repr=False)
    terminal_id: bytes
    sequence: int = 0  # the terminal transaction sequence number of the last DEBIT
    key_version: int = 1

    def keys_for(self, iccid: str) -> EnterpriseKeys:
        return derive_enterprise_keys(self.master, iccid, self.enterprise_id, self.key_version)

    def authorise(self, iccid: str, init: InitializeResponse, amount: int,
                  kind: TransactionType, date: str, time: str) -> PurchaseAuth:
        self.sequence = (self.sequence + 1) & 0xFFFFFFFF
        keys = self.keys_for(iccid)
        sk = purchase_session_key(keys.purchase, init.random, init.offline_seq, self.sequence)
        return PurchaseAuth(self.sequence,
                            mac1(sk, amount, kind, self.terminal_id, date, time), sk)

    @staticmethod
    def check_mac2(auth: PurchaseAuth, amount: int, received: bytes) -> bool:
        return macs_equal(received, mac2(auth.session_key, amount))

    def check_tac(self, iccid: str, received: bytes, amount: int, kind: TransactionType,
                  terminal_seq: int, date: str, time: str, offline_seq: int) -> bool:
        expected = tac(self.keys_for(iccid).tac, amount, kind, self.terminal_id, terminal_seq,
                       date, time, offline_seq, encode_iccid(iccid))
        return macs_equal(received, expected)

    def check_credential(self, iccid: str, aid: bytes, challenge: bytes, body: bytes,
                         received: bytes) -> bool:
        """``challenge`` is terminal id (6) and terminal random (8), as sent to the card."""
        expected = mac(self.keys_for(iccid).credential, aid + challenge + body, 8)
        return macs_equal(received, expected)
