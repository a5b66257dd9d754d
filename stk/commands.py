"""Proactive commands (ETSI TS 102 223 clause 6.6; TS 31.111 6.6 for SEND SHORT MESSAGE).

A proactive command is the BER-TLV ``D0`` (TS 101 220 Table 7.17) around COMPREHENSION-TLVs:
command details (8.6), device identities (8.7), then the data objects of its type. The card
encodes them and the handset decodes them; ``decode_proactive_command`` dispatches by type of
command (9.4) and keeps every data object it does not model in ``extra`` so that nothing is
lost on the way through. Types without a class here decode to ``OtherCommand``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypedDict

from stk.errors import MissingIeError, UnsupportedObjectError
from stk.ie_base import IeBag, byte_field, decode_ies, describe_tlvs, label, scope_of
from stk.ies import (
    Address,
    AlphaIdentifier,
    CommandDetails,
    DefaultText,
    DeviceIdentities,
    Duration,
    FrameIdentifier,
    IconIdentifier,
    Ie,
    ImmediateResponse,
    Item,
    ItemIconIdentifierList,
    ItemIdentifier,
    ItemsNextActionIndicator,
    ItemTextAttributeList,
    ResponseLength,
    SmsTpdu,
    TextAttribute,
    TextString,
)
from stk.tags import BerTag, CommandType, DeviceIdentity, Tag
from stk.tlv import BerTlv, decode_ber, decode_ctlvs, encode_ctlvs

_COMMANDS: dict[int, type[ProactiveCommand]] = {}


class _Header(TypedDict):
    number: int
    qualifier: int
    source: int
    destination: int


@dataclass(frozen=True, kw_only=True)
class ProactiveCommand(abc.ABC):
    """Common part of every proactive command: command details and device identities."""

    COMMAND_TYPE: ClassVar[CommandType]

    number: int = 1
    qualifier: int = 0
    source: int = DeviceIdentity.UICC
    destination: int = DeviceIdentity.TERMINAL
    # Data objects this class does not model, in arrival order; re-encoded after the others.
    extra: tuple[Ie, ...] = ()

    def __init_subclass__(cls, *, command_type: CommandType | None = None, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if command_type is not None:
            cls.COMMAND_TYPE = command_type
            _COMMANDS[command_type] = cls

    def __post_init__(self) -> None:
        # Fail when the command is built, not later inside encode().
        byte_field("command number", self.number)
        byte_field("command qualifier", self.qualifier)
        byte_field("source device identity", self.source)
        byte_field("destination device identity", self.destination)

    @property
    def command_type(self) -> int:
        return int(self.COMMAND_TYPE)

    @property
    def details(self) -> CommandDetails:
        return CommandDetails(self.number, self.command_type, self.qualifier)

    @abc.abstractmethod
    def body(self) -> Sequence[Ie | None]:
        """The data objects after device identities, in the order of the command's clause."""

    @classmethod
    @abc.abstractmethod
    def from_body(cls, header: _Header, bag: IeBag) -> Self:
        """Build the command from its decoded data objects (taken out of ``bag``)."""

    def ies(self) -> list[Ie]:
        head: list[Ie] = [self.details, DeviceIdentities(self.source, self.destination)]
        return head + [ie for ie in self.body() if ie is not None] + list(self.extra)

    def encode(self) -> bytes:
        """The complete ``D0`` object, as FETCH returns it."""
        value = encode_ctlvs(ie.to_ctlv() for ie in self.ies())
        return BerTlv(BerTag.PROACTIVE_COMMAND, value).encode()

    def describe(self) -> list[str]:
        """Analyser-style lines: the D0 header, then one line per data object."""
        data = self.encode()
        tlv = decode_ber(data)
        header = data[: len(data) - len(tlv.value)].hex(" ").upper()
        kind = label(self.command_type, CommandType).upper()
        lines = [f"{header}  Proactive command: {kind}"]
        return lines + describe_tlvs(decode_ctlvs(tlv.value), scope_of(self.command_type))


def _flag(qualifier: int, bit: int) -> bool:
    return bool(qualifier & bit)


@dataclass(frozen=True, kw_only=True)
class SetUpMenu(ProactiveCommand, command_type=CommandType.SET_UP_MENU):
    """TS 102 223 6.6.7. ``items=()`` removes the menu (sent as one null item, 8.9)."""

    QUALIFIER_SOFT_KEY = 0x01  # b1: selection using soft key preferred
    QUALIFIER_HELP = 0x80  # b8: help information available

    alpha: AlphaIdentifier
    items: tuple[Item, ...]
    next_actions: ItemsNextActionIndicator | None = None
    icon: IconIdentifier | None = None
    item_icons: ItemIconIdentifierList | None = None
    text_attribute: TextAttribute | None = None
    item_text_attributes: ItemTextAttributeList | None = None

    @classmethod
    def removal(cls, number: int = 1) -> Self:
        """The command that removes the menu: null alpha identifier and null item."""
        return cls(number=number, alpha=AlphaIdentifier(), items=())

    @property
    def help_available(self) -> bool:
        return _flag(self.qualifier, self.QUALIFIER_HELP)

    def body(self) -> Sequence[Ie | None]:
        items: list[Ie] = list(self.items) or [Item(None)]
        return [
            self.alpha,
            *items,
            self.next_actions,
            self.icon,
            self.item_icons,
            self.text_attribute,
            self.item_text_attributes,
        ]

    @classmethod
    def from_body(cls, header: _Header, bag: IeBag) -> Self:
        alpha = bag.require(AlphaIdentifier, "SET UP MENU")
        items = _items(bag, "SET UP MENU", allow_null=True)
        return cls(
            **header,
            alpha=alpha,
            items=items,
            next_actions=bag.take(ItemsNextActionIndicator),
            icon=bag.take(IconIdentifier),
            item_icons=bag.take(ItemIconIdentifierList),
            text_attribute=bag.take(TextAttribute),
            item_text_attributes=bag.take(ItemTextAttributeList),
            extra=bag.rest(),
        )


def _items(bag: IeBag, context: str, *, allow_null: bool) -> tuple[Item, ...]:
    items = bag.take_all(Item)
    if not items:
        raise MissingIeError(f"{context}: at least one item (TS 102 223 8.9) is required")
    if allow_null and len(items) == 1 and items[0].identifier is None:
        return ()
    if any(item.identifier is None for item in items):
        raise MissingIeError(f"{context}: a null item may only appear alone, to remove a menu")
    return items


@dataclass(frozen=True, kw_only=True)
class SelectItem(ProactiveCommand, command_type=CommandType.SELECT_ITEM):
    """TS 102 223 6.6.8: a list of items, optionally with a default item (8.10)."""

    QUALIFIER_PRESENTATION = 0x01  # b1: presentation type is specified in b2
    QUALIFIER_NAVIGATION = 0x02  # b2: navigation options (else choice of data values)
    QUALIFIER_SOFT_KEY = 0x04  # b3: selection using soft key preferred
    QUALIFIER_HELP = 0x80  # b8: help information available

    items: tuple[Item, ...]
    alpha: AlphaIdentifier | None = None
    next_actions: ItemsNextActionIndicator | None = None
    default_item: int | None = None
    icon: IconIdentifier | None = None
    item_icons: ItemIconIdentifierList | None = None
    text_attribute: TextAttribute | None = None
    item_text_attributes: ItemTextAttributeList | None = None
    frame: FrameIdentifier | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.default_item is not None:
            byte_field("default item identifier", self.default_item)

    @property
    def help_available(self) -> bool:
        return _flag(self.qualifier, self.QUALIFIER_HELP)

    def body(self) -> Sequence[Ie | None]:
        default = None if self.default_item is None else ItemIdentifier(self.default_item)
        return [
            self.alpha,
            *self.items,
            self.next_actions,
            default,
            self.icon,
            self.item_icons,
            self.text_attribute,
            self.item_text_attributes,
            self.frame,
        ]

    @classmethod
    def from_body(cls, header: _Header, bag: IeBag) -> Self:
        alpha = bag.take(AlphaIdentifier)
        items = _items(bag, "SELECT ITEM", allow_null=False)
        default = bag.take(ItemIdentifier)
        return cls(
            **header,
            alpha=alpha,
            items=items,
            next_actions=bag.take(ItemsNextActionIndicator),
            default_item=None if default is None else default.identifier,
            icon=bag.take(IconIdentifier),
            item_icons=bag.take(ItemIconIdentifierList),
            text_attribute=bag.take(TextAttribute),
            item_text_attributes=bag.take(ItemTextAttributeList),
            frame=bag.take(FrameIdentifier),
            extra=bag.rest(),
        )


@dataclass(frozen=True, kw_only=True)
class DisplayText(ProactiveCommand, command_type=CommandType.DISPLAY_TEXT):
    """TS 102 223 6.6.1: show a text on the display (destination device '02')."""

    QUALIFIER_HIGH_PRIORITY = 0x01  # b1: high priority (else normal)
    QUALIFIER_WAIT_FOR_USER = 0x80  # b8: wait for the user to clear (else clear after delay)

    destination: int = DeviceIdentity.DISPLAY
    text: TextString
    icon: IconIdentifier | None = None
    immediate_response: bool = False
    duration: Duration | None = None
    text_attribute: TextAttribute | None = None
    frame: FrameIdentifier | None = None

    @property
    def high_priority(self) -> bool:
        return _flag(self.qualifier, self.QUALIFIER_HIGH_PRIORITY)

    @property
    def wait_for_user(self) -> bool:
        return _flag(self.qualifier, self.QUALIFIER_WAIT_FOR_USER)

    def body(self) -> Sequence[Ie | None]:
        immediate = ImmediateResponse() if self.immediate_response else None
        return [self.text, self.icon, immediate, self.duration, self.text_attribute, self.frame]

    @classmethod
    def from_body(cls, header: _Header, bag: IeBag) -> Self:
        text = bag.require(TextString, "DISPLAY TEXT")
        return cls(
            **header,
            text=text,
            icon=bag.take(IconIdentifier),
            immediate_response=bag.take(ImmediateResponse) is not None,
            duration=bag.take(Duration),
            text_attribute=bag.take(TextAttribute),
            frame=bag.take(FrameIdentifier),
            extra=bag.rest(),
        )


@dataclass(frozen=True, kw_only=True)
class GetInput(ProactiveCommand, command_type=CommandType.GET_INPUT):
    """TS 102 223 6.6.3: ask the user for a string (prompt, length limits, default)."""

    QUALIFIER_ALPHABET = 0x01  # b1: SMS default alphabet (else digits 0-9 * # + only)
    QUALIFIER_UCS2 = 0x02  # b2: UCS2 alphabet
    QUALIFIER_HIDDEN = 0x04  # b3: the user input shall not be revealed
    QUALIFIER_PACKED = 0x08  # b4: answer in packed format
    QUALIFIER_HELP = 0x80  # b8: help information available

    prompt: TextString
    response_length: ResponseLength
    default_text: DefaultText | None = None
    icon: IconIdentifier | None = None
    text_attribute: TextAttribute | None = None
    frame: FrameIdentifier | None = None
    duration: Duration | None = None

    @property
    def digits_only(self) -> bool:
        return not _flag(self.qualifier, self.QUALIFIER_ALPHABET)

    @property
    def ucs2(self) -> bool:
        return _flag(self.qualifier, self.QUALIFIER_UCS2)

    @property
    def hidden(self) -> bool:
        return _flag(self.qualifier, self.QUALIFIER_HIDDEN)

    @property
    def packed(self) -> bool:
        return _flag(self.qualifier, self.QUALIFIER_PACKED)

    def body(self) -> Sequence[Ie | None]:
        return [
            self.prompt,
            self.response_length,
            self.default_text,
            self.icon,
            self.text_attribute,
            self.frame,
            self.duration,
        ]

    @classmethod
    def from_body(cls, header: _Header, bag: IeBag) -> Self:
        prompt = bag.require(TextString, "GET INPUT")
        length = bag.require(ResponseLength, "GET INPUT")
        return cls(
            **header,
            prompt=prompt,
            response_length=length,
            default_text=bag.take(DefaultText),
            icon=bag.take(IconIdentifier),
            text_attribute=bag.take(TextAttribute),
            frame=bag.take(FrameIdentifier),
            duration=bag.take(Duration),
            extra=bag.rest(),
        )


@dataclass(frozen=True, kw_only=True)
class SendShortMessage(ProactiveCommand, command_type=CommandType.SEND_SHORT_MESSAGE):
    """TS 102 223 6.6.9 / TS 31.111 6.6.9: send an SMS-SUBMIT TPDU (destination network).

    ``address`` is the service centre address (8.1); absent, the terminal uses its default.
    """

    QUALIFIER_PACKING_REQUIRED = 0x01  # b1: the terminal shall pack the text

    destination: int = DeviceIdentity.NETWORK
    tpdu: bytes
    alpha: AlphaIdentifier | None = None
    address: Address | None = None
    icon: IconIdentifier | None = None
    text_attribute: TextAttribute | None = None
    frame: FrameIdentifier | None = None

    @property
    def packing_required(self) -> bool:
        return _flag(self.qualifier, self.QUALIFIER_PACKING_REQUIRED)

    def body(self) -> Sequence[Ie | None]:
        return [
            self.alpha,
            self.address,
            SmsTpdu(self.tpdu),
            self.icon,
            self.text_attribute,
            self.frame,
        ]

    @classmethod
    def from_body(cls, header: _Header, bag: IeBag) -> Self:
        alpha = bag.take(AlphaIdentifier)
        address = bag.take(Address)
        tpdu = bag.require(SmsTpdu, "SEND SHORT MESSAGE")
        return cls(
            **header,
            alpha=alpha,
            address=address,
            tpdu=tpdu.data,
            icon=bag.take(IconIdentifier),
            text_attribute=bag.take(TextAttribute),
            frame=bag.take(FrameIdentifier),
            extra=bag.rest(),
        )


@dataclass(frozen=True, kw_only=True)
class OtherCommand(ProactiveCommand):
    """Any type of command without a class here: its data objects are all in ``extra``.

    The handset answers it with '30' (beyond terminal capabilities) or '31' (type not
    understood); the describe output still names what it can.
    """

    type_of_command: int

    def __post_init__(self) -> None:
        super().__post_init__()
        byte_field("type of command", self.type_of_command)

    @property
    def command_type(self) -> int:
        return self.type_of_command

    def body(self) -> Sequence[Ie | None]:
        return []

    @classmethod
    def from_body(cls, header: _Header, bag: IeBag) -> Self:
        raise UnsupportedObjectError("OtherCommand is built by decode_proactive_command")


def decode_proactive_command(data: bytes) -> ProactiveCommand:
    """Decode a complete ``D0`` object (a FETCH response without its status word)."""
    ber = decode_ber(data)
    if ber.tag != BerTag.PROACTIVE_COMMAND:
        raise UnsupportedObjectError(f"tag {ber.tag:02X} is not a proactive command (D0)")
    tlvs = decode_ctlvs(ber.value)
    first = next((t for t in tlvs if t.tag == Tag.COMMAND_DETAILS), None)
    if first is None:
        raise MissingIeError("proactive command without command details (TS 102 223 8.6)")
    details = CommandDetails.decode_value(first.value)
    bag = IeBag(decode_ies(tlvs, scope_of(details.command_type)))
    bag.take(CommandDetails)
    devices = bag.require(DeviceIdentities, "proactive command")
    header = _Header(
        number=details.number,
        qualifier=details.qualifier,
        source=devices.source,
        destination=devices.destination,
    )
    cls = _COMMANDS.get(details.command_type)
    if cls is None:
        return OtherCommand(**header, type_of_command=details.command_type, extra=bag.rest())
    return cls.from_body(header, bag)


def command_classes() -> dict[int, type[ProactiveCommand]]:
    """The modelled command types and their classes."""
    return dict(_COMMANDS)
