"""Envelopes from terminal to UICC (ETSI TS 102 223 clause 7; TS 31.111 clause 7).

- MENU SELECTION ``D3`` (TS 102 223 7.2.2): keypad -> UICC, item identifier, help request.
- SMS-PP DOWNLOAD ``D1`` (TS 31.111 7.1.1.2): network -> UICC, the service centre address
  (RP-OA, 8.1) and the SMS-DELIVER TPDU (8.13) that carries an OTA command packet.

Other envelope tags decode to ``OtherEnvelope`` with every data object kept, looked up in the
envelope's own scope. Each envelope travels in ``80 C2 00 00 Lc data`` (``stk.apdu``).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from stk.apdu import CLA_UICC, Instruction, envelope_apdu, parse_command_apdu
from stk.errors import UnsupportedObjectError
from stk.ie_base import IeBag, byte_field, decode_ies, describe_tlvs, label, scope_of
from stk.ies import Address, DeviceIdentities, HelpRequest, Ie, ItemIdentifier, SmsTpdu
from stk.tags import BerTag, DeviceIdentity
from stk.tlv import BerTlv, decode_ber, decode_ctlvs, encode_ctlvs

_ENVELOPES: dict[int, type[Envelope]] = {}


@dataclass(frozen=True, kw_only=True)
class Envelope(abc.ABC):
    """A BER-TLV envelope object: device identities (8.7) first, then its data objects."""

    BER_TAG: ClassVar[BerTag]

    source: int
    destination: int = DeviceIdentity.UICC
    # Data objects this class does not model, in arrival order; re-encoded after the others.
    extra: tuple[Ie, ...] = ()

    def __init_subclass__(cls, *, ber_tag: BerTag | None = None, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if ber_tag is not None:
            cls.BER_TAG = ber_tag
            _ENVELOPES[ber_tag] = cls

    def __post_init__(self) -> None:
        byte_field("source device identity", self.source)
        byte_field("destination device identity", self.destination)

    @property
    def tag(self) -> int:
        return int(self.BER_TAG)

    @abc.abstractmethod
    def body(self) -> Sequence[Ie | None]:
        """The data objects after device identities, in the order of the envelope's clause."""

    @classmethod
    @abc.abstractmethod
    def from_body(cls, devices: DeviceIdentities, bag: IeBag) -> Self:
        """Build the envelope from its decoded data objects (taken out of ``bag``)."""

    def ies(self) -> list[Ie]:
        head: list[Ie] = [DeviceIdentities(self.source, self.destination)]
        return head + [ie for ie in self.body() if ie is not None] + list(self.extra)

    def encode(self) -> bytes:
        return BerTlv(self.tag, encode_ctlvs(ie.to_ctlv() for ie in self.ies())).encode()

    def to_apdu(self, cla: int = CLA_UICC) -> bytes:
        """``80 C2 00 00 Lc`` and the envelope (no Le)."""
        return envelope_apdu(self.encode(), cla)

    def describe(self) -> list[str]:
        data = self.encode()
        tlv = decode_ber(data)
        header = data[: len(data) - len(tlv.value)].hex(" ").upper()
        lines = [f"{header}  Envelope: {label(self.tag, BerTag).upper()}"]
        return lines + describe_tlvs(decode_ctlvs(tlv.value), scope_of(self.tag, envelope=True))


@dataclass(frozen=True, kw_only=True)
class MenuSelection(Envelope, ber_tag=BerTag.MENU_SELECTION):
    """TS 102 223 7.2.2: the user chose ``item_identifier`` of the SET UP MENU items."""

    source: int = DeviceIdentity.KEYPAD
    item_identifier: int
    help_request: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        byte_field("item identifier", self.item_identifier)

    def body(self) -> Sequence[Ie | None]:
        return [ItemIdentifier(self.item_identifier), HelpRequest() if self.help_request else None]

    @classmethod
    def from_body(cls, devices: DeviceIdentities, bag: IeBag) -> Self:
        item = bag.require(ItemIdentifier, "MENU SELECTION")
        return cls(
            source=devices.source,
            destination=devices.destination,
            item_identifier=item.identifier,
            help_request=bag.take(HelpRequest) is not None,
            extra=bag.rest(),
        )


@dataclass(frozen=True, kw_only=True)
class SmsPpDownload(Envelope, ber_tag=BerTag.SMS_PP_DOWNLOAD):
    """TS 31.111 7.1.1.2: an SMS-DELIVER for the UICC (PID '7F'), e.g. an OTA command packet.

    ``address`` is the originating service centre (RP-OA); ``tpdu`` the SMS-DELIVER TPDU.
    """

    source: int = DeviceIdentity.NETWORK
    tpdu: bytes
    address: Address | None = None

    def body(self) -> Sequence[Ie | None]:
        return [self.address, SmsTpdu(self.tpdu)]

    @classmethod
    def from_body(cls, devices: DeviceIdentities, bag: IeBag) -> Self:
        address = bag.take(Address)
        tpdu = bag.require(SmsTpdu, "SMS-PP DOWNLOAD")
        return cls(
            source=devices.source,
            destination=devices.destination,
            tpdu=tpdu.data,
            address=address,
            extra=bag.rest(),
        )


@dataclass(frozen=True, kw_only=True)
class OtherEnvelope(Envelope):
    """An envelope without a class here; all its data objects, device identities included,
    are in ``extra`` in their original order (EVENT DOWNLOAD puts the event list first)."""

    source: int = DeviceIdentity.TERMINAL
    ber_tag: int

    @property
    def tag(self) -> int:
        return self.ber_tag

    def body(self) -> Sequence[Ie | None]:
        return []

    def ies(self) -> list[Ie]:
        return list(self.extra)

    @classmethod
    def from_body(cls, devices: DeviceIdentities, bag: IeBag) -> Self:
        raise UnsupportedObjectError("OtherEnvelope is built by decode_envelope")


def decode_envelope(data: bytes) -> Envelope:
    """Decode one envelope BER-TLV object (the ENVELOPE data field)."""
    ber = decode_ber(data)
    scope = scope_of(ber.tag, envelope=True)
    if scope is None or ber.tag == BerTag.PROACTIVE_COMMAND:
        raise UnsupportedObjectError(f"tag {ber.tag:02X} is not an envelope tag (D1..DF)")
    bag = IeBag(decode_ies(decode_ctlvs(ber.value), scope))
    cls = _ENVELOPES.get(ber.tag)
    if cls is None:
        devices = next((ie for ie in bag.rest() if isinstance(ie, DeviceIdentities)), None)
        source = DeviceIdentity.TERMINAL if devices is None else devices.source
        destination = DeviceIdentity.UICC if devices is None else devices.destination
        return OtherEnvelope(
            ber_tag=ber.tag, source=source, destination=destination, extra=bag.rest()
        )
    return cls.from_body(bag.require(DeviceIdentities, label(ber.tag, BerTag)), bag)


def decode_envelope_apdu(apdu: bytes) -> Envelope:
    """Decode an ENVELOPE command APDU (``80 C2 00 00 Lc data [Le]``)."""
    return decode_envelope(parse_command_apdu(apdu, Instruction.ENVELOPE))


def envelope_classes() -> dict[int, type[Envelope]]:
    return dict(_ENVELOPES)
