"""The simple TLV data objects the one-card applets use (ETSI TS 102 223 clause 8).

Each class is a frozen dataclass registered with its tag (see ``stk.ie_base``); ``EXAMPLES``
on the classes hold small value vectors that one generic test decodes, compares and
re-encodes. The objects that carry text, addresses and opaque octets live in
``stk.ies_text`` and are re-exported here, so ``stk.ies`` is the one place to import data
objects from (and importing it registers them all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from stk.errors import IeError
from stk.ie_base import (
    Ie,
    IeBag,
    UnknownIe,
    byte_field,
    decode_ie,
    decode_ies,
    ie_class_for,
    label,
    registered_classes,
    scope_of,
)
from stk.ies_text import (
    Address,
    AlphaIdentifier,
    CApdu,
    DefaultText,
    EncryptedTlvList,
    GadShapes,
    ImpuList,
    ImsStatusCode,
    Item,
    NmeaSentence,
    OctetsIe,
    RApdu,
    SaTemplate,
    SmsTpdu,
    TextString,
)
from stk.tags import (
    CommandType,
    DeviceIdentity,
    GeneralResult,
    Tag,
    TerminalProblem,
    TimeUnit,
)

__all__ = [
    "UNSUPPORTED",
    "Address",
    "AlphaIdentifier",
    "CApdu",
    "CommandDetails",
    "DefaultText",
    "DeviceIdentities",
    "Duration",
    "EncryptedTlvList",
    "FrameIdentifier",
    "GadShapes",
    "HelpRequest",
    "IconIdentifier",
    "Ie",
    "IeBag",
    "ImmediateResponse",
    "ImpuList",
    "ImsStatusCode",
    "Item",
    "ItemIconIdentifierList",
    "ItemIdentifier",
    "ItemTextAttributeList",
    "ItemsNextActionIndicator",
    "NmeaSentence",
    "OctetsIe",
    "RApdu",
    "ResponseLength",
    "Result",
    "SaTemplate",
    "SmsTpdu",
    "TextAttribute",
    "TextFormat",
    "TextString",
    "UnknownIe",
    "decode_ie",
    "decode_ies",
    "ie_class_for",
    "registered_classes",
    "scope_of",
]


def _exact(value: bytes, size: int, what: str) -> None:
    if len(value) != size:
        raise IeError(f"{what} value must be {size} octets, got {len(value)}")


# --- command details, device identities, result (8.6, 8.7, 8.12) ---------------------------


@dataclass(frozen=True)
class CommandDetails(Ie, tag=Tag.COMMAND_DETAILS):
    """TS 102 223 8.6: command number, type of command (9.4), command qualifier."""

    NAME = "Command details"
    CLAUSE = "TS 102 223 8.6"

    number: int
    command_type: int
    qualifier: int = 0

    def __post_init__(self) -> None:
        byte_field("command number", self.number)
        byte_field("type of command", self.command_type)
        byte_field("command qualifier", self.qualifier)

    def encode_value(self) -> bytes:
        return bytes((self.number, self.command_type, self.qualifier))

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        _exact(value, 3, "command details")
        return cls(value[0], value[1], value[2])

    def summary(self) -> str:
        kind = label(self.command_type, CommandType).upper()
        return f"number {self.number}, {kind}, qualifier {self.qualifier:02X}"


@dataclass(frozen=True)
class DeviceIdentities(Ie, tag=Tag.DEVICE_IDENTITIES):
    """TS 102 223 8.7: source and destination device identities."""

    NAME = "Device identities"
    CLAUSE = "TS 102 223 8.7"

    source: int
    destination: int

    def __post_init__(self) -> None:
        byte_field("source device identity", self.source)
        byte_field("destination device identity", self.destination)

    def encode_value(self) -> bytes:
        return bytes((self.source, self.destination))

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        _exact(value, 2, "device identities")
        return cls(value[0], value[1])

    def summary(self) -> str:
        return f"{label(self.source, DeviceIdentity)} -> {label(self.destination, DeviceIdentity)}"


@dataclass(frozen=True)
class Result(Ie, tag=Tag.RESULT):
    """TS 102 223 8.12: general result and additional information."""

    NAME = "Result"
    CLAUSE = "TS 102 223 8.12"

    general: int
    additional: bytes = b""

    def __post_init__(self) -> None:
        byte_field("general result", self.general)

    def encode_value(self) -> bytes:
        return bytes((self.general,)) + self.additional

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        if not value:
            raise IeError("result value must hold at least the general result")
        return cls(value[0], value[1:])

    @property
    def performed(self) -> bool:
        return self.general < 0x20

    def summary(self) -> str:
        text = label(self.general, GeneralResult)
        if self.additional:
            if self.general == GeneralResult.TERMINAL_UNABLE_TO_PROCESS:
                cause = ", ".join(label(b, TerminalProblem) for b in self.additional)
            else:
                cause = self.additional.hex()
            text += f"; additional information {cause}"
        return text


# --- duration, identifiers, lengths (8.8, 8.10, 8.11, 8.24, 8.80) -------------------------


@dataclass(frozen=True)
class Duration(Ie, tag=Tag.DURATION):
    """TS 102 223 8.8: time unit and interval ('00' is reserved)."""

    NAME = "Duration"
    CLAUSE = "TS 102 223 8.8"

    interval: int
    unit: TimeUnit = TimeUnit.SECONDS

    def __post_init__(self) -> None:
        byte_field("time interval", self.interval, 1)

    def encode_value(self) -> bytes:
        return bytes((self.unit, self.interval))

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        _exact(value, 2, "duration")
        try:
            unit = TimeUnit(value[0])
        except ValueError:
            raise IeError(f"time unit {value[0]:02X} is reserved") from None
        return cls(value[1], unit)

    def summary(self) -> str:
        return f"{self.interval} x {self.unit.name.replace('_', ' ').lower()}"


@dataclass(frozen=True)
class ItemIdentifier(Ie, tag=Tag.ITEM_IDENTIFIER):
    """TS 102 223 8.10: identifier of an item."""

    NAME = "Item identifier"
    CLAUSE = "TS 102 223 8.10"

    identifier: int

    def __post_init__(self) -> None:
        byte_field("item identifier", self.identifier)

    def encode_value(self) -> bytes:
        return bytes((self.identifier,))

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        _exact(value, 1, "item identifier")
        return cls(value[0])

    def summary(self) -> str:
        return f"item {self.identifier}"


@dataclass(frozen=True)
class ResponseLength(Ie, tag=Tag.RESPONSE_LENGTH):
    """TS 102 223 8.11: minimum and maximum length of the user's answer."""

    NAME = "Response length"
    CLAUSE = "TS 102 223 8.11"

    minimum: int
    maximum: int

    def __post_init__(self) -> None:
        byte_field("minimum length", self.minimum)
        byte_field("maximum length", self.maximum)

    def encode_value(self) -> bytes:
        return bytes((self.minimum, self.maximum))

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        _exact(value, 2, "response length")
        return cls(value[0], value[1])

    def summary(self) -> str:
        return f"{self.minimum}..{self.maximum} characters"


@dataclass(frozen=True)
class ItemsNextActionIndicator(Ie, tag=Tag.ITEMS_NEXT_ACTION_INDICATOR):
    """TS 102 223 8.24: per item, the type of command (9.4) it will lead to."""

    NAME = "Items next action indicator"
    CLAUSE = "TS 102 223 8.24"

    actions: tuple[int, ...]

    def __post_init__(self) -> None:
        for action in self.actions:
            byte_field("next action", action)

    def encode_value(self) -> bytes:
        return bytes(self.actions)

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        return cls(tuple(value))

    def summary(self) -> str:
        return ", ".join(label(a, CommandType) for a in self.actions) or "(none)"


@dataclass(frozen=True)
class FrameIdentifier(Ie, tag=Tag.FRAME_IDENTIFIER):
    """TS 102 223 8.80: the frame a command's output goes to."""

    NAME = "Frame identifier"
    CLAUSE = "TS 102 223 8.80"

    identifier: int

    def __post_init__(self) -> None:
        byte_field("frame identifier", self.identifier)

    def encode_value(self) -> bytes:
        return bytes((self.identifier,))

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        _exact(value, 1, "frame identifier")
        return cls(value[0])

    def summary(self) -> str:
        return f"frame {self.identifier}"


# --- flags without a value (8.21, 8.43) ---------------------------------------------------


@dataclass(frozen=True)
class _FlagIe(Ie):
    def encode_value(self) -> bytes:
        return b""

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        _exact(value, 0, cls.NAME.lower())
        return cls()

    def summary(self) -> str:
        return "present"


@dataclass(frozen=True)
class HelpRequest(_FlagIe, tag=Tag.HELP_REQUEST):
    """TS 102 223 8.21: the user asked for help on the item (no value)."""

    NAME = "Help request"
    CLAUSE = "TS 102 223 8.21"


@dataclass(frozen=True)
class ImmediateResponse(_FlagIe, tag=Tag.IMMEDIATE_RESPONSE):
    """TS 102 223 8.43: answer at once, before the user clears the text (no value)."""

    NAME = "Immediate response"
    CLAUSE = "TS 102 223 8.43"


# --- icons and text attributes (8.31, 8.32, 8.72, 8.73) -----------------------------------


@dataclass(frozen=True)
class IconIdentifier(Ie, tag=Tag.ICON_IDENTIFIER):
    """TS 102 223 8.31: icon qualifier (b1: not self-explanatory) and EF(IMG) record."""

    NAME = "Icon identifier"
    CLAUSE = "TS 102 223 8.31"

    record: int
    self_explanatory: bool = True

    def __post_init__(self) -> None:
        byte_field("icon record", self.record)

    def encode_value(self) -> bytes:
        return bytes((0 if self.self_explanatory else 1, self.record))

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        _exact(value, 2, "icon identifier")
        return cls(value[1], not value[0] & 0x01)

    def summary(self) -> str:
        kind = "self-explanatory" if self.self_explanatory else "not self-explanatory"
        return f"EF(IMG) record {self.record}, {kind}"


@dataclass(frozen=True)
class ItemIconIdentifierList(Ie, tag=Tag.ITEM_ICON_IDENTIFIER_LIST):
    """TS 102 223 8.32: icon list qualifier and one EF(IMG) record per item."""

    NAME = "Item icon identifier list"
    CLAUSE = "TS 102 223 8.32"

    records: tuple[int, ...]
    self_explanatory: bool = True

    def __post_init__(self) -> None:
        for record in self.records:
            byte_field("icon record", record)

    def encode_value(self) -> bytes:
        return bytes((0 if self.self_explanatory else 1, *self.records))

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        if not value:
            raise IeError("item icon identifier list needs its qualifier octet")
        return cls(tuple(value[1:]), not value[0] & 0x01)

    def summary(self) -> str:
        return "records " + (", ".join(str(r) for r in self.records) or "(none)")


@dataclass(frozen=True)
class TextFormat:
    """One text formatting entry of TS 102 223 8.72: start, length, mode, colour."""

    start: int
    length: int
    mode: int
    colour: int

    def __post_init__(self) -> None:
        for name in ("start", "length", "mode", "colour"):
            byte_field(f"text formatting {name}", getattr(self, name))


@dataclass(frozen=True)
class _FormatsIe(Ie):
    formats: tuple[TextFormat, ...]

    def encode_value(self) -> bytes:
        return b"".join(bytes((f.start, f.length, f.mode, f.colour)) for f in self.formats)

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        if len(value) % 4:
            raise IeError(f"text formatting entries are 4 octets each, got {len(value)}")
        return cls(tuple(TextFormat(*value[i : i + 4]) for i in range(0, len(value), 4)))

    def summary(self) -> str:
        entries = [
            f"{f.start}+{f.length} mode {f.mode:02X} colour {f.colour:02X}" for f in self.formats
        ]
        return "; ".join(entries) or "(none)"


@dataclass(frozen=True)
class TextAttribute(_FormatsIe, tag=Tag.TEXT_ATTRIBUTE):
    """TS 102 223 8.72: formatting of the command's text."""

    NAME = "Text attribute"
    CLAUSE = "TS 102 223 8.72"


@dataclass(frozen=True)
class ItemTextAttributeList(_FormatsIe, tag=Tag.ITEM_TEXT_ATTRIBUTE_LIST):
    """TS 102 223 8.73: formatting of each item's text."""

    NAME = "Item text attribute list"
    CLAUSE = "TS 102 223 8.73"


# Tag values no class decodes in any container: they travel as ``UnknownIe``, verbatim, and
# a test checks that every ``Tag`` is either here or claimed by exactly one class per container.
UNSUPPORTED: frozenset[Tag] = frozenset(
    {
        Tag.CAPABILITY_CONFIGURATION_PARAMETERS,
        Tag.SUBADDRESS,
        Tag.SS_STRING,
        Tag.USSD_STRING,
        Tag.CELL_BROADCAST_PAGE,
        Tag.TONE,
        Tag.FILE_LIST,
        Tag.LOCATION_INFORMATION,
        Tag.IMEI,
        Tag.NETWORK_MEASUREMENT_RESULTS,
        Tag.EVENT_LIST,
        Tag.CAUSE,
        Tag.LOCATION_STATUS,
        Tag.TRANSACTION_IDENTIFIER,
        Tag.BCCH_CHANNEL_LIST,
        Tag.CARD_READER_STATUS,
        Tag.CARD_ATR,
        Tag.TIMER_IDENTIFIER,
        Tag.TIMER_VALUE,
        Tag.DATE_TIME_AND_TIME_ZONE,
        Tag.CALL_CONTROL_REQUESTED_ACTION,
        Tag.AT_COMMAND,
        Tag.AT_RESPONSE,
        Tag.BC_REPEAT_INDICATOR,
        Tag.DTMF_STRING,
        Tag.LANGUAGE,
        Tag.TIMING_ADVANCE,
        Tag.AID,
        Tag.BROWSER_IDENTITY,
        Tag.URL,
        Tag.BEARER,
        Tag.PROVISIONING_REFERENCE_FILE,
        Tag.BROWSER_TERMINATION_CAUSE,
        Tag.BEARER_DESCRIPTION,
        Tag.CHANNEL_DATA,
        Tag.CHANNEL_DATA_LENGTH,
        Tag.CHANNEL_STATUS,
        Tag.BUFFER_SIZE,
        Tag.CARD_READER_IDENTIFIER,
        Tag.UICC_TERMINAL_INTERFACE_TRANSPORT_LEVEL,
        Tag.OTHER_ADDRESS,
        Tag.ACCESS_TECHNOLOGY,
        Tag.DISPLAY_PARAMETERS,
        Tag.SERVICE_RECORD,
        Tag.DEVICE_FILTER,
        Tag.SERVICE_SEARCH,
        Tag.ATTRIBUTE_INFORMATION,
        Tag.SERVICE_AVAILABILITY,
        Tag.NETWORK_ACCESS_NAME,
        Tag.REMOTE_ENTITY_ADDRESS,
        Tag.PDP_CONTEXT_ACTIVATION_PARAMETERS,
        Tag.CONTACTLESS_FUNCTIONALITY_STATE,
        Tag.MAC,
        Tag.IMEISV,
        Tag.BATTERY_STATE,
        Tag.BROWSING_STATUS,
        Tag.NETWORK_SEARCH_MODE,
        Tag.FRAME_LAYOUT,
        Tag.FRAMES_INFORMATION,
        Tag.UTRAN_MEASUREMENT_QUALIFIER,
        Tag.MULTIMEDIA_MESSAGE_REFERENCE,
        Tag.MULTIMEDIA_MESSAGE_IDENTIFIER,
        Tag.MULTIMEDIA_MESSAGE_TRANSFER_STATUS,
        Tag.MEID,
        Tag.MULTIMEDIA_MESSAGE_CONTENT_IDENTIFIER,
        Tag.MULTIMEDIA_MESSAGE_NOTIFICATION,
        Tag.LAST_ENVELOPE,
        Tag.PLMNWACT_LIST,
        Tag.ROUTING_AREA_INFORMATION,
        Tag.UPDATE_ATTACH_TYPE,
        Tag.REJECTION_CAUSE_CODE,
        Tag.GEOGRAPHICAL_LOCATION_PARAMETERS,
        Tag.PLMN_LIST,
        Tag.ACTIVATE_DESCRIPTOR,
    }
)


# --- value vectors checked by tests/stk/test_ies.py (hex of the value part, object) --------
# Sources: the conformance vectors pub-cat-001..028 and TS 102 223 clause 8 layouts.

CommandDetails.EXAMPLES = (
    ("012500", CommandDetails(1, CommandType.SET_UP_MENU, 0)),
    ("042181", CommandDetails(4, CommandType.DISPLAY_TEXT, 0x81)),
)
DeviceIdentities.EXAMPLES = (
    ("8182", DeviceIdentities(DeviceIdentity.UICC, DeviceIdentity.TERMINAL)),
    ("8381", DeviceIdentities(DeviceIdentity.NETWORK, DeviceIdentity.UICC)),
)
Result.EXAMPLES = (
    ("00", Result(GeneralResult.PERFORMED_SUCCESSFULLY)),
    (
        "2001",
        Result(GeneralResult.TERMINAL_UNABLE_TO_PROCESS, bytes((TerminalProblem.SCREEN_BUSY,))),
    ),
)
Duration.EXAMPLES = (("0105", Duration(5)), ("0203", Duration(3, TimeUnit.TENTHS_OF_SECONDS)))
ItemIdentifier.EXAMPLES = (("02", ItemIdentifier(2)),)
ResponseLength.EXAMPLES = (("0408", ResponseLength(4, 8)),)
ItemsNextActionIndicator.EXAMPLES = (
    ("212113", ItemsNextActionIndicator((0x21, 0x21, 0x13))),
    ("", ItemsNextActionIndicator(())),
)
FrameIdentifier.EXAMPLES = (("01", FrameIdentifier(1)),)
HelpRequest.EXAMPLES = (("", HelpRequest()),)
ImmediateResponse.EXAMPLES = (("", ImmediateResponse()),)
IconIdentifier.EXAMPLES = (("0001", IconIdentifier(1)), ("0105", IconIdentifier(5, False)))
ItemIconIdentifierList.EXAMPLES = (("00010203", ItemIconIdentifierList((1, 2, 3))),)
TextAttribute.EXAMPLES = (("001000b4", TextAttribute((TextFormat(0, 0x10, 0x00, 0xB4),))),)
ItemTextAttributeList.EXAMPLES = (
    ("000600b4000600b4", ItemTextAttributeList((TextFormat(0, 6, 0, 0xB4),) * 2)),
)
