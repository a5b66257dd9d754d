"""THE tag table of ``stk``: every wire enumeration of the SIM Toolkit, each in one place.

- ``Tag``: COMPREHENSION-TLV tag values (ETSI TS 102 223 clause 9.3, 3GPP TS 31.111 clause 9.3),
  without the CR bit.
- ``BerTag``: BER-TLV tags of proactive commands and envelopes (TS 101 220 Table 7.17,
  TS 102 223 clause 9.1).
- ``CommandType``: type of command (TS 102 223 clause 9.4).
- ``DeviceIdentity``: source and destination devices (TS 102 223 clause 8.7).
- ``GeneralResult`` and ``TerminalProblem``: the result object (TS 102 223 clause 8.12).
- ``TimeUnit`` (8.8), ``TypeOfNumber`` and ``NumberingPlan`` (8.1, coded as in TS 24.008
  10.5.4.7).

Several tag values mean different data objects in different containers (TS 31.111 reuses
``'77'`` for GAD shapes in GEOGRAPHICAL LOCATION REPORTING and for the IMPU list in EVENT
DOWNLOAD). Those second meanings are enum aliases of the same value here; which one applies is
decided by the container, so ``stk.ies`` looks tags up per container (``Scope``), never by
value alone.
"""

from __future__ import annotations

import enum


class Tag(enum.IntEnum):
    """COMPREHENSION-TLV tag values, CR bit removed (TS 102 223 9.3; clause of each object)."""

    COMMAND_DETAILS = 0x01  # 8.6
    DEVICE_IDENTITIES = 0x02  # 8.7
    RESULT = 0x03  # 8.12
    DURATION = 0x04  # 8.8
    ALPHA_IDENTIFIER = 0x05  # 8.2
    ADDRESS = 0x06  # 8.1
    CAPABILITY_CONFIGURATION_PARAMETERS = 0x07  # 8.4
    SUBADDRESS = 0x08  # 8.3
    SS_STRING = 0x09  # TS 31.111 8.14
    USSD_STRING = 0x0A  # TS 31.111 8.17
    SMS_TPDU = 0x0B  # 8.13
    CELL_BROADCAST_PAGE = 0x0C  # TS 31.111 8.5
    TEXT_STRING = 0x0D  # 8.15
    TONE = 0x0E  # 8.16
    ITEM = 0x0F  # 8.9
    ITEM_IDENTIFIER = 0x10  # 8.10
    RESPONSE_LENGTH = 0x11  # 8.11
    FILE_LIST = 0x12  # 8.18
    LOCATION_INFORMATION = 0x13  # 8.19
    IMEI = 0x14  # 8.20
    HELP_REQUEST = 0x15  # 8.21
    NETWORK_MEASUREMENT_RESULTS = 0x16  # 8.22
    DEFAULT_TEXT = 0x17  # 8.23
    ITEMS_NEXT_ACTION_INDICATOR = 0x18  # 8.24
    EVENT_LIST = 0x19  # 8.25
    CAUSE = 0x1A  # 8.26
    LOCATION_STATUS = 0x1B  # 8.27
    TRANSACTION_IDENTIFIER = 0x1C  # 8.28
    BCCH_CHANNEL_LIST = 0x1D  # 8.29
    ICON_IDENTIFIER = 0x1E  # 8.31
    ITEM_ICON_IDENTIFIER_LIST = 0x1F  # 8.32
    CARD_READER_STATUS = 0x20  # 8.33
    CARD_ATR = 0x21  # 8.34
    C_APDU = 0x22  # 8.35
    R_APDU = 0x23  # 8.36
    TIMER_IDENTIFIER = 0x24  # 8.37
    TIMER_VALUE = 0x25  # 8.38
    DATE_TIME_AND_TIME_ZONE = 0x26  # 8.39
    CALL_CONTROL_REQUESTED_ACTION = 0x27  # 8.30
    AT_COMMAND = 0x28  # 8.40
    AT_RESPONSE = 0x29  # 8.41
    BC_REPEAT_INDICATOR = 0x2A  # 8.42
    IMMEDIATE_RESPONSE = 0x2B  # 8.43
    DTMF_STRING = 0x2C  # 8.44
    LANGUAGE = 0x2D  # 8.45
    TIMING_ADVANCE = 0x2E  # 8.46
    AID = 0x2F  # 8.60
    BROWSER_IDENTITY = 0x30  # 8.47
    URL = 0x31  # 8.48
    BEARER = 0x32  # 8.49
    PROVISIONING_REFERENCE_FILE = 0x33  # 8.50
    BROWSER_TERMINATION_CAUSE = 0x34  # 8.51
    BEARER_DESCRIPTION = 0x35  # 8.52
    CHANNEL_DATA = 0x36  # 8.53
    CHANNEL_DATA_LENGTH = 0x37  # 8.54
    CHANNEL_STATUS = 0x38  # 8.56
    BUFFER_SIZE = 0x39  # 8.55
    CARD_READER_IDENTIFIER = 0x3A  # 8.57
    UICC_TERMINAL_INTERFACE_TRANSPORT_LEVEL = 0x3C  # 8.59
    OTHER_ADDRESS = 0x3E  # 8.58
    ACCESS_TECHNOLOGY = 0x3F  # 8.61
    DISPLAY_PARAMETERS = 0x40  # 8.62
    SERVICE_RECORD = 0x41  # 8.63
    DEVICE_FILTER = 0x42  # 8.64
    SERVICE_SEARCH = 0x43  # 8.65
    ATTRIBUTE_INFORMATION = 0x44  # 8.66
    SERVICE_AVAILABILITY = 0x45  # 8.67
    NETWORK_ACCESS_NAME = 0x47  # 8.70
    REMOTE_ENTITY_ADDRESS = 0x49  # 8.68
    TEXT_ATTRIBUTE = 0x50  # 8.72
    ITEM_TEXT_ATTRIBUTE_LIST = 0x51  # 8.73
    PDP_CONTEXT_ACTIVATION_PARAMETERS = 0x52  # TS 31.111 8.72
    CONTACTLESS_FUNCTIONALITY_STATE = 0x54  # 8.92
    MAC = 0x60  # 8.100
    IMEISV = 0x62  # 8.74
    BATTERY_STATE = 0x63  # 8.76
    BROWSING_STATUS = 0x64  # 8.77
    NETWORK_SEARCH_MODE = 0x65  # 8.75
    FRAME_LAYOUT = 0x66  # 8.78
    FRAMES_INFORMATION = 0x67  # 8.79
    FRAME_IDENTIFIER = 0x68  # 8.80
    UTRAN_MEASUREMENT_QUALIFIER = 0x69  # TS 31.111 8.73
    MULTIMEDIA_MESSAGE_REFERENCE = 0x6A  # 8.82
    MULTIMEDIA_MESSAGE_IDENTIFIER = 0x6B  # 8.83
    MULTIMEDIA_MESSAGE_TRANSFER_STATUS = 0x6C  # 8.84
    MEID = 0x6D  # 8.85
    MULTIMEDIA_MESSAGE_CONTENT_IDENTIFIER = 0x6E  # 8.86
    MULTIMEDIA_MESSAGE_NOTIFICATION = 0x6F  # 8.87
    LAST_ENVELOPE = 0x70  # 8.88
    PLMNWACT_LIST = 0x72  # TS 31.111 8.90
    ROUTING_AREA_INFORMATION = 0x73  # TS 31.111 8.91
    UPDATE_ATTACH_TYPE = 0x74  # TS 31.111 8.92
    REJECTION_CAUSE_CODE = 0x75  # TS 31.111 8.93
    GEOGRAPHICAL_LOCATION_PARAMETERS = 0x76  # TS 31.111 8.94
    GAD_SHAPES = 0x77  # TS 31.111 9.3, in GEOGRAPHICAL LOCATION REPORTING (envelope 'DD')
    NMEA_SENTENCE = 0x78  # TS 31.111 9.3, in GEOGRAPHICAL LOCATION REPORTING (envelope 'DD')
    PLMN_LIST = 0x79  # TS 31.111 8.97
    ACTIVATE_DESCRIPTOR = 0x7B  # 8.89

    # Second meanings of the same values in other containers (aliases: equal value, same
    # member). The container decides which applies; see ``stk.ies``.
    ECAT_SEQUENCE_NUMBER = 0x21  # 8.98, in COMMAND CONTAINER and its responses
    ENCRYPTED_TLV_LIST = 0x22  # 8.99, in COMMAND CONTAINER
    SA_TEMPLATE = 0x23  # 8.101, in ENCAPSULATED SESSION CONTROL
    REFRESH_ENFORCEMENT_POLICY = 0x3A  # 8.103, in REFRESH
    IMPU_LIST = 0x77  # TS 31.111 9.3, in EVENT DOWNLOAD (IMS registration)
    IMS_STATUS_CODE = 0x78  # TS 31.111 9.3, in EVENT DOWNLOAD (IMS registration)


# The CR ("comprehension required") flag: bit 8 of a one-octet tag, bit 16 of the two octets
# after '7F' in the three-octet form (TS 102 223 clause 7 / TS 101 220 7.1.1.1).
CR_FLAG = 0x80


class BerTag(enum.IntEnum):
    """BER-TLV tags of CAT objects (TS 101 220 Table 7.17; TS 102 223 9.1)."""

    PROACTIVE_COMMAND = 0xD0
    SMS_PP_DOWNLOAD = 0xD1  # TS 31.111 7.1.1
    CELL_BROADCAST_DOWNLOAD = 0xD2  # TS 31.111 7.1.2
    MENU_SELECTION = 0xD3  # TS 102 223 7.2
    CALL_CONTROL = 0xD4  # TS 102 223 7.3.1
    MO_SHORT_MESSAGE_CONTROL = 0xD5  # TS 31.111 7.3.2
    EVENT_DOWNLOAD = 0xD6  # TS 102 223 7.5
    TIMER_EXPIRATION = 0xD7  # TS 102 223 7.4
    USSD_DOWNLOAD = 0xD9  # TS 31.111 7.6
    MMS_TRANSFER_STATUS = 0xDA  # TS 102 223 7.6
    MMS_NOTIFICATION_DOWNLOAD = 0xDB  # TS 102 223 7.7
    TERMINAL_APPLICATION = 0xDC  # TS 102 223 7.8
    GEOGRAPHICAL_LOCATION_REPORTING = 0xDD  # TS 31.111 7.10
    ENVELOPE_CONTAINER = 0xDE  # TS 102 223 7.9
    PROSE_REPORT = 0xDF  # TS 31.111 7.11


class CommandType(enum.IntEnum):
    """Type of command, octet 2 of command details (TS 102 223 9.4)."""

    REFRESH = 0x01
    MORE_TIME = 0x02
    POLL_INTERVAL = 0x03
    POLLING_OFF = 0x04
    SET_UP_EVENT_LIST = 0x05
    SET_UP_CALL = 0x10
    SEND_SS = 0x11  # TS 31.111
    SEND_USSD = 0x12  # TS 31.111
    SEND_SHORT_MESSAGE = 0x13
    SEND_DTMF = 0x14
    LAUNCH_BROWSER = 0x15
    GEOGRAPHICAL_LOCATION_REQUEST = 0x16  # TS 31.111
    PLAY_TONE = 0x20
    DISPLAY_TEXT = 0x21
    GET_INKEY = 0x22
    GET_INPUT = 0x23
    SELECT_ITEM = 0x24
    SET_UP_MENU = 0x25
    PROVIDE_LOCAL_INFORMATION = 0x26
    TIMER_MANAGEMENT = 0x27
    SET_UP_IDLE_MODE_TEXT = 0x28
    PERFORM_CARD_APDU = 0x30
    POWER_ON_CARD = 0x31
    POWER_OFF_CARD = 0x32
    GET_READER_STATUS = 0x33
    RUN_AT_COMMAND = 0x34
    LANGUAGE_NOTIFICATION = 0x35
    OPEN_CHANNEL = 0x40
    CLOSE_CHANNEL = 0x41
    RECEIVE_DATA = 0x42
    SEND_DATA = 0x43
    GET_CHANNEL_STATUS = 0x44
    SERVICE_SEARCH = 0x45
    GET_SERVICE_INFORMATION = 0x46
    DECLARE_SERVICE = 0x47
    SET_FRAMES = 0x50
    GET_FRAMES_STATUS = 0x51
    RETRIEVE_MULTIMEDIA_MESSAGE = 0x60
    SUBMIT_MULTIMEDIA_MESSAGE = 0x61
    DISPLAY_MULTIMEDIA_MESSAGE = 0x62
    ACTIVATE = 0x70
    CONTACTLESS_STATE_CHANGED = 0x71
    COMMAND_CONTAINER = 0x72
    ENCAPSULATED_SESSION_CONTROL = 0x73
    END_OF_PROACTIVE_SESSION = 0x81  # only in ITEMS NEXT ACTION INDICATOR (8.24)


# The container a data object sits in: a proactive command (and the TERMINAL RESPONSE that
# answers it) is scoped by its type of command, an envelope by its BER tag.
Scope = CommandType | BerTag


class DeviceIdentity(enum.IntEnum):
    """Device identities (TS 102 223 8.7)."""

    KEYPAD = 0x01
    DISPLAY = 0x02
    EARPIECE = 0x03
    ADDITIONAL_CARD_READER_0 = 0x10
    ADDITIONAL_CARD_READER_1 = 0x11
    ADDITIONAL_CARD_READER_2 = 0x12
    ADDITIONAL_CARD_READER_3 = 0x13
    ADDITIONAL_CARD_READER_4 = 0x14
    ADDITIONAL_CARD_READER_5 = 0x15
    ADDITIONAL_CARD_READER_6 = 0x16
    ADDITIONAL_CARD_READER_7 = 0x17
    CHANNEL_1 = 0x21
    CHANNEL_2 = 0x22
    CHANNEL_3 = 0x23
    CHANNEL_4 = 0x24
    CHANNEL_5 = 0x25
    CHANNEL_6 = 0x26
    CHANNEL_7 = 0x27
    ECAT_CLIENT_1 = 0x31
    ECAT_CLIENT_2 = 0x32
    ECAT_CLIENT_3 = 0x33
    ECAT_CLIENT_4 = 0x34
    ECAT_CLIENT_5 = 0x35
    ECAT_CLIENT_6 = 0x36
    ECAT_CLIENT_7 = 0x37
    ECAT_CLIENT_8 = 0x38
    ECAT_CLIENT_9 = 0x39
    ECAT_CLIENT_A = 0x3A
    ECAT_CLIENT_B = 0x3B
    ECAT_CLIENT_C = 0x3C
    ECAT_CLIENT_D = 0x3D
    ECAT_CLIENT_E = 0x3E
    ECAT_CLIENT_F = 0x3F
    UICC = 0x81
    TERMINAL = 0x82
    NETWORK = 0x83


class GeneralResult(enum.IntEnum):
    """General result, octet 1 of the result object (TS 102 223 8.12; TS 31.111 8.12)."""

    # '0X': performed.
    PERFORMED_SUCCESSFULLY = 0x00
    PERFORMED_WITH_PARTIAL_COMPREHENSION = 0x01
    PERFORMED_WITH_MISSING_INFORMATION = 0x02
    REFRESH_PERFORMED_WITH_ADDITIONAL_EFS_READ = 0x03
    PERFORMED_BUT_ICON_NOT_DISPLAYED = 0x04
    PERFORMED_BUT_MODIFIED_BY_CALL_CONTROL = 0x05
    PERFORMED_LIMITED_SERVICE = 0x06
    PERFORMED_WITH_MODIFICATION = 0x07
    REFRESH_PERFORMED_NAA_NOT_ACTIVE = 0x08
    PERFORMED_TONE_NOT_PLAYED = 0x09
    # '1X': performed, the user changed the course of the session.
    SESSION_TERMINATED_BY_USER = 0x10
    BACKWARD_MOVE_REQUESTED_BY_USER = 0x11
    NO_RESPONSE_FROM_USER = 0x12
    HELP_INFORMATION_REQUIRED_BY_USER = 0x13
    USSD_OR_SS_TERMINATED_BY_USER = 0x14  # TS 31.111
    # '2X': worth retrying later.
    TERMINAL_UNABLE_TO_PROCESS = 0x20
    NETWORK_UNABLE_TO_PROCESS = 0x21
    USER_DID_NOT_ACCEPT = 0x22
    USER_CLEARED_DOWN_CALL = 0x23
    CONTRADICTION_WITH_TIMER_STATE = 0x24
    CALL_CONTROL_TEMPORARY_PROBLEM = 0x25
    LAUNCH_BROWSER_GENERIC_ERROR = 0x26
    MMS_TEMPORARY_PROBLEM = 0x27
    # '3X': not worth retrying the identical command.
    BEYOND_TERMINAL_CAPABILITIES = 0x30
    COMMAND_TYPE_NOT_UNDERSTOOD = 0x31
    COMMAND_DATA_NOT_UNDERSTOOD = 0x32
    COMMAND_NUMBER_NOT_KNOWN = 0x33
    SS_RETURN_ERROR = 0x34  # TS 31.111
    SMS_RP_ERROR = 0x35  # TS 31.111
    REQUIRED_VALUES_MISSING = 0x36
    USSD_RETURN_ERROR = 0x37  # TS 31.111
    MULTIPLE_CARD_COMMANDS_ERROR = 0x38
    CALL_CONTROL_PERMANENT_PROBLEM = 0x39
    BEARER_INDEPENDENT_PROTOCOL_ERROR = 0x3A
    ACCESS_TECHNOLOGY_UNABLE_TO_PROCESS = 0x3B
    FRAMES_ERROR = 0x3C
    MMS_ERROR = 0x3D

    @property
    def performed(self) -> bool:
        """'0X' and '1X' mean the command was performed (8.12)."""
        return self < 0x20


class TerminalProblem(enum.IntEnum):
    """Additional information for general result '20' (TS 102 223 8.12.2; TS 31.111 8.12.2)."""

    NO_SPECIFIC_CAUSE = 0x00
    SCREEN_BUSY = 0x01
    BUSY_ON_CALL = 0x02
    BUSY_ON_SS_TRANSACTION = 0x03  # TS 31.111
    NO_SERVICE = 0x04
    ACCESS_CONTROL_CLASS_BAR = 0x05
    RADIO_RESOURCE_NOT_GRANTED = 0x06
    NOT_IN_SPEECH_CALL = 0x07
    BUSY_ON_USSD_TRANSACTION = 0x08  # TS 31.111
    BUSY_ON_SEND_DTMF = 0x09


class TimeUnit(enum.IntEnum):
    """Time unit of a duration (TS 102 223 8.8)."""

    MINUTES = 0x00
    SECONDS = 0x01
    TENTHS_OF_SECONDS = 0x02


class TypeOfNumber(enum.IntEnum):
    """TON, bits 7..5 of the TON/NPI octet of an address (TS 102 223 8.1; TS 24.008 10.5.4.7)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    DEDICATED_ACCESS = 4  # short codes


class NumberingPlan(enum.IntEnum):
    """NPI, bits 4..1 of the TON/NPI octet of an address (TS 102 223 8.1; TS 24.008 10.5.4.7)."""

    UNKNOWN = 0x0
    ISDN = 0x1  # ISDN/telephony, E.164
    DATA = 0x3  # X.121
    TELEX = 0x4  # F.69
    NATIONAL = 0x8
    PRIVATE = 0x9
