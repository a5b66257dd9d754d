"""The issuing desk (发卡终端, 洗卡): personalise a card through any ``CardTransport``.

The same code runs against an in-process card and, through pyscard, against a card in a real
PC/SC reader (``onecard card personalise``). Steps (protocol in ``sim_emulator.issuing``):
read the ICCID, open a session with the transport key, write the ICCID-bound enterprise keys
(and optionally the OTA key set derived from the enterprise's OTA master), the purse settings,
and optionally install and personalise sub-applications.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field

from ota.keys import OtaKeyset, derive_card_keyset
from ota.onecard_apdu import Install, OneCardCommand, Personalise, SubApp
from sim_emulator import issuing
from sim_emulator.cardkeys import derive_enterprise_keys, macs_equal
from sim_emulator.encoding import decode_iccid
from sim_emulator.errors import ReaderError
from sim_emulator.profile import ONECARD_AID
from sim_emulator.transport import CardTransport, exchange


@dataclass(frozen=True)
class SubAppPlan:
    app: SubApp
    member_number: str
    credential: bytes
    purse_limit_fen: int | None = None
    valid_until: datetime.date | None = None


@dataclass(frozen=True)
class PersonalisationPlan:
    enterprise_id: int
    sam_master: bytes = field(repr=False)
    transport_key: bytes = field(repr=False)
    ota_master: bytes | None = field(default=None, repr=False)
    key_version: int = 1
    per_purchase_limit: int | None = None
    daily_limit: int | None = None
    app_info: bytes | None = None
    sub_apps: tuple[SubAppPlan, ...] = ()


@dataclass(frozen=True)
class PersonalisationResult:
    iccid: str
    ota_keyset: OtaKeyset | None = field(repr=False)
    installed: tuple[SubApp, ...]


def read_iccid(transport: CardTransport) -> str:
    exchange(transport, bytes.fromhex("00a4000c023f00"), what="SELECT MF")
    exchange(transport, bytes.fromhex("00a4000c022fe2"), what="SELECT EF.ICCID")
    return decode_iccid(exchange(transport, bytes.fromhex("00b000000a"), what="READ EF.ICCID"))


def open_session(transport: CardTransport, transport_key: bytes) -> issuing.Session:
    select = bytes((0x00, 0xA4, 0x04, 0x00, len(ONECARD_AID))) + ONECARD_AID + b"\x00"
    exchange(transport, select, what="SELECT one-card applet")
    challenge = exchange(transport, bytes.fromhex("0084000008"), what="GET CHALLENGE")
    host = secrets.token_bytes(issuing.CHALLENGE_LENGTH)
    cryptogram = issuing.host_cryptogram(transport_key, challenge, host)
    apdu = bytes((0x80, issuing.INS_EXTERNAL_AUTHENTICATE, 0, 0, 16)) + host + cryptogram
    card_cryptogram = exchange(transport, apdu + b"\x08", what="EXTERNAL AUTHENTICATE")
    if not macs_equal(card_cryptogram, issuing.card_cryptogram(transport_key, challenge, host)):
        raise ReaderError("the card's cryptogram is wrong: not the card we have keys for")
    return issuing.Session.open(transport_key, challenge, host)


def _wrapped(session: issuing.Session, command: OneCardCommand) -> bytes:
    apdu = command.apdu()
    return session.wrap(apdu.ins, apdu.p1, apdu.p2, apdu.data)


def personalise(transport: CardTransport, plan: PersonalisationPlan) -> PersonalisationResult:
    iccid = read_iccid(transport)
    session = open_session(transport, plan.transport_key)
    keys = derive_enterprise_keys(plan.sam_master, iccid, plan.enterprise_id, plan.key_version)
    ota = derive_card_keyset(plan.ota_master, iccid) if plan.ota_master else None
    kic = (int(ota.kic_algorithm), ota.kic_index, ota.kic) if ota else None
    kid = (int(ota.kid_algorithm), ota.kid_index, ota.kid) if ota else None
    put_key = issuing.put_key_data(keys, kic, kid)
    exchange(transport, session.wrap(issuing.INS_PUT_KEY, 0, 0, put_key), what="PUT KEY")
    data = issuing.put_data(plan.per_purchase_limit, plan.daily_limit, plan.app_info)
    if data:
        exchange(transport, session.wrap(issuing.INS_PUT_DATA, 0, 0, data), what="PUT DATA")
    installed = []
    for sub in plan.sub_apps:
        exchange(transport, _wrapped(session, Install(sub.app, plan.enterprise_id)),
                 what=f"INSTALL {sub.app.name}")
        personal = Personalise(sub.app, sub.member_number, sub.credential, sub.purse_limit_fen,
                               sub.valid_until)
        exchange(transport, _wrapped(session, personal), what=f"PERSONALISE {sub.app.name}")
        installed.append(sub.app)
    return PersonalisationResult(iccid, ota, tuple(installed))
