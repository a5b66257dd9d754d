"""Card side of the issuing desk protocol (``sim_emulator.issuing``), mixed into the applet.

Commands arrive while the one-card applet itself (not a sub-application) is selected:
EXTERNAL AUTHENTICATE opens a session from the last GET CHALLENGE; PUT KEY, PUT DATA and the
wrapped sub-application commands need that session and are refused ('6982') without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ota.errors import ApduFormatError, FormatError, KeysetError
from ota.keys import OtaKeyset
from ota.onecard_apdu import APPLET_AID, Credit, Ins, OneCardCommand, decode_command
from ota.onecard_apdu import CommandApdu as OtaApdu
from ota.remote import iter_ber_tlv
from ota.spi import KicAlgorithm, KidCcAlgorithm
from sim_emulator import issuing
from sim_emulator.apdu import CommandApdu
from sim_emulator.cardkeys import KEY_LENGTH, EnterpriseKeys, macs_equal
from sim_emulator.errors import (
    AuthBlocked,
    CardError,
    ConditionsNotSatisfied,
    InsNotSupported,
    SecurityNotSatisfied,
    VerifyFailed,
    WrongData,
    WrongLength,
    WrongP1P2,
)
from sim_emulator.filesystem import Ef
from sim_emulator.sw import Sw

if TYPE_CHECKING:
    from sim_emulator.card import SimCard
    from sim_emulator.onecard_state import OneCardState

_WRAPPED = frozenset({Ins.INSTALL, Ins.STORE_DATA, Ins.SET_STATUS, Ins.DELETE})
_APP_INFO_MAX = 30


class IssuingMixin:
    state: OneCardState
    # The applet's sub-application command executor (``OneCardApplet.execute_command``).
    execute_command: Callable[[SimCard, OneCardCommand], bytes]

    def __init__(self) -> None:
        self._session: issuing.Session | None = None

    def close_session(self) -> None:
        self._session = None

    def issuing_command(self, card: SimCard, apdu: CommandApdu) -> bytes:
        if apdu.ins == issuing.INS_EXTERNAL_AUTHENTICATE and apdu.cla == 0x80:
            return self._external_authenticate(card, apdu)
        if apdu.cla != issuing.CLA_SECURED:
            raise InsNotSupported(f"INS {apdu.ins:02X} not supported by the one-card applet")
        session = self._session
        if session is None:
            raise SecurityNotSatisfied("no issuing session: EXTERNAL AUTHENTICATE first")
        try:
            plain = session.unwrap(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data)
        except SecurityNotSatisfied:
            self._session = None  # a bad MAC ends the session, as in SCP03
            raise
        if apdu.ins == issuing.INS_PUT_KEY:
            self._put_key(card, plain)
            return b""
        if apdu.ins == issuing.INS_PUT_DATA:
            self._put_data(card, plain)
            return b""
        if apdu.ins in _WRAPPED:
            return self._wrapped(card, apdu, plain)
        raise InsNotSupported(f"INS {apdu.ins:02X} is not an issuing command")

    def _external_authenticate(self, card: SimCard, apdu: CommandApdu) -> bytes:
        if apdu.p1p2 != 0:
            raise WrongP1P2("EXTERNAL AUTHENTICATE P1 P2 must be 00 00")
        if len(apdu.data) != issuing.CHALLENGE_LENGTH + issuing.CRYPTOGRAM_LENGTH:
            raise WrongLength("EXTERNAL AUTHENTICATE takes host challenge (8) and cryptogram (8)")
        challenge, card.last_challenge = card.last_challenge, None
        if challenge is None or len(challenge) != issuing.CHALLENGE_LENGTH:
            raise ConditionsNotSatisfied("GET CHALLENGE (8 octets) must come first")
        if self.state.transport_tries == 0:
            raise AuthBlocked("the transport key is blocked")
        host, cryptogram = apdu.data[:8], apdu.data[8:]
        key = self.state.transport_key
        if not macs_equal(cryptogram, issuing.host_cryptogram(key, challenge, host)):
            self.state.transport_tries -= 1
            self._session = None
            if self.state.transport_tries == 0:
                raise AuthBlocked("the transport key is now blocked")
            raise VerifyFailed(self.state.transport_tries)
        self.state.transport_tries = issuing.MAX_TRANSPORT_TRIES
        self._session = issuing.Session.open(key, challenge, host)
        return issuing.card_cryptogram(key, challenge, host)

    def _put_key(self, card: SimCard, plain: bytes) -> None:
        tlvs = _tlvs(plain)
        try:
            enterprise = int.from_bytes(tlvs[0xC9], "big")
            version = tlvs[0xC0][0]
            keys = EnterpriseKeys(enterprise, version, tlvs[0xD1], tlvs[0xD2], tlvs[0xD3])
        except (KeyError, IndexError) as exc:
            raise WrongData("PUT KEY needs C9, C0, D1, D2 and D3") from exc
        if len(tlvs[0xC9]) != 4 or any(len(k) != KEY_LENGTH for k in
                                       (keys.purchase, keys.tac, keys.credential)):
            raise WrongData("enterprise id is 4 octets and each key 16")
        ota_keys = _ota_keyset(tlvs)
        self.state.keys[enterprise] = keys
        if ota_keys is not None:
            ota = card.applet_named("ota")
            install = getattr(getattr(ota, "state", None), "install", None)
            if install is None:
                raise ConditionsNotSatisfied("this card has no OTA applet")
            install(ota_keys)

    def _put_data(self, card: SimCard, plain: bytes) -> None:
        tlvs = _tlvs(plain)
        purse = self.state.purse
        for tag, attribute in ((0xC5, "per_purchase_limit"), (0xC6, "daily_limit")):
            value = tlvs.get(tag)
            if value is not None:
                if len(value) != 4:
                    raise WrongData(f"tag {tag:02X} is a 4-octet amount")
                setattr(purse, attribute, int.from_bytes(value, "big"))
        info = tlvs.get(0xC7)
        if info is not None:
            if len(info) > _APP_INFO_MAX:
                raise WrongData(f"application information is at most {_APP_INFO_MAX} octets")
            adf = card.state.fs.adf_by_aid(APPLET_AID)
            node = adf.children.get(0xEF15)
            if isinstance(node, Ef):
                node.write(0, info.ljust(_APP_INFO_MAX, b"\x00"))

    def _wrapped(self, card: SimCard, apdu: CommandApdu, plain: bytes) -> bytes:
        le = 0x00 if apdu.ins == Ins.INSTALL else None
        try:
            command = decode_command(OtaApdu(0x80, apdu.ins, apdu.p1, apdu.p2, plain, le))
        except ApduFormatError as exc:
            raise CardError(exc.detail, exc.sw) from exc
        except FormatError as exc:
            raise WrongData(exc.detail) from exc
        if isinstance(command, Credit):  # unreachable: INS 52 is not wrapped; kept explicit
            raise SecurityNotSatisfied("CREDIT is accepted only over the air")
        return self.execute_command(card, command)


def _tlvs(plain: bytes) -> dict[int, bytes]:
    try:
        return dict(iter_ber_tlv(plain))
    except FormatError as exc:
        raise WrongData(f"malformed TLV: {exc.detail}") from exc


def _ota_keyset(tlvs: dict[int, bytes]) -> OtaKeyset | None:
    kic, kid = tlvs.get(0xD5), tlvs.get(0xD6)
    if kic is None and kid is None:
        return None
    if kic is None or kid is None or len(kic) < 3 or len(kid) < 3:
        raise WrongData("the OTA key set needs both D5 (KIc) and D6 (KID)")
    try:
        return OtaKeyset(KicAlgorithm(kic[0]), kic[1], kic[2:], KidCcAlgorithm(kid[0]), kid[1],
                         kid[2:])
    except (ValueError, KeysetError) as exc:
        raise CardError(f"unusable OTA key set: {exc}", Sw.WRONG_DATA) from exc
