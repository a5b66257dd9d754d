"""The one-card (一卡通) applet: sub-applications, purse, credentials, issuing, OTA commands.

Three doors into the same state:

- **Over the air** (TAR ``ONE`` / ``000000``, via ``sim_emulator.ota_applet``): the commands of
  ``ota.onecard_apdu`` -- INSTALL, PERSONALISE, SET STATUS (lock / unlock), DELETE,
  GET STATUS, CREDIT, READ BALANCE. CREDIT is accepted nowhere else.
- **Terminals** (door, attendance, POS, over PC/SC or in-process): SELECT a sub-application by
  AID, then READ BALANCE, the PBOC-like purchase and undo (``sim_emulator.purchase``), the
  credential authentication, READ RECORD of the transaction log.
- **The issuing desk** (``sim_emulator.issuing``): mutual authentication with the transport key,
  then ciphered and MACed PUT KEY / PUT DATA and wrapped sub-application commands.

A locked sub-application (挂失) still selects, with '6283' so terminals can read who it is;
every transaction on it answers '9303'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ota.errors import ApduFormatError, FormatError, OtaError
from ota.onecard_apdu import (
    APPLET_AID,
    BalanceResult,
    Credit,
    CreditResult,
    Delete,
    GetStatus,
    Install,
    LifeCycle,
    OneCardCommand,
    Personalise,
    ReadBalance,
    SetStatus,
    StatusEntry,
    SubApp,
    decode_command,
    encode_status,
    split_apdus,
)
from ota.onecard_apdu import (
    CommandApdu as OtaApdu,
)
from ota.remote import ber_tlv
from sim_emulator import files, purchase
from sim_emulator.apdu import CommandApdu
from sim_emulator.applet import Applet
from sim_emulator.cardkeys import EnterpriseKeys, mac, macs_equal
from sim_emulator.encoding import encode_iccid
from sim_emulator.errors import (
    ApplicationLocked,
    CardError,
    ConditionsNotSatisfied,
    DataNotFound,
    FileNotFound,
    InsNotSupported,
    KeyNotFound,
    MacInvalid,
    SecurityNotSatisfied,
    SimError,
    WrongLength,
    WrongP1P2,
)
from sim_emulator.files import push_cyclic
from sim_emulator.filesystem import Ef
from sim_emulator.issuing_card import IssuingMixin
from sim_emulator.onecard_state import OneCardState, SubAppState
from sim_emulator.sw import Sw

if TYPE_CHECKING:
    from sim_emulator.card import SimCard


@dataclass(frozen=True, slots=True)
class _Pending:
    """An INITIALIZE waiting for its DEBIT / UNDO (volatile, consumed by the next command)."""

    undo: bool
    amount: int
    terminal_id: bytes
    random: bytes
    offline_seq: int
    keys: EnterpriseKeys


class OneCardApplet(IssuingMixin, Applet):
    name = "onecard"

    def __init__(self, state: OneCardState, iccid: str) -> None:
        super().__init__()
        self.state = state
        self.iccid_bcd = encode_iccid(iccid)
        self._pending: _Pending | None = None

    def dump(self) -> dict[str, Any]:
        return self.state.to_dict()

    def on_reset(self, card: SimCard) -> None:
        self._pending = None
        self.close_session()

    # -- selection ------------------------------------------------------------------------

    def selectable(self, aid: bytes) -> bool:
        return APPLET_AID.startswith(aid) or (aid.startswith(APPLET_AID) and len(aid) == 9)

    def select(self, card: SimCard, channel: files.Channel, apdu: CommandApdu) -> bytes:
        aid = self._full_aid(apdu.data)
        adf = card.state.fs.adf_by_aid(APPLET_AID)
        channel.select_node(adf)
        channel.aid = aid
        self._pending = None
        self.close_session()
        fci = self._fci(aid)
        sub = self._sub_of(aid)
        if sub is not None and sub.locked:
            raise files.WithWarning(fci if apdu.p2 & 0x0C != 0x0C else b"", Sw.FILE_INVALIDATED)
        return fci if apdu.p2 & 0x0C != 0x0C else b""

    def _full_aid(self, partial: bytes) -> bytes:
        if APPLET_AID.startswith(partial):
            return APPLET_AID
        app = self._app_of(partial)
        if app not in self.state.sub_apps:
            raise FileNotFound(f"sub-application {partial.hex().upper()} is not installed")
        return partial

    @staticmethod
    def _app_of(aid: bytes) -> SubApp | None:
        try:
            return SubApp.from_aid(aid)
        except ApduFormatError:
            return None

    def _sub_of(self, aid: bytes) -> SubAppState | None:
        app = self._app_of(aid)
        return None if app is None else self.state.sub_apps.get(app)

    def _fci(self, aid: bytes) -> bytes:
        """FCI template '6F' (ISO 7816-4 5.3.3): DF name '84', proprietary data 'A5'.

        'A5' holds one-octet context tags only (layout in docs/sim_emulator-purchase.md):
        '5A' ICCID, 'CB' applet version, and for a sub-application 'CA' life cycle (GP
        coding), 'C9' enterprise id, 'C1' member number.
        """
        info = ber_tlv(0x5A, self.iccid_bcd) + ber_tlv(0xCB, b"\x01")
        sub = self._sub_of(aid)
        if sub is not None:
            info += (ber_tlv(0xCA, bytes((sub.life_cycle,)))
                     + ber_tlv(0xC9, sub.enterprise_id.to_bytes(4, "big")))
            if sub.member_number:
                info += ber_tlv(0xC1, sub.member_number.encode())
        return ber_tlv(0x6F, ber_tlv(0x84, aid) + ber_tlv(0xA5, info))

    # -- terminal commands ----------------------------------------------------------------

    def process(self, card: SimCard, apdu: CommandApdu, aid: bytes) -> bytes:
        pending, self._pending = self._pending, None
        if aid == APPLET_AID:
            return self.issuing_command(card, apdu)
        if apdu.cla & 0xF0 != 0x80:
            raise InsNotSupported(f"CLA {apdu.cla:02X} INS {apdu.ins:02X} not supported here")
        app = self._app_of(aid)
        if apdu.ins == 0x52:
            raise SecurityNotSatisfied("CREDIT is accepted only over the OTA secured channel")
        if app is SubApp.PURSE:
            return self._purse_command(card, apdu, pending)
        if apdu.ins == purchase.INS_AUTHENTICATE:
            return self._authenticate(aid, apdu)
        raise InsNotSupported(f"INS {apdu.ins:02X} not supported by sub-application {aid.hex()}")

    def _usable(self, app: SubApp) -> SubAppState:
        sub = self.state.sub_apps.get(app)
        if sub is None:
            raise FileNotFound(f"{app.name} is not installed")
        if sub.locked:
            raise ApplicationLocked(f"{app.name} is locked")
        if not sub.personalised:
            raise ConditionsNotSatisfied(f"{app.name} is not personalised")
        return sub

    def _keys(self, sub: SubAppState) -> EnterpriseKeys:
        keys = self.state.keys.get(sub.enterprise_id)
        if keys is None:
            raise KeyNotFound(f"no keys of enterprise {sub.enterprise_id} on this card")
        return keys

    def _purse_command(self, card: SimCard, apdu: CommandApdu, pending: _Pending | None) -> bytes:
        if apdu.ins == 0x5C:
            self._ota_apdu(apdu)  # same format as over the air
            return self._read_balance()
        if apdu.ins == purchase.INS_INITIALIZE:
            return self._initialize(card, apdu)
        if apdu.ins in (purchase.INS_DEBIT, purchase.INS_UNDO):
            return self._debit(card, apdu, pending)
        raise InsNotSupported(f"INS {apdu.ins:02X} not supported by the purse")

    def _initialize(self, card: SimCard, apdu: CommandApdu) -> bytes:
        if apdu.p1 not in (purchase.P1_PURCHASE, purchase.P1_UNDO) or apdu.p2 != purchase.P2_PURSE:
            raise WrongP1P2("INITIALIZE P1 is 01 (purchase) or 03 (undo), P2 02 (purse)")
        command = purchase.InitializeCommand.decode(apdu.p1, apdu.data)
        sub = self._usable(SubApp.PURSE)
        keys = self._keys(sub)
        if command.key_version != keys.version:
            raise KeyNotFound(f"key version {command.key_version} is not installed")
        purse = self.state.purse
        if command.undo:
            purse.check_undo(command.amount, command.terminal_id)
        else:
            purse.check_purchase(command.amount, None)
        random = card.random(4)
        self._pending = _Pending(command.undo, command.amount, command.terminal_id, random,
                                 purse.offline_seq, keys)
        return purchase.InitializeResponse(purse.balance, purse.offline_seq, keys.version,
                                           random).encode()

    def _debit(self, card: SimCard, apdu: CommandApdu, pending: _Pending | None) -> bytes:
        undo = apdu.ins == purchase.INS_UNDO
        command = purchase.DebitCommand.decode(undo, apdu.data)
        if pending is None or pending.undo != undo:
            raise ConditionsNotSatisfied("DEBIT / UNDO must follow its INITIALIZE")
        sub = self._usable(SubApp.PURSE)
        kind = purchase.TransactionType.UNDO if undo else purchase.TransactionType.PURCHASE
        sk = purchase.purchase_session_key(pending.keys.purchase, pending.random,
                                           pending.offline_seq, command.terminal_seq)
        expected = purchase.mac1(sk, pending.amount, kind, pending.terminal_id, command.date,
                                 command.time)
        if not macs_equal(command.mac1, expected):
            raise MacInvalid("MAC1 does not verify")
        if sub.valid_until and command.date > sub.valid_until:
            raise ConditionsNotSatisfied("the purse has expired")
        purse = self.state.purse
        if undo:
            seq = purse.undo(pending.amount, pending.terminal_id)
        else:
            seq = purse.debit(pending.amount, pending.terminal_id, command.date)
        record = purchase.LogRecord(seq, pending.amount, kind, pending.terminal_id,
                                    command.date, command.time)
        self._log(card, record)
        tac = purchase.tac(pending.keys.tac, pending.amount, kind, pending.terminal_id,
                           command.terminal_seq, command.date, command.time, seq,
                           self.iccid_bcd)
        return tac + purchase.mac2(sk, pending.amount)

    @staticmethod
    def _log(card: SimCard, record: purchase.LogRecord) -> None:
        adf = card.state.fs.adf_by_aid(APPLET_AID)
        node = adf.children.get(0xEF18)
        if isinstance(node, Ef):
            push_cyclic(node, record.encode())

    def _authenticate(self, aid: bytes, apdu: CommandApdu) -> bytes:
        """Door / attendance credential: member data MACed with the enterprise's DCK."""
        if apdu.p1p2 != 0:
            raise WrongP1P2("AUTHENTICATE P1 P2 must be 00 00")
        if len(apdu.data) != purchase.TERMINAL_ID_LENGTH + 8:
            raise WrongLength("AUTHENTICATE takes terminal id (6) and terminal random (8)")
        app = self._app_of(aid)
        assert app is not None
        sub = self._usable(app)
        keys = self._keys(sub)
        sub.auth_counter = (sub.auth_counter + 1) & 0xFFFF
        body = (ber_tlv(0xC1, sub.member_number.encode()) + ber_tlv(0xC2, sub.credential)
                + ber_tlv(0xC9, sub.enterprise_id.to_bytes(4, "big"))
                + ber_tlv(0xC8, sub.auth_counter.to_bytes(2, "big"))
                + ber_tlv(0x5A, self.iccid_bcd))
        if sub.valid_until:
            body += ber_tlv(0xC4, bytes.fromhex(sub.valid_until))
        tag = mac(keys.credential, aid + apdu.data + body, 8)
        return body + ber_tlv(0x8E, tag)

    # -- over the air (RemoteApplication) -------------------------------------------------

    def split_script(self, data: bytes) -> list[bytes]:
        return [apdu.encode() for apdu in split_apdus(data)]

    def run_remote(self, card: SimCard, apdu: bytes, context: files.Channel) -> bytes:
        try:
            command = decode_command(apdu)
            return self.execute_command(card, command) + b"\x90\x00"
        except SimError as exc:
            return exc.status_word.to_bytes(2, "big")
        except ApduFormatError as exc:
            return exc.sw.to_bytes(2, "big")
        except OtaError:
            return Sw.WRONG_DATA.to_bytes(2, "big")

    @staticmethod
    def _ota_apdu(apdu: CommandApdu) -> OneCardCommand:
        try:
            return decode_command(OtaApdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data,
                                          None if apdu.le is None else apdu.le & 0xFF))
        except ApduFormatError as exc:
            raise CardError(exc.detail, exc.sw) from exc
        except FormatError as exc:
            raise CardError(exc.detail, Sw.WRONG_DATA) from exc

    def execute_command(self, card: SimCard, command: OneCardCommand) -> bytes:
        """One sub-application command (over the air or from the desk); response data."""
        if isinstance(command, Credit):
            return self._credit(card, command)
        if isinstance(command, ReadBalance):
            return self._read_balance()
        if isinstance(command, GetStatus):
            entries = tuple(StatusEntry(s.app, s.life_cycle)
                            for s in sorted(self.state.sub_apps.values(), key=lambda s: s.app))
            return encode_status(entries)
        if isinstance(command, Install):
            if command.app in self.state.sub_apps:
                raise ConditionsNotSatisfied(f"{command.app.name} is already installed")
            self.state.sub_apps[command.app] = SubAppState(command.app, command.enterprise_id)
            return b""
        sub = self.state.sub_apps.get(command.app)
        if sub is None:
            raise DataNotFound(f"{command.app.name} is not installed")
        if isinstance(command, Personalise):
            self._personalise(sub, command)
        elif isinstance(command, SetStatus):
            self._set_status(sub, command.locked)
        elif isinstance(command, Delete):
            del self.state.sub_apps[command.app]
            if command.app is SubApp.PURSE:
                self.state.purse.clear()
        return b""

    def _personalise(self, sub: SubAppState, command: Personalise) -> None:
        if sub.locked:
            raise ConditionsNotSatisfied(f"{sub.app.name} is locked")
        sub.member_number = command.member_number
        sub.credential = command.credential
        sub.valid_until = command.valid_until.strftime("%Y%m%d") if command.valid_until else ""
        if command.purse_limit_fen is not None:
            self.state.purse.limit = command.purse_limit_fen
        sub.life_cycle = LifeCycle.PERSONALISED

    @staticmethod
    def _set_status(sub: SubAppState, locked: bool) -> None:
        # Both directions are idempotent: a retried lock (or unlock) answers '9000' again.
        if locked and not sub.locked:
            sub.locked_from, sub.life_cycle = sub.life_cycle, LifeCycle.LOCKED
        elif not locked and sub.locked:
            sub.life_cycle = sub.locked_from or LifeCycle.SELECTABLE
            sub.locked_from = None

    def _read_balance(self) -> bytes:
        if SubApp.PURSE not in self.state.sub_apps:
            raise DataNotFound("the purse is not installed")
        purse = self.state.purse
        return BalanceResult(purse.balance, purse.load_counter).encode()

    def _credit(self, card: SimCard, command: Credit) -> bytes:
        purse = self.state.purse
        sub = self.state.sub_apps.get(SubApp.PURSE)
        if sub is None:
            raise DataNotFound("the purse is not installed")
        seen = purse.find_credit(command.transaction_id)
        if seen is not None:
            return CreditResult(seen.balance, seen.load_counter, replayed=True).encode()
        if sub.locked or not sub.personalised:
            raise ConditionsNotSatisfied("the purse is locked or not personalised")
        record = purse.credit(command.amount_fen, command.transaction_id)
        self._log(card, purchase.LogRecord(record.load_counter, command.amount_fen,
                                           purchase.TransactionType.LOAD, bytes(6),
                                           "00000000", "000000"))
        return CreditResult(record.balance, record.load_counter, replayed=False).encode()
