"""TERMINAL PROFILE: what the terminal supports (ETSI TS 102 223 5.2; TS 31.111 5.2).

The profile is a bit string, byte n bit b meaning one facility; a terminal sends as many
bytes as it knows about and the UICC treats missing bytes as all zero (5.2). ``Facility`` is
the table of the bits this project reads (bytes 1..17); bytes 11, 13 (b6..b8), 14 and 15 hold
numbers and are exposed as properties. ``TerminalProfile.parse`` keeps the raw bytes, so bits
the table does not name survive a round trip.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Self

from stk.apdu import CLA_UICC, Instruction, parse_command_apdu, terminal_profile_apdu
from stk.errors import TerminalProfileError


class Facility(enum.Enum):
    """One profile bit as (byte, bit), both counted from 1 as in TS 102 223 5.2."""

    # Byte 1: download.
    PROFILE_DOWNLOAD = (1, 1)
    SMS_PP_DATA_DOWNLOAD = (1, 2)  # TS 31.111
    CELL_BROADCAST_DATA_DOWNLOAD = (1, 3)  # TS 31.111
    MENU_SELECTION = (1, 4)
    SMS_PP_DATA_DOWNLOAD_9EXX = (1, 5)  # TS 31.111: '9EXX' response for data download error
    TIMER_EXPIRATION = (1, 6)
    USSD_STRING_IN_CALL_CONTROL = (1, 7)  # TS 31.111
    CALL_CONTROL_ENVELOPE_RETRY = (1, 8)  # TS 31.111: envelope sent again in automatic redial
    # Byte 2: other.
    COMMAND_RESULT = (2, 1)
    CALL_CONTROL = (2, 2)
    CALL_CONTROL_CELL_IDENTITY = (2, 3)  # TS 31.111
    MO_SHORT_MESSAGE_CONTROL = (2, 4)  # TS 31.111
    CALL_CONTROL_ALPHA_HANDLING = (2, 5)
    UCS2_ENTRY = (2, 6)
    UCS2_DISPLAY = (2, 7)
    DISPLAY_TEXT_EXTENSION_TEXT = (2, 8)  # TS 31.111
    # Byte 3: proactive UICC.
    DISPLAY_TEXT = (3, 1)
    GET_INKEY = (3, 2)
    GET_INPUT = (3, 3)
    MORE_TIME = (3, 4)
    PLAY_TONE = (3, 5)
    POLL_INTERVAL = (3, 6)
    POLLING_OFF = (3, 7)
    REFRESH = (3, 8)
    # Byte 4: proactive UICC.
    SELECT_ITEM = (4, 1)
    SEND_SHORT_MESSAGE = (4, 2)  # TS 31.111: with 3GPP-SMS-TPDU
    SEND_SS = (4, 3)  # TS 31.111
    SEND_USSD = (4, 4)  # TS 31.111
    SET_UP_CALL = (4, 5)
    SET_UP_MENU = (4, 6)
    PROVIDE_LOCAL_INFORMATION = (4, 7)  # location, IMEI
    PROVIDE_LOCAL_INFORMATION_NMR = (4, 8)  # TS 31.111
    # Byte 5: event driven information.
    SET_UP_EVENT_LIST = (5, 1)
    EVENT_MT_CALL = (5, 2)
    EVENT_CALL_CONNECTED = (5, 3)
    EVENT_CALL_DISCONNECTED = (5, 4)
    EVENT_LOCATION_STATUS = (5, 5)
    EVENT_USER_ACTIVITY = (5, 6)
    EVENT_IDLE_SCREEN_AVAILABLE = (5, 7)
    EVENT_CARD_READER_STATUS = (5, 8)
    # Byte 6: event driven information extensions.
    EVENT_LANGUAGE_SELECTION = (6, 1)
    EVENT_BROWSER_TERMINATION = (6, 2)
    EVENT_DATA_AVAILABLE = (6, 3)
    EVENT_CHANNEL_STATUS = (6, 4)
    EVENT_ACCESS_TECHNOLOGY_CHANGE = (6, 5)
    EVENT_DISPLAY_PARAMETERS_CHANGED = (6, 6)
    EVENT_LOCAL_CONNECTION = (6, 7)
    EVENT_NETWORK_SEARCH_MODE_CHANGE = (6, 8)
    # Byte 7: multiple card proactive commands.
    POWER_ON_CARD = (7, 1)
    POWER_OFF_CARD = (7, 2)
    PERFORM_CARD_APDU = (7, 3)
    GET_READER_STATUS = (7, 4)
    GET_READER_STATUS_IDENTIFIER = (7, 5)
    # Byte 8: proactive UICC.
    TIMER_MANAGEMENT_START_STOP = (8, 1)
    TIMER_MANAGEMENT_GET_VALUE = (8, 2)
    PROVIDE_LOCAL_INFORMATION_DATE_TIME = (8, 3)
    GET_INKEY_BINARY_CHOICE = (8, 4)
    SET_UP_IDLE_MODE_TEXT = (8, 5)
    RUN_AT_COMMAND = (8, 6)
    SET_UP_CALL_SECOND_ALPHA = (8, 7)
    CALL_CONTROL_SECOND_CAPABILITY = (8, 8)
    # Byte 9.
    SUSTAINED_DISPLAY_TEXT = (9, 1)
    SEND_DTMF = (9, 2)
    PROVIDE_LOCAL_INFORMATION_BCCH = (9, 3)  # TS 31.111
    PROVIDE_LOCAL_INFORMATION_LANGUAGE = (9, 4)
    PROVIDE_LOCAL_INFORMATION_TIMING_ADVANCE = (9, 5)  # TS 31.111
    LANGUAGE_NOTIFICATION = (9, 6)
    LAUNCH_BROWSER = (9, 7)
    PROVIDE_LOCAL_INFORMATION_ACCESS_TECHNOLOGY = (9, 8)
    # Byte 10: soft keys (byte 11 is their number).
    SOFT_KEYS_SELECT_ITEM = (10, 1)
    SOFT_KEYS_SET_UP_MENU = (10, 2)
    # Byte 12: bearer independent protocol.
    OPEN_CHANNEL = (12, 1)
    CLOSE_CHANNEL = (12, 2)
    RECEIVE_DATA = (12, 3)
    SEND_DATA = (12, 4)
    GET_CHANNEL_STATUS = (12, 5)
    SERVICE_SEARCH = (12, 6)
    GET_SERVICE_INFORMATION = (12, 7)
    DECLARE_SERVICE = (12, 8)
    # Byte 13: bearers (b6..b8 are the number of channels).
    BEARER_CSD = (13, 1)
    BEARER_GPRS = (13, 2)
    BEARER_BLUETOOTH = (13, 3)
    BEARER_IRDA = (13, 4)
    BEARER_RS232 = (13, 5)
    # Byte 14 b8 and byte 15 b8 (the other bits are screen height and width).
    SCREEN_SIZING_PARAMETERS = (14, 8)
    VARIABLE_SIZE_FONTS = (15, 8)
    # Byte 16: screen effects.
    DISPLAY_RESIZE = (16, 1)
    TEXT_WRAPPING = (16, 2)
    TEXT_SCROLLING = (16, 3)
    TEXT_ATTRIBUTES = (16, 4)
    # Byte 17: BIP transport interfaces.
    TCP_CLIENT_REMOTE = (17, 1)
    UDP_CLIENT_REMOTE = (17, 2)
    TCP_SERVER = (17, 3)
    TCP_CLIENT_LOCAL = (17, 4)
    UDP_CLIENT_LOCAL = (17, 5)
    DIRECT_COMMUNICATION_CHANNEL = (17, 6)

    @property
    def byte(self) -> int:
        return int(self.value[0])

    @property
    def mask(self) -> int:
        return 1 << (int(self.value[1]) - 1)


# What a handset needs for the one-card applets: the menu, its dialogues, MO SMS, OTA.
ONE_CARD_FACILITIES = frozenset(
    {
        Facility.PROFILE_DOWNLOAD,
        Facility.SMS_PP_DATA_DOWNLOAD,
        Facility.MENU_SELECTION,
        Facility.COMMAND_RESULT,
        Facility.UCS2_ENTRY,
        Facility.UCS2_DISPLAY,
        Facility.DISPLAY_TEXT,
        Facility.GET_INPUT,
        Facility.MORE_TIME,
        Facility.SELECT_ITEM,
        Facility.SEND_SHORT_MESSAGE,
        Facility.SET_UP_MENU,
    }
)

MAX_PROFILE_LENGTH = 0xFF
_NUMBER_FIELDS = {11: 0xFF, 13: 0xE0, 14: 0x1F, 15: 0x7F}


def _number(raw: bytes, byte: int) -> int:
    mask = _NUMBER_FIELDS[byte]
    if len(raw) < byte:
        return 0
    shift = (mask & -mask).bit_length() - 1
    return (raw[byte - 1] & mask) >> shift


@dataclass(frozen=True)
class TerminalProfile:
    """A TERMINAL PROFILE as sent by the terminal (``raw`` is kept octet for octet)."""

    raw: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.raw) <= MAX_PROFILE_LENGTH:
            raise TerminalProfileError(f"a profile is 1..255 octets, got {len(self.raw)}")

    @classmethod
    def parse(cls, data: bytes) -> Self:
        return cls(bytes(data))

    @classmethod
    def parse_apdu(cls, apdu: bytes) -> Self:
        """From ``80 10 00 00 Lc profile``."""
        return cls(parse_command_apdu(apdu, Instruction.TERMINAL_PROFILE))

    @classmethod
    def build(
        cls,
        facilities: Iterable[Facility],
        *,
        soft_keys: int = 0,
        channels: int = 0,
        screen_height: int = 0,
        screen_width: int = 0,
        length: int | None = None,
    ) -> Self:
        """A profile with exactly these bits and numbers (the handset emulator's side).

        ``length`` defaults to the last non-zero octet: the UICC reads absent octets as zero.
        """
        limits = {"soft_keys": 0xFF, "channels": 0x07, "screen_height": 0x1F, "screen_width": 0x7F}
        numbers = {11: soft_keys, 13: channels, 14: screen_height, 15: screen_width}
        for (name, high), value in zip(limits.items(), numbers.values(), strict=True):
            if not 0 <= value <= high:
                raise TerminalProfileError(f"{name} must be 0..{high}, got {value}")
        out = bytearray(17)
        for facility in facilities:
            out[facility.byte - 1] |= facility.mask
        for byte, value in numbers.items():
            mask = _NUMBER_FIELDS[byte]
            out[byte - 1] |= (value << ((mask & -mask).bit_length() - 1)) & mask
        used = max((i + 1 for i, b in enumerate(out) if b), default=1)
        size = used if length is None else length
        if size < used:
            raise TerminalProfileError(f"{used} octets are needed, length {length} is too short")
        return cls(bytes(out[:size]) + bytes(max(0, size - len(out))))

    def supports(self, facility: Facility) -> bool:
        if len(self.raw) < facility.byte:
            return False  # 5.2: bytes the terminal did not send are zero
        return bool(self.raw[facility.byte - 1] & facility.mask)

    @property
    def facilities(self) -> frozenset[Facility]:
        return frozenset(f for f in Facility if self.supports(f))

    def missing(self, needed: Iterable[Facility]) -> frozenset[Facility]:
        """The facilities of ``needed`` this terminal lacks."""
        return frozenset(f for f in needed if not self.supports(f))

    @property
    def soft_keys(self) -> int:
        """Byte 11: maximum number of soft keys available."""
        return _number(self.raw, 11)

    @property
    def channels(self) -> int:
        """Byte 13 b6..b8: number of BIP channels supported."""
        return _number(self.raw, 13)

    @property
    def screen_height(self) -> int:
        """Byte 14 b1..b5: number of characters down the display."""
        return _number(self.raw, 14)

    @property
    def screen_width(self) -> int:
        """Byte 15 b1..b7: number of characters across the display."""
        return _number(self.raw, 15)

    def to_apdu(self, cla: int = CLA_UICC) -> bytes:
        return terminal_profile_apdu(self.raw, cla)

    def describe(self) -> list[str]:
        lines = [f"Terminal profile ({len(self.raw)} octets): {self.raw.hex(' ').upper()}"]
        lines += [
            f"  byte {f.byte:2} {f.mask:02X}  {f.name.replace('_', ' ').lower()}"
            for f in Facility
            if self.supports(f)
        ]
        numbers = (
            ("soft keys", self.soft_keys),
            ("channels", self.channels),
            ("screen height", self.screen_height),
            ("screen width", self.screen_width),
        )
        lines += [f"  {name}: {value}" for name, value in numbers if value]
        return lines
