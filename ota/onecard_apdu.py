"""Command APDUs of the one-card (一卡通) applet, sent by the gateway over OTA. Sans-I/O.

The applet is ours, so the formats are ours; where an operation mirrors GlobalPlatform (GP Card
Specification v2.3, section 11) the coding follows it. Every command uses CLA 0x80 (proprietary,
no secure messaging: SCP80 already ciphers and checksums the whole packet) and travels as the
secured data of a command packet to TAR :data:`TAR_ONECARD`, in the compact remote format
(TS 102 226 5.1.1: APDUs one after the other). The card answers in the PoR's compact remote
response (number executed, last SW, last response data), so put the APDU whose response matters
(CREDIT, READ BALANCE, GET STATUS) last.

TARs (TS 101 220 Annex D ranges): :data:`TAR_ONECARD` "ONE" (4F 4E 45) is the one-card applet;
:data:`TAR_CARD_MANAGER` 00 00 00 is the issuer security domain (RAM, TS 102 226 clause 8);
:data:`TAR_RFM_SIM` B0 00 10 is remote file management of the SIM (TS 102 226 clause 7).

Sub-applications (企业子应用) are instances inside the applet, named by proprietary AIDs
(ISO/IEC 7816-5: first nibble F, unregistered): ``F0 4F 4E 45 43 41 52 44`` ("\\xF0ONECARD")
followed by 01 door (门禁), 02 attendance (考勤), 03 purse (消费).

=================  ===========================================================================
command            C-APDU (hex; ``Lc`` and ``Le`` as ISO/IEC 7816-4 short APDUs)
=================  ===========================================================================
INSTALL            ``80 E6 0C 00 Lc | 08 <applet AID> | 09 <sub-app AID> | 09 <sub-app AID> |
                   01 00 | 06 C9 04 <enterprise id (4, big-endian)> | 00`` -- GP 11.5.2.3
                   "for install and make selectable": load file AID, module AID, application
                   AID, privileges (none), install parameters (C9), no token.
PERSONALISE        ``80 E2 80 00 Lc | 4F 09 <sub-app AID> | C1 n <member number, ASCII digits> |
                   C2 n <credential, 4-16 octets> | [C3 04 <purse limit, fen>] |
                   [C4 04 <valid until, YYYYMMDD BCD>]`` -- GP STORE DATA (11.11), P1 b8 = last
                   block, P2 = block 0. C3 only for the purse. Life cycle becomes PERSONALISED.
SET STATUS         ``80 F0 40 P2 0B | 4F 09 <sub-app AID>``; P2 = 80 lock, 00 unlock -- GP 11.10
                   (P1 40: application; b8 of P2 locks or unlocks).
DELETE             ``80 E4 00 00 0B | 4F 09 <sub-app AID>`` -- GP 11.2 (delete object).
GET STATUS         ``80 F2 40 02 02 | 4F 00 | 00`` -- GP 11.4, applications, tag-list format.
                   Response: per sub-app ``E3 0F | 4F 09 <AID> | 9F70 01 <life cycle>``.
CREDIT             ``80 52 00 00 14 | <amount, fen (4)> | <transaction id (16)> | 00``.
                   Response ``<balance, fen (4)> <load counter (2)> <replayed (1)>``: the applet
                   keeps the ids of the credits it applied; a repeated id changes nothing and
                   answers the recorded result with replayed = 01, so a retry after a lost PoR
                   can never credit twice. Purse must be PERSONALISED and unlocked.
READ BALANCE       ``80 5C 00 02 00``. Response ``<balance, fen (4)> <load counter (2)>``.
=================  ===========================================================================

Status words: :class:`Sw`. Life cycle states (GP 11.1.1, application states): :class:`LifeCycle`.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass

from ota.errors import ApduFormatError
from ota.remote import ber_tlv, iter_ber_tlv

CLA = 0x80
TAR_ONECARD = b"ONE"
TAR_CARD_MANAGER = bytes(3)
TAR_RFM_SIM = bytes.fromhex("b00010")
APPLET_AID = bytes.fromhex("f04f4e4543415244")
TRANSACTION_ID_LENGTH = 16
MAX_AMOUNT_FEN = 0xFFFFFFFF


class Ins(enum.IntEnum):
    """Instruction bytes of the applet (GP Card Specification 11 where mirrored)."""

    DELETE = 0xE4  # GP 11.2
    INSTALL = 0xE6  # GP 11.5
    STORE_DATA = 0xE2  # GP 11.11 (PERSONALISE)
    SET_STATUS = 0xF0  # GP 11.10
    GET_STATUS = 0xF2  # GP 11.4
    CREDIT = 0x52  # ours
    READ_BALANCE = 0x5C  # ours


class SubApp(enum.IntEnum):
    """Enterprise sub-applications; the value is the last octet of the AID."""

    DOOR = 0x01  # 门禁
    ATTENDANCE = 0x02  # 考勤
    PURSE = 0x03  # 消费

    @property
    def aid(self) -> bytes:
        return APPLET_AID + bytes((self.value,))

    @classmethod
    def from_aid(cls, aid: bytes) -> SubApp:
        if len(aid) != len(APPLET_AID) + 1 or aid[:-1] != APPLET_AID:
            raise ApduFormatError(f"AID {aid.hex()} is not a one-card sub-application")
        try:
            return cls(aid[-1])
        except ValueError:
            raise ApduFormatError(f"unknown sub-application AID {aid.hex()}") from None


class LifeCycle(enum.IntEnum):
    """Sub-application life cycle (GP 11.1.1 application life cycle coding)."""

    INSTALLED = 0x03
    SELECTABLE = 0x07
    PERSONALISED = 0x0F  # application-specific state bits b4 set
    LOCKED = 0x83


class Sw(enum.IntEnum):
    """Status words of the applet (ISO/IEC 7816-4 5.1.3; 94xx our purse errors)."""

    OK = 0x9000
    WRONG_LENGTH = 0x6700
    CONDITIONS_NOT_SATISFIED = 0x6985  # sub-app locked, not personalised, or already installed
    WRONG_DATA = 0x6A80
    NOT_ENOUGH_MEMORY = 0x6A84
    NOT_FOUND = 0x6A88  # sub-application not installed
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    PURSE_LIMIT_EXCEEDED = 0x9402  # credit would take the balance over the purse limit


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """An ISO/IEC 7816-4 short command APDU (case 1-4)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # None: no Le; 0 means "up to 256"

    def encode(self) -> bytes:
        if len(self.data) > 255:
            raise ApduFormatError(f"command data of {len(self.data)} octets, at most 255")
        out = bytes((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            out += bytes((len(self.data),)) + self.data
        if self.le is not None:
            out += bytes((self.le,))
        return out

    @classmethod
    def decode(cls, apdu: bytes) -> CommandApdu:
        if len(apdu) < 4:
            raise ApduFormatError(f"APDU of {len(apdu)} octets, at least 4")
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0])
        lc = body[0]
        if lc == 0 or len(body) not in (1 + lc, 2 + lc):
            raise ApduFormatError(f"Lc {lc} does not match {len(body) - 1} octets of body")
        le = body[1 + lc] if len(body) == 2 + lc else None
        return cls(cla, ins, p1, p2, bytes(body[1:1 + lc]), le)


# Which instructions carry a data field and which end with Le: fixed per instruction, so a
# compact-format script (TS 102 226 5.1.1: C-APDUs back to back) splits without ambiguity.
_SHAPE: dict[int, tuple[bool, bool]] = {
    Ins.INSTALL: (True, True),
    Ins.STORE_DATA: (True, False),
    Ins.SET_STATUS: (True, False),
    Ins.DELETE: (True, False),
    Ins.GET_STATUS: (True, True),
    Ins.CREDIT: (True, True),
    Ins.READ_BALANCE: (False, True),
}


def split_apdus(data: bytes) -> list[CommandApdu]:
    """The applet C-APDUs of compact-format secured data, in order."""
    apdus = []
    i = 0
    while i < len(data):
        if len(data) - i < 5:
            raise ApduFormatError("truncated APDU in the secured data")
        shape = _SHAPE.get(data[i + 1])
        if shape is None:
            raise ApduFormatError(f"INS {data[i + 1]:#04x} is not an applet instruction")
        has_data, has_le = shape
        length = 5 + (data[i + 4] + int(has_le) if has_data else 0)
        if i + length > len(data):
            raise ApduFormatError("APDU runs past the end of the secured data")
        apdus.append(CommandApdu.decode(data[i:i + length]))
        i += length
    return apdus


def script(*commands: OneCardCommand) -> bytes:
    """Gateway role: the compact-format secured data carrying ``commands`` in order."""
    return b"".join(command.apdu().encode() for command in commands)


def _aid_tlv(app: SubApp) -> bytes:
    return ber_tlv(0x4F, app.aid)


def _expect(apdu: CommandApdu, ins: Ins, p1: int | None = None, p2: int | None = None) -> None:
    if apdu.cla != CLA:
        raise ApduFormatError(f"CLA {apdu.cla:#04x}, the applet takes {CLA:#04x}")
    if apdu.ins != ins:
        raise ApduFormatError(f"INS {apdu.ins:#04x} is not {ins.name}")
    if (p1 is not None and apdu.p1 != p1) or (p2 is not None and apdu.p2 != p2):
        raise ApduFormatError(f"P1 P2 {apdu.p1:02x}{apdu.p2:02x} invalid for {ins.name}")


def _single_aid(data: bytes) -> SubApp:
    tlvs = list(iter_ber_tlv(data))
    if len(tlvs) != 1 or tlvs[0][0] != 0x4F:
        raise ApduFormatError("data must be exactly one AID TLV (tag 4F)")
    return SubApp.from_aid(tlvs[0][1])


@dataclass(frozen=True, slots=True)
class Install:
    app: SubApp
    enterprise_id: int

    def apdu(self) -> CommandApdu:
        if not 0 <= self.enterprise_id <= 0xFFFFFFFF:
            raise ApduFormatError("enterprise id does not fit 4 octets")
        params = ber_tlv(0xC9, self.enterprise_id.to_bytes(4, "big"))
        data = b"".join(bytes((len(f),)) + f for f in
                        (APPLET_AID, self.app.aid, self.app.aid, b"\x00", params, b""))
        return CommandApdu(CLA, Ins.INSTALL, 0x0C, 0x00, data, 0x00)

    @classmethod
    def from_apdu(cls, apdu: CommandApdu) -> Install:
        _expect(apdu, Ins.INSTALL, 0x0C, 0x00)
        fields: list[bytes] = []
        i, data = 0, apdu.data
        while i < len(data) and len(fields) < 6:
            n = data[i]
            if i + 1 + n > len(data):
                raise ApduFormatError("INSTALL data field truncated")
            fields.append(data[i + 1:i + 1 + n])
            i += 1 + n
        if len(fields) != 6 or i != len(data) or fields[0] != APPLET_AID:
            raise ApduFormatError("INSTALL data is not load file | module | app | privileges"
                                  " | parameters | token")
        app = SubApp.from_aid(fields[2])
        params = dict(iter_ber_tlv(fields[4]))
        enterprise = params.get(0xC9, b"")
        if fields[1] != fields[2] or len(enterprise) != 4:
            raise ApduFormatError("INSTALL module AID or C9 enterprise id invalid")
        return cls(app, int.from_bytes(enterprise, "big"))


def _bcd_date(value: datetime.date) -> bytes:
    return bytes.fromhex(value.strftime("%Y%m%d"))


def _date_of(raw: bytes) -> datetime.date:
    try:
        return datetime.datetime.strptime(raw.hex(), "%Y%m%d").date()
    except ValueError:
        raise ApduFormatError(f"valid-until {raw.hex()} is not a YYYYMMDD BCD date") from None


@dataclass(frozen=True, slots=True)
class Personalise:
    app: SubApp
    member_number: str
    credential: bytes
    purse_limit_fen: int | None = None
    valid_until: datetime.date | None = None

    def apdu(self) -> CommandApdu:
        number = self.member_number
        if not (number.isascii() and number.isdigit() and 1 <= len(number) <= 20):
            raise ApduFormatError("member number is 1 to 20 ASCII digits")
        if not 4 <= len(self.credential) <= 16:
            raise ApduFormatError("credential is 4 to 16 octets")
        if (self.purse_limit_fen is not None) != (self.app is SubApp.PURSE):
            raise ApduFormatError("a purse limit is given for the purse and only for it")
        data = _aid_tlv(self.app) + ber_tlv(0xC1, number.encode()) + ber_tlv(0xC2, self.credential)
        if self.purse_limit_fen is not None:
            if not 0 < self.purse_limit_fen <= MAX_AMOUNT_FEN:
                raise ApduFormatError("purse limit out of range")
            data += ber_tlv(0xC3, self.purse_limit_fen.to_bytes(4, "big"))
        if self.valid_until is not None:
            data += ber_tlv(0xC4, _bcd_date(self.valid_until))
        return CommandApdu(CLA, Ins.STORE_DATA, 0x80, 0x00, data)

    @classmethod
    def from_apdu(cls, apdu: CommandApdu) -> Personalise:
        _expect(apdu, Ins.STORE_DATA, 0x80, 0x00)
        tlvs = dict(iter_ber_tlv(apdu.data))
        if 0x4F not in tlvs or 0xC1 not in tlvs or 0xC2 not in tlvs:
            raise ApduFormatError("PERSONALISE needs tags 4F, C1 and C2")
        limit = tlvs.get(0xC3)
        until = tlvs.get(0xC4)
        try:
            number = tlvs[0xC1].decode("ascii")
        except UnicodeDecodeError:
            raise ApduFormatError("member number is not ASCII") from None
        result = cls(SubApp.from_aid(tlvs[0x4F]), number, tlvs[0xC2],
                     int.from_bytes(limit, "big") if limit is not None else None,
                     _date_of(until) if until is not None else None)
        result.apdu()  # re-validates every field with the encoder's rules
        return result


@dataclass(frozen=True, slots=True)
class SetStatus:
    app: SubApp
    locked: bool

    def apdu(self) -> CommandApdu:
        return CommandApdu(CLA, Ins.SET_STATUS, 0x40, 0x80 if self.locked else 0x00,
                           _aid_tlv(self.app))

    @classmethod
    def from_apdu(cls, apdu: CommandApdu) -> SetStatus:
        _expect(apdu, Ins.SET_STATUS, 0x40)
        if apdu.p2 not in (0x00, 0x80):
            raise ApduFormatError(f"SET STATUS P2 {apdu.p2:#04x}: 80 locks, 00 unlocks")
        return cls(_single_aid(apdu.data), apdu.p2 == 0x80)


@dataclass(frozen=True, slots=True)
class Delete:
    app: SubApp

    def apdu(self) -> CommandApdu:
        return CommandApdu(CLA, Ins.DELETE, 0x00, 0x00, _aid_tlv(self.app))

    @classmethod
    def from_apdu(cls, apdu: CommandApdu) -> Delete:
        _expect(apdu, Ins.DELETE, 0x00, 0x00)
        return cls(_single_aid(apdu.data))


@dataclass(frozen=True, slots=True)
class GetStatus:
    def apdu(self) -> CommandApdu:
        return CommandApdu(CLA, Ins.GET_STATUS, 0x40, 0x02, b"\x4f\x00", 0x00)

    @classmethod
    def from_apdu(cls, apdu: CommandApdu) -> GetStatus:
        _expect(apdu, Ins.GET_STATUS, 0x40, 0x02)
        if apdu.data != b"\x4f\x00":
            raise ApduFormatError("GET STATUS takes the search criterion 4F 00")
        return cls()


@dataclass(frozen=True, slots=True)
class Credit:
    amount_fen: int
    transaction_id: bytes

    def apdu(self) -> CommandApdu:
        if not 0 < self.amount_fen <= MAX_AMOUNT_FEN:
            raise ApduFormatError("credit amount is 1 to 2^32-1 fen")
        if len(self.transaction_id) != TRANSACTION_ID_LENGTH:
            raise ApduFormatError("transaction id is 16 octets")
        data = self.amount_fen.to_bytes(4, "big") + self.transaction_id
        return CommandApdu(CLA, Ins.CREDIT, 0x00, 0x00, data, 0x00)

    @classmethod
    def from_apdu(cls, apdu: CommandApdu) -> Credit:
        _expect(apdu, Ins.CREDIT, 0x00, 0x00)
        if len(apdu.data) != 4 + TRANSACTION_ID_LENGTH:
            raise ApduFormatError("CREDIT data is amount (4) and transaction id (16)")
        result = cls(int.from_bytes(apdu.data[:4], "big"), bytes(apdu.data[4:]))
        result.apdu()
        return result


@dataclass(frozen=True, slots=True)
class ReadBalance:
    def apdu(self) -> CommandApdu:
        return CommandApdu(CLA, Ins.READ_BALANCE, 0x00, 0x02, le=0x00)

    @classmethod
    def from_apdu(cls, apdu: CommandApdu) -> ReadBalance:
        _expect(apdu, Ins.READ_BALANCE, 0x00, 0x02)
        if apdu.data:
            raise ApduFormatError("READ BALANCE carries no data")
        return cls()


OneCardCommand = Install | Personalise | SetStatus | Delete | GetStatus | Credit | ReadBalance

_DECODERS: dict[int, type[OneCardCommand]] = {
    Ins.INSTALL: Install, Ins.STORE_DATA: Personalise, Ins.SET_STATUS: SetStatus,
    Ins.DELETE: Delete, Ins.GET_STATUS: GetStatus, Ins.CREDIT: Credit,
    Ins.READ_BALANCE: ReadBalance,
}


def decode_command(apdu: bytes | CommandApdu) -> OneCardCommand:
    """Card role: the typed command of a C-APDU (raises :class:`ApduFormatError`)."""
    parsed = apdu if isinstance(apdu, CommandApdu) else CommandApdu.decode(apdu)
    if parsed.cla != CLA:
        raise ApduFormatError(f"CLA {parsed.cla:#04x} is not the applet's {CLA:#04x}")
    decoder = _DECODERS.get(parsed.ins)
    if decoder is None:
        raise ApduFormatError(f"INS {parsed.ins:#04x} is not an applet instruction")
    return decoder.from_apdu(parsed)


@dataclass(frozen=True, slots=True)
class BalanceResult:
    """Response data of READ BALANCE, and the first 6 octets of CREDIT's."""

    balance_fen: int
    load_counter: int

    def encode(self) -> bytes:
        return self.balance_fen.to_bytes(4, "big") + self.load_counter.to_bytes(2, "big")

    @classmethod
    def decode(cls, data: bytes) -> BalanceResult:
        if len(data) != 6:
            raise ApduFormatError(f"balance response of {len(data)} octets, expected 6")
        return cls(int.from_bytes(data[:4], "big"), int.from_bytes(data[4:], "big"))


@dataclass(frozen=True, slots=True)
class CreditResult:
    balance_fen: int
    load_counter: int
    replayed: bool  # the transaction id was already applied; nothing changed this time

    def encode(self) -> bytes:
        return BalanceResult(self.balance_fen, self.load_counter).encode() + bytes(
            (int(self.replayed),))

    @classmethod
    def decode(cls, data: bytes) -> CreditResult:
        if len(data) != 7 or data[6] > 1:
            raise ApduFormatError("CREDIT response is balance (4), load counter (2), replayed")
        balance = BalanceResult.decode(data[:6])
        return cls(balance.balance_fen, balance.load_counter, bool(data[6]))


@dataclass(frozen=True, slots=True)
class StatusEntry:
    app: SubApp
    life_cycle: LifeCycle


def encode_status(entries: tuple[StatusEntry, ...]) -> bytes:
    """GET STATUS response data: one E3 template per sub-application (GP 11.4.3.2)."""
    return b"".join(ber_tlv(0xE3, ber_tlv(0x4F, e.app.aid) + b"\x9f\x70\x01"
                            + bytes((e.life_cycle,))) for e in entries)


def decode_status(data: bytes) -> tuple[StatusEntry, ...]:
    entries = []
    for tag, value in iter_ber_tlv(data):
        if tag != 0xE3 or len(value) != 2 + 9 + 4 or value[:2] != b"\x4f\x09" \
                or value[11:14] != b"\x9f\x70\x01":
            raise ApduFormatError("GET STATUS entry is not E3 { 4F AID, 9F70 life cycle }")
        try:
            state = LifeCycle(value[14])
        except ValueError:
            raise ApduFormatError(f"unknown life cycle state {value[14]:#04x}") from None
        entries.append(StatusEntry(SubApp.from_aid(value[2:11]), state))
    return tuple(entries)
