"""OTA in the card role (3GPP TS 31.115, ETSI TS 102 225 / 102 226), on the ``ota`` package.

ENVELOPE (SMS-PP DOWNLOAD, TS 31.111 7.1.1) → SMS-DELIVER (PID '7F') → reassembly of
concatenated segments (``ota.smspp``) → SCP80 verification with the card's key sets and counter
policy (``ota.packet.verify_command``) → the counter is stored → dispatch by TAR → the secured
APDUs run in a context of their own → PoR (``ota.por``) with the status of the outcome, also
for every refusal, returned in the ENVELOPE response (the ME's SMS-DELIVER-REPORT) or by a
SEND SHORT MESSAGE proactive command, as SPI octet 2 b6 asks.

TARs (TS 101 220 Annex D): ``ONE`` the one-card applet and ``000000`` the card manager (both
served by the one-card applet, see ``ota.onecard_apdu``); ``B00000``..``B000FF`` remote file
management (TS 102 226 clause 7) of this card's file system with the issuer's rights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ota.counters import COUNTER_MAX
from ota.errors import FormatError, OtaError
from ota.keys import OtaKeyset
from ota.onecard_apdu import TAR_CARD_MANAGER, TAR_ONECARD
from ota.packet import CommandHeader, TarSecurity, VerifiedCommand, verify_command
from ota.por import PorStatus, error_response, respond
from ota.remote import CompactResponse, ExpandedResponse, RApdu, parse_expanded_command
from ota.smspp import TP_PID_SIM_DATA_DOWNLOAD, Reassembler
from ota.spi import (
    CounterMode,
    Integrity,
    KicAlgorithm,
    KidCcAlgorithm,
    KidRcAlgorithm,
    MinimumSecurityLevel,
    PorTransport,
    Spi,
)
from sim_emulator import files
from sim_emulator.applet import Applet
from sim_emulator.errors import WrongData
from sim_emulator.sw import more_data
from smpp.errors import SmppError
from smpp.sms import SmsDeliver, SmsSubmit
from smpp.sms_fields import Address as SmsAddress
from smpp.udh import Iei, InformationElement, Udh
from stk.commands import SendShortMessage
from stk.envelopes import SmsPpDownload, decode_envelope
from stk.errors import StkError
from stk.ies import AlphaIdentifier

if TYPE_CHECKING:
    from sim_emulator.card import SimCard

RFM_TAR_PREFIX = b"\xb0\x00"
# Minimum security levels (TS 102 226 8.2.1.3.2.4.2, coded like SPI octet 1): the purse and the
# card manager want ciphering, a CC and a rising counter; file management a CC and a counter.
DEFAULT_MSL = {
    TAR_ONECARD: MinimumSecurityLevel(CounterMode.HIGHER, True, Integrity.CC),
    TAR_CARD_MANAGER: MinimumSecurityLevel(CounterMode.HIGHER, True, Integrity.CC),
    RFM_TAR_PREFIX: MinimumSecurityLevel(CounterMode.HIGHER, False, Integrity.CC),
}
# TS 102 226 5.1.1: a script stops at the first command answering an error; warnings go on.
_CONTINUE_SW1 = frozenset({0x90, 0x91, 0x92, 0x61, 0x9F, 0x62, 0x63})
_OTA_DCS = 0xF6  # class 2, 8-bit data (TS 23.038 4), as for the command


@dataclass
class StoredKeyset:
    """A key set and its replay counter (TS 102 225 5.1.1: one counter per key set)."""

    keyset: OtaKeyset = field(repr=False)
    counter: int = 0

    def to_dict(self) -> dict[str, Any]:
        k = self.keyset
        return {
            "kic_algorithm": k.kic_algorithm.name, "kic_index": k.kic_index, "kic": k.kic.hex(),
            "kid_algorithm": k.kid_algorithm.name, "kid_index": k.kid_index, "kid": k.kid.hex(),
            "rc_algorithm": k.rc_algorithm.name, "counter": self.counter,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StoredKeyset:
        keyset = OtaKeyset(
            kic_algorithm=KicAlgorithm[raw["kic_algorithm"]], kic_index=int(raw["kic_index"]),
            kic=bytes.fromhex(raw["kic"]),
            kid_algorithm=KidCcAlgorithm[raw["kid_algorithm"]], kid_index=int(raw["kid_index"]),
            kid=bytes.fromhex(raw["kid"]),
            rc_algorithm=KidRcAlgorithm[raw.get("rc_algorithm", "CRC32")],
        )
        return cls(keyset, int(raw.get("counter", 0)))


@dataclass
class OtaState:
    keysets: list[StoredKeyset] = field(default_factory=list)
    # TAR (hex) -> minimum security level octet, overriding DEFAULT_MSL (tests, lab cards).
    msl: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"keysets": [k.to_dict() for k in self.keysets], "msl": dict(self.msl)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> OtaState:
        return cls([StoredKeyset.from_dict(k) for k in raw.get("keysets", [])],
                   {str(t): int(v) for t, v in raw.get("msl", {}).items()})

    def install(self, keyset: OtaKeyset) -> None:
        """Add a key set, or replace the one with the same KID index.

        New key material starts a new counter at 0: no packet secured with the old keys can
        verify under the new ones, so the old counter protects nothing, and the gateway
        (which derived the new keys) starts its counter afresh too.
        """
        for stored in self.keysets:
            if stored.keyset.kid_index == keyset.kid_index:
                if stored.keyset != keyset:
                    stored.keyset, stored.counter = keyset, 0
                return
        self.keysets.append(StoredKeyset(keyset))


class RemoteApplication(Protocol):
    """An application reachable by TAR: how it splits compact scripts and runs one APDU."""

    def split_script(self, data: bytes) -> list[bytes]: ...

    def run_remote(self, card: SimCard, apdu: bytes, context: files.Channel) -> bytes: ...


class RemoteFileManagement:
    """TS 102 226 clause 7: file commands on the card's own file system, issuer's rights.

    Compact scripts carry T=0 TPDUs (CLA INS P1 P2 P3 [data]); P3 is Le for the outgoing
    instructions and Lc otherwise. As on a T=0 card, data produced by a command sent without
    Le is announced with '61xx' and fetched with GET RESPONSE (the real-card PoRs in the
    conformance vectors answer '6132' to SELECT MF).
    """

    _OUTGOING = frozenset({0xB0, 0xB2, 0xC0, 0xF2, 0x12, 0xCA, 0x84})

    _UPDATES = frozenset({0xD6, 0xDC, 0xE2, 0x44, 0x04})

    def __init__(self) -> None:
        self._pending: dict[int, bytes] = {}
        self.updated = False  # a file changed since the flag was last cleared

    def split_script(self, data: bytes) -> list[bytes]:
        apdus, i = [], 0
        while i < len(data):
            if len(data) - i < 5:
                raise FormatError(f"truncated TPDU at offset {i} of the remote script")
            p3 = data[i + 4]
            length = 5 if data[i + 1] in self._OUTGOING else 5 + p3
            if i + length > len(data):
                raise FormatError(f"TPDU at offset {i} runs past the end of the script")
            apdus.append(data[i : i + length])
            i += length
        return apdus

    def run_remote(self, card: SimCard, apdu: bytes, context: files.Channel) -> bytes:
        key = id(context)
        if len(apdu) >= 2 and apdu[1] == 0xC0:
            data = self._pending.pop(key, b"")
            wanted = apdu[4] if len(apdu) >= 5 and apdu[4] else len(data)
            return data[:wanted] + (b"\x90\x00" if data else b"\x69\x85")
        response = card.execute_in(apdu, context)
        self._pending.pop(key, None)
        body, sw = response[:-2], response[-2:]
        if apdu[1] in self._UPDATES and sw == b"\x90\x00":
            self.updated = True
        case3 = len(apdu) > 5 and apdu[1] not in self._OUTGOING
        if body and case3 and sw == b"\x90\x00":
            self._pending[key] = body
            return more_data(len(body)).to_bytes(2, "big")
        return response


class OtaApplet(Applet):
    """Receives SMS-PP downloads and answers with proofs of receipt."""

    name = "ota"
    envelope_tags = (0xD1,)

    def __init__(self, state: OtaState, onecard: RemoteApplication | None = None) -> None:
        self.state = state
        self.onecard = onecard
        self.rfm = RemoteFileManagement()
        self._reassemblers: dict[str, Reassembler] = {}
        self._message_reference = 0
        self.last_status: int | None = None  # status of the last PoR built (diagnostics, bench)

    def dump(self) -> dict[str, Any]:
        return self.state.to_dict()

    def on_reset(self, card: SimCard) -> None:
        # Segments held across a reset are lost, as in a card's RAM.
        self._reassemblers.clear()

    # -- envelope -------------------------------------------------------------------------

    def on_envelope(self, card: SimCard, envelope: bytes) -> bytes:
        deliver = _deliver_of(envelope)
        key = str(deliver.originator)
        reassembler = self._reassemblers.setdefault(key, Reassembler())
        assert deliver.udh is not None  # _deliver_of checked it
        try:
            # 8-bit data (DCS F6): TP-UD is the header followed by the payload as received.
            packet = reassembler.feed(deliver.udh.encode() + deliver.payload)
        except OtaError as exc:
            # Nothing of a command header is known yet: no PoR can be addressed (TS 102 225
            # 5.2); the ME turns the error status word into an RP-ERROR.
            raise WrongData(f"SMS-PP segment refused: {exc.detail}") from exc
        if packet is None:
            return b""  # more segments to come; the ME acknowledges this one
        por, spi = self.process_packet(card, packet)
        if por is None:
            return b""
        if spi is not None and spi.por_transport is PorTransport.SMS_SUBMIT:
            self._send_por(card, deliver.originator, por)
            return b""
        return por

    def _send_por(self, card: SimCard, destination: SmsAddress, por: bytes) -> None:
        """SEND SHORT MESSAGE of an SMS-SUBMIT carrying the PoR (TS 31.115 4.4, TS 31.111)."""
        self._message_reference = (self._message_reference + 1) & 0xFF
        submit = SmsSubmit(
            destination, self._message_reference, TP_PID_SIM_DATA_DOWNLOAD, _OTA_DCS,
            Udh((InformationElement(Iei.RPI),)), por[3:],
        )
        command = SendShortMessage(alpha=AlphaIdentifier(), tpdu=submit.encode())
        card.proactive.push(command.encode(), lambda _response: None)

    # -- SCP80 ----------------------------------------------------------------------------

    def process_packet(self, card: SimCard, packet: bytes) -> tuple[bytes | None, Spi | None]:
        """Verify and execute one command packet; the PoR TP-UD (or None) and the SPI."""
        try:
            verified = verify_command(packet, self._security, self._counter)
        except OtaError as exc:
            self.last_status = int(exc.por_status)
            spi = exc.context.header.spi if exc.context is not None else None
            return error_response(exc), spi
        if verified.new_counter is not None:
            self._store_counter(verified)
        status, data = self._dispatch(card, verified)
        self.last_status = status
        return respond(verified.context, status, data), verified.header.spi

    def _security(self, tar: bytes) -> TarSecurity | None:
        if self._target(tar) is None:
            return None
        msl = self.state.msl.get(tar.hex())
        minimum = (MinimumSecurityLevel.decode(msl) if msl is not None
                   else DEFAULT_MSL.get(tar, DEFAULT_MSL[RFM_TAR_PREFIX]))
        return TarSecurity(tuple(k.keyset for k in self.state.keysets), minimum)

    def _stored(self, header: CommandHeader) -> StoredKeyset | None:
        index = header.kid >> 4
        return next((k for k in self.state.keysets if k.keyset.kid_index == index), None)

    def _counter(self, header: CommandHeader) -> int:
        stored = self._stored(header)
        # A key set the card does not hold has no counter: refusing is the safe answer.
        return stored.counter if stored is not None else COUNTER_MAX

    def _store_counter(self, verified: VerifiedCommand) -> None:
        stored = self._stored(verified.header)
        if stored is not None and verified.new_counter is not None:
            stored.counter = verified.new_counter

    def _target(self, tar: bytes) -> RemoteApplication | None:
        if tar in (TAR_ONECARD, TAR_CARD_MANAGER):
            return self.onecard
        if tar[:2] == RFM_TAR_PREFIX:
            return self.rfm
        return None

    def _dispatch(self, card: SimCard, verified: VerifiedCommand) -> tuple[int, bytes]:
        target = self._target(verified.header.tar)
        if target is None:  # cannot happen: _security already refused unknown TARs
            return PorStatus.TAR_UNKNOWN, b""
        self.rfm.updated = False
        data = run_script(card, target, verified.data)
        if self.rfm.updated:
            for applet in card.applets:
                applet.on_file_update(card)
        return PorStatus.POR_OK, data


def run_script(card: SimCard, target: RemoteApplication, data: bytes) -> bytes:
    """Run a compact (5.1) or expanded (5.2, tag 'AA') script; the remote response data."""
    expanded = data[:1] == b"\xaa"
    try:
        apdus = parse_expanded_command(data) if expanded else target.split_script(data)
    except OtaError:
        # TS 102 226 5.2.2: expanded format reports "bad format" (tag 90, '01' unknown
        # structure); the compact format has no such field: nothing ran, '6700'.
        if expanded:
            return ExpandedResponse(0, bad_format=0x01).encode()
        return CompactResponse(0, 0x6700).encode()
    context = card.new_context()
    context.privileged = target is not None and isinstance(target, RemoteFileManagement)
    responses: list[RApdu] = []
    for apdu in apdus:
        raw = target.run_remote(card, apdu, context)
        responses.append(RApdu(raw[:-2], int.from_bytes(raw[-2:], "big")))
        if raw[-2] not in _CONTINUE_SW1:
            break
    if expanded:
        return ExpandedResponse(len(responses), tuple(responses)).encode()
    if not responses:
        return CompactResponse(0, 0x9000).encode()
    last = responses[-1]
    return CompactResponse(len(responses), last.sw, last.data).encode()


def _deliver_of(envelope: bytes) -> SmsDeliver:
    """The SMS-DELIVER inside an SMS-PP DOWNLOAD, checked for PID '7F' and a UDH."""
    try:
        decoded = decode_envelope(envelope)
    except StkError as exc:
        raise WrongData(f"SMS-PP DOWNLOAD envelope: {exc}") from exc
    if not isinstance(decoded, SmsPpDownload):
        raise WrongData("envelope 'D1' is not an SMS-PP DOWNLOAD")
    try:
        deliver = SmsDeliver.decode(decoded.tpdu)
    except SmppError as exc:
        raise WrongData(f"SMS-DELIVER TPDU: {exc}") from exc
    if deliver.pid != TP_PID_SIM_DATA_DOWNLOAD or deliver.udh is None:
        raise WrongData("SMS-PP download needs PID '7F' and a user data header")
    if deliver.coding.septets:
        raise WrongData("SMS-PP download carries 8-bit data (TS 31.115 4.2), not 7-bit text")
    return deliver
