"""Mobile-originated requests of the STK applet, and the STK menu file. Sans-I/O, both roles.

The member's 一卡通 menu (余额查询, 应用删除, 账单查询) sends requests to the gateway's service
number. A request is an SCP80 command packet (TS 102 225 5.1, built and verified with
``ota.packet``) secured with the card's own OTA key set, so the service password is ciphered
and the gateway can tell that the card, not someone spoofing its number, sent it::

    SMS-SUBMIT  TP-DA service number, TP-PID 7F, TP-DCS F6, UDH 02 70 00 (command packet)
    packet      SPI 16 00 (ciphered, CC, counter must be higher, no PoR), TAR "MOR" (4D 4F 52),
                KIc/KID of the card's key set, CNTR = the card's MO counter (its own counter,
                strictly increasing, kept apart from the counter of OTA commands it receives)
    data        version 01, then BER-TLVs (one-octet tags):
                  80 01  request type (:class:`RequestType`)
                  84 04  request id (the card's running number; replies may quote it)
                  5A 0A  ICCID (EF.ICCID coding), checked by the gateway against the sender
                  81 n   service password, ASCII digits       (APP_DELETE only)
                  82 09  sub-application AID                 (APP_DELETE only)
                  83 01  bill kind (:class:`BillKind`)       (BILL only)

The gateway calls :func:`open_request` with the key set it derives for the sending card and the
last MO counter it accepted from it; a replayed or forged request raises the ``ota`` error whose
PoR status names the reason (CNTR low, RC/CC failed ...).

The STK menu lives in a transparent EF of the card (:data:`MENU_FILE_FID` under the MF,
:data:`MENU_FILE_SIZE` octets), which the gateway rewrites by remote file management (TAR
B00010, SELECT + UPDATE BINARY): COMPREHENSION-TLVs of TS 102 223, an alpha identifier
(8.2, the menu title), one item (8.9) per entry, and an address (8.1, the service number),
padded with 'FF'. The card re-sends SET UP MENU after each such update.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ota.errors import FormatError
from ota.keys import OtaKeyset, iccid_context
from ota.onecard_apdu import SubApp
from ota.packet import TarSecurity, build_command, verify_command
from ota.remote import ber_tlv, iter_ber_tlv
from ota.spi import CounterMode, Integrity, MinimumSecurityLevel, PorRequest, Spi
from stk.errors import StkError
from stk.ies import Address, AlphaIdentifier, Item
from stk.tlv import decode_ctlvs, encode_ctlvs

MO_TAR = b"MOR"
MO_SPI = Spi(counter=CounterMode.HIGHER, ciphering=True, integrity=Integrity.CC,
             por=PorRequest.NONE)
MO_MINIMUM_LEVEL = MinimumSecurityLevel(CounterMode.HIGHER, True, Integrity.CC)
FORMAT_VERSION = 0x01
MENU_FILE_FID = 0x2F50
MENU_FILE_SIZE = 256
DEFAULT_MENU_TITLE = "一卡通"
DEFAULT_MENU_ITEMS = ("余额查询", "应用删除", "账单查询")
DEFAULT_SERVICE_NUMBER = "10658888"


class RequestType(enum.IntEnum):
    BALANCE = 0x01  # 余额查询: the gateway answers with the ledger balance by SMS
    APP_DELETE = 0x02  # 应用删除: delete one sub-application, needs the service password
    BILL = 0x03  # 账单查询: the gateway sends the bill by SMS


class BillKind(enum.IntEnum):
    ATTENDANCE = 0x01  # 考勤账单
    CONSUMPTION = 0x02  # 消费账单


@dataclass(frozen=True, slots=True)
class MoRequest:
    kind: RequestType
    request_id: int
    iccid: str
    password: str | None = field(default=None, repr=False)
    app: SubApp | None = None
    bill: BillKind | None = None

    def encode(self) -> bytes:
        """The secured data (plaintext of the packet)."""
        if self.kind is RequestType.APP_DELETE and (self.password is None or self.app is None):
            raise FormatError("an app deletion request carries the password and the AID")
        if self.kind is RequestType.BILL and self.bill is None:
            raise FormatError("a bill request names the bill kind")
        if not 0 <= self.request_id <= 0xFFFFFFFF:
            raise FormatError("request id does not fit 4 octets")
        data = (bytes((FORMAT_VERSION,)) + ber_tlv(0x80, bytes((self.kind,)))
                + ber_tlv(0x84, self.request_id.to_bytes(4, "big"))
                + ber_tlv(0x5A, iccid_context(self.iccid)))
        if self.password is not None:
            if not (self.password.isascii() and self.password.isdigit()
                    and 4 <= len(self.password) <= 16):
                raise FormatError("the service password is 4 to 16 ASCII digits")
            data += ber_tlv(0x81, self.password.encode("ascii"))
        if self.app is not None:
            data += ber_tlv(0x82, self.app.aid)
        if self.bill is not None:
            data += ber_tlv(0x83, bytes((self.bill,)))
        return data

    @classmethod
    def decode(cls, data: bytes) -> MoRequest:
        if not data or data[0] != FORMAT_VERSION:
            raise FormatError("MO request of an unknown format version")
        tlvs = dict(iter_ber_tlv(data[1:]))
        try:
            kind = RequestType(tlvs[0x80][0])
            request_id = int.from_bytes(tlvs[0x84], "big")
            iccid = _iccid_of(tlvs[0x5A])
        except (KeyError, IndexError, ValueError) as exc:
            raise FormatError("MO request needs a known type (80), id (84) and ICCID (5A)") \
                from exc
        password = _password_of(tlvs.get(0x81))
        app = SubApp.from_aid(tlvs[0x82]) if 0x82 in tlvs else None
        bill = None
        if 0x83 in tlvs:
            try:
                bill = BillKind(tlvs[0x83][0])
            except (IndexError, ValueError):
                raise FormatError("unknown bill kind") from None
        request = cls(kind, request_id, iccid, password, app, bill)
        request.encode()  # the same rules as the sender's
        return request


def _iccid_of(raw: bytes) -> str:
    digits = "".join(f"{b & 0x0F:x}{b >> 4:x}" for b in raw).rstrip("f")
    if len(raw) != 10 or not digits.isdigit():
        raise ValueError("ICCID is 10 BCD octets")
    return digits


def _password_of(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise FormatError("the service password is not ASCII") from None


def build_request(request: MoRequest, keyset: OtaKeyset, counter: int) -> bytes:
    """Card role: the command packet carrying ``request`` (secured, counter ``counter``)."""
    return build_command(MO_SPI, keyset, MO_TAR, counter, request.encode())


def open_request(packet: bytes, keyset: OtaKeyset, last_counter: int) -> tuple[MoRequest, int]:
    """Gateway role: verify the packet and decode its request; returns it and its counter.

    Raises the ``ota`` error of the failed check (CC, counter, security level, format); the
    caller stores the returned counter before acting on the request.
    """
    security = TarSecurity((keyset,), MO_MINIMUM_LEVEL)
    verified = verify_command(
        packet, lambda tar: security if tar == MO_TAR else None, last_counter
    )
    return MoRequest.decode(verified.data), verified.counter


# -- the STK menu file --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MenuFile:
    title: str = DEFAULT_MENU_TITLE
    items: tuple[str, ...] = DEFAULT_MENU_ITEMS
    service_number: str = DEFAULT_SERVICE_NUMBER

    def encode(self) -> bytes:
        if not 1 <= len(self.items) <= 16:
            raise FormatError("a menu has 1 to 16 items")
        ies = [AlphaIdentifier(self.title),
               *(Item(i, text) for i, text in enumerate(self.items, 1)),
               Address(self.service_number.lstrip("+"))]
        try:
            data = encode_ctlvs(ie.to_ctlv() for ie in ies)
        except StkError as exc:
            raise FormatError(f"menu does not encode: {exc}") from exc
        if len(data) > MENU_FILE_SIZE:
            raise FormatError(f"menu of {len(data)} octets exceeds the {MENU_FILE_SIZE}-octet file")
        return data.ljust(MENU_FILE_SIZE, b"\xff")

    @classmethod
    def decode(cls, data: bytes) -> MenuFile:
        body = data.rstrip(b"\xff")
        try:
            tlvs = decode_ctlvs(body)
            alpha = next(AlphaIdentifier.decode_value(t.value) for t in tlvs
                         if t.tag == AlphaIdentifier.TAG)
            items = tuple(Item.decode_value(t.value).text for t in tlvs if t.tag == Item.TAG)
            address = next((Address.decode_value(t.value) for t in tlvs
                            if t.tag == Address.TAG), None)
        except (StkError, StopIteration) as exc:
            raise FormatError(f"menu file is malformed: {exc!r}") from exc
        if not items:
            raise FormatError("menu file has no items")
        number = address.number if address is not None else DEFAULT_SERVICE_NUMBER
        return cls(alpha.text, items, number)
