"""Terminal simulators: door (门禁), attendance (考勤) and POS (消费) terminals.

Each reads a card through a ``CardTransport`` (in-process or PC/SC), applies its blacklist,
runs the card protocol with its SAM (``sim_emulator.sam``) and turns the outcome into a record
for the gateway's terminal API (``POST /api/v1/terminal/records``, see
``sim_emulator.uplink``). Records carry the terminal's own sequence number, so uploads are
idempotent on the gateway side and gaps show.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from dataclasses import dataclass, field, replace
from typing import Any

from ota.errors import FormatError
from ota.onecard_apdu import BalanceResult, ReadBalance, SubApp
from ota.remote import iter_ber_tlv
from sim_emulator import purchase
from sim_emulator.encoding import decode_iccid
from sim_emulator.errors import ReaderError, TerminalError
from sim_emulator.sam import Sam
from sim_emulator.sw import Sw
from sim_emulator.transport import CardTransport, exchange


def terminal_id_of(code: str) -> bytes:
    """The 6-octet terminal id of the card protocol: BCD of a numeric code up to 12 digits,
    else the first 6 octets of its SHA-256."""
    if code.isdigit() and len(code) <= 12:
        return bytes.fromhex(code.rjust(12, "0"))
    return hashlib.sha256(code.encode()).digest()[:6]


@dataclass(frozen=True)
class CardView:
    """What a terminal learns from SELECT: the FCI of the sub-application."""

    aid: bytes
    iccid: str
    locked: bool
    life_cycle: int | None = None
    enterprise_id: int | None = None
    member_number: str = ""


@dataclass(frozen=True)
class TerminalRecord:
    seq: int
    kind: str  # gateway RecordKind: door, attendance, purchase, undo
    iccid: str
    at: datetime.datetime
    amount_fen: int | None = None
    card_balance_fen: int | None = None
    undo_seq: int | None = None
    result: str | None = None  # granted / denied (door, attendance)
    direction: str | None = None  # in / out (door)
    reason: str | None = None  # why denied (kept locally, not uploaded)
    member_number: str = ""
    tac: str | None = None  # purchase / undo: the card's TAC, hex

    def to_api(self) -> dict[str, Any]:
        """The record as the terminal API takes it (gateway.api.schemas.RECORD)."""
        out: dict[str, Any] = {"seq": self.seq, "type": self.kind, "iccid": self.iccid,
                               "at": self.at.isoformat()}
        for key in ("amount_fen", "card_balance_fen", "undo_seq", "result", "direction"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass
class Blacklist:
    """The terminal's copy of its enterprise's blacklist, kept current by version deltas."""

    version: int = 0
    entries: set[tuple[str, str | None]] = field(default_factory=set)

    def apply(self, delta: dict[str, Any]) -> None:
        """One page of ``GET /api/v1/terminal/blacklist``: full snapshot or delta."""
        if delta.get("full"):
            self.entries.clear()
        for entry in delta.get("entries", []):
            key = (str(entry["iccid"]), entry.get("app"))
            if entry.get("action") == "remove":
                self.entries.discard(key)
            else:
                self.entries.add(key)
        self.version = int(delta.get("version", self.version))

    def blocks(self, iccid: str, app: SubApp) -> bool:
        name = {SubApp.DOOR: "door", SubApp.ATTENDANCE: "attendance", SubApp.PURSE: "purse"}
        return (iccid, None) in self.entries or (iccid, name[app]) in self.entries


def select_app(transport: CardTransport, app: SubApp) -> CardView:
    aid = app.aid
    response = transport.transmit(bytes((0x00, 0xA4, 0x04, 0x00, len(aid))) + aid + b"\x00")
    data, sw = response[:-2], int.from_bytes(response[-2:], "big")
    if sw == Sw.FILE_NOT_FOUND:
        raise TerminalError(f"the card has no {app.name} application", status_word=sw)
    if sw not in (Sw.OK, Sw.FILE_INVALIDATED) and sw >> 8 != 0x91:
        raise TerminalError(f"SELECT {app.name} answered {sw:04X}", status_word=sw)
    return _parse_fci(aid, data, locked=sw == Sw.FILE_INVALIDATED)


def _parse_fci(aid: bytes, data: bytes, locked: bool) -> CardView:
    try:
        outer = dict(iter_ber_tlv(data))
        fci = dict(iter_ber_tlv(outer[0x6F]))
        info = dict(iter_ber_tlv(fci[0xA5]))
        iccid = decode_iccid(info[0x5A])
    except (FormatError, KeyError) as exc:
        raise TerminalError(f"unreadable FCI: {exc!r}") from exc
    life = info.get(0xCA)
    enterprise = info.get(0xC9)
    return CardView(aid, iccid, locked, life[0] if life else None,
                    int.from_bytes(enterprise, "big") if enterprise else None,
                    info.get(0xC1, b"").decode("ascii", "replace"))


class Terminal:
    """Common part: identity, SAM, blacklist, sequence numbers, pending records."""

    kind = "terminal"

    def __init__(self, code: str, sam: Sam, *, blacklist: Blacklist | None = None,
                 seq: int = 0) -> None:
        self.code = code
        self.sam = sam
        self.blacklist = blacklist or Blacklist()
        self.seq = seq
        self.pending: list[TerminalRecord] = []  # not yet uploaded

    def _record(self, **fields: Any) -> TerminalRecord:
        self.seq += 1
        record = TerminalRecord(seq=self.seq, **fields)
        self.pending.append(record)
        return record

    def take_pending(self) -> list[TerminalRecord]:
        out, self.pending = self.pending, []
        return out


def _now(now: datetime.datetime | None) -> datetime.datetime:
    return now or datetime.datetime.now(datetime.UTC)


class AccessTerminal(Terminal):
    """Door or attendance terminal: checks the credential, records granted or denied."""

    def __init__(self, code: str, sam: Sam, app: SubApp = SubApp.DOOR, **kw: Any) -> None:
        super().__init__(code, sam, **kw)
        self.app = app
        self.kind = "door" if app is SubApp.DOOR else "attendance"

    def present(self, transport: CardTransport, now: datetime.datetime | None = None,
                direction: str | None = None) -> TerminalRecord:
        when = _now(now)
        view = select_app(transport, self.app)
        base: dict[str, Any] = {"kind": self.kind, "iccid": view.iccid, "at": when,
                                "member_number": view.member_number}
        if self.kind == "door":
            base["direction"] = direction or "in"
        reason = self._refusal(transport, view, when)
        return self._record(**base, result="denied" if reason else "granted", reason=reason)

    def _refusal(self, transport: CardTransport, view: CardView,
                 when: datetime.datetime) -> str | None:
        if self.blacklist.blocks(view.iccid, self.app):
            return "blacklisted"
        if view.locked:
            return "locked"
        if view.enterprise_id != self.sam.enterprise_id:
            return "other enterprise"
        challenge = terminal_id_of(self.code) + os.urandom(8)
        apdu = bytes((0x80, purchase.INS_AUTHENTICATE, 0, 0, len(challenge))) + challenge + b"\x00"
        try:
            data = exchange(transport, apdu, what="AUTHENTICATE")
            tlvs = dict(iter_ber_tlv(data))
        except ReaderError as exc:
            return f"card refused ({exc.status_word:04X})"
        except FormatError:
            return "unreadable credential"
        tag = tlvs.get(0x8E)
        body = data[: len(data) - 10] if tag is not None else data
        if tag is None or not self.sam.check_credential(view.iccid, view.aid, challenge, body,
                                                        tag):
            return "bad credential"
        until = tlvs.get(0xC4)
        if until and when.strftime("%Y%m%d") > until.hex():
            return "expired"
        return None


@dataclass(frozen=True)
class _Sale:
    iccid: str
    seq: int
    amount: int


class PosTerminal(Terminal):
    """Canteen POS: purchase and undo of its own last purchase (撤销)."""

    kind = "purchase"

    def __init__(self, code: str, sam: Sam, **kw: Any) -> None:
        super().__init__(code, sam, **kw)
        self.last_sale: _Sale | None = None

    def balance(self, transport: CardTransport) -> int:
        select_app(transport, SubApp.PURSE)
        data = exchange(transport, ReadBalance().apdu().encode(), what="READ BALANCE")
        return BalanceResult.decode(data).balance_fen

    def purchase(self, transport: CardTransport, amount: int,
                 now: datetime.datetime | None = None) -> TerminalRecord:
        record = self._transact(transport, amount, _now(now), undo=False)
        self.last_sale = _Sale(record.iccid, record.seq, amount)
        return record

    def undo(self, transport: CardTransport, now: datetime.datetime | None = None
             ) -> TerminalRecord:
        sale = self.last_sale
        if sale is None:
            raise TerminalError("this terminal has no purchase to undo")
        record = self._transact(transport, sale.amount, _now(now), undo=True)
        if record.iccid != sale.iccid:
            raise TerminalError("the card presented is not the card of the last purchase")
        self.last_sale = None
        fixed = replace(record, undo_seq=sale.seq)
        self.pending[-1] = fixed
        return fixed

    def _transact(self, transport: CardTransport, amount: int, when: datetime.datetime,
                  undo: bool) -> TerminalRecord:
        view = select_app(transport, SubApp.PURSE)
        if self.blacklist.blocks(view.iccid, SubApp.PURSE):
            raise TerminalError(f"card {view.iccid} is blacklisted")
        if view.locked:
            raise TerminalError(f"card {view.iccid} is locked", status_word=Sw.APP_LOCKED)
        tid = terminal_id_of(self.code)
        init_apdu = purchase.InitializeCommand(undo, self.sam.key_version, amount, tid).encode()
        init = purchase.InitializeResponse.decode(
            exchange(transport, init_apdu, what="INITIALIZE"))
        kind = purchase.TransactionType.UNDO if undo else purchase.TransactionType.PURCHASE
        date, time = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
        auth = self.sam.authorise(view.iccid, init, amount, kind, date, time)
        debit = purchase.DebitCommand(undo, auth.terminal_seq, date, time, auth.mac1)
        answer = exchange(transport, debit.encode(), what="DEBIT")
        if len(answer) != 8 or not self.sam.check_mac2(auth, amount, answer[4:]):
            raise TerminalError("MAC2 does not verify: the card did not prove the debit")
        if not self.sam.check_tac(view.iccid, answer[:4], amount, kind, auth.terminal_seq,
                                  date, time, init.offline_seq):
            raise TerminalError("TAC does not verify")
        after = init.balance + amount if undo else init.balance - amount
        return self._record(kind="undo" if undo else "purchase", iccid=view.iccid, at=when,
                            amount_fen=amount, card_balance_fen=after,
                            member_number=view.member_number, tac=answer[:4].hex())
