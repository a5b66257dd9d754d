"""Errors of the SMS layer (TPDUs, text coding, segmentation, reassembly) and the TP-FCS table.

Hierarchy (all under :class:`smpp.errors.SmppError`)::

    SmppError
    └── SmsError                      SMS TPDU / text layer
        ├── SmsFormatError            malformed, truncated or oversized TPDU or user data
        ├── UnsupportedCodingError    a coding we cannot turn into text (or text into)
        └── ReassemblyError           concatenation parameters that contradict each other

Each error carries two wire codes: ``command_status`` for an SMPP peer (SMPP v3.4 5.1.3) and
``failure_cause`` for an SMS peer (TP-FCS in an SMS-DELIVER-REPORT or SMS-SUBMIT-REPORT,
3GPP TS 23.040 9.2.3.22), so the ESME, the SMSC simulator and the handset emulator only look
them up.
"""

from __future__ import annotations

import enum

from smpp.errors import SmppError
from smpp.status import CommandStatus


class FailureCause(enum.IntEnum):
    """TP-Failure-Cause (3GPP TS 23.040 9.2.3.22); values below 0x80 are not used."""

    TELEMATIC_INTERWORKING_NOT_SUPPORTED = 0x80
    SHORT_MESSAGE_TYPE_0_NOT_SUPPORTED = 0x81
    CANNOT_REPLACE_SHORT_MESSAGE = 0x82
    UNSPECIFIED_PID_ERROR = 0x8F
    ALPHABET_NOT_SUPPORTED = 0x90
    MESSAGE_CLASS_NOT_SUPPORTED = 0x91
    UNSPECIFIED_DCS_ERROR = 0x9F
    COMMAND_CANNOT_BE_ACTIONED = 0xA0
    COMMAND_UNSUPPORTED = 0xA1
    UNSPECIFIED_COMMAND_ERROR = 0xAF
    TPDU_NOT_SUPPORTED = 0xB0
    SC_BUSY = 0xC0
    NO_SC_SUBSCRIPTION = 0xC1
    SC_SYSTEM_FAILURE = 0xC2
    INVALID_SME_ADDRESS = 0xC3
    DESTINATION_SME_BARRED = 0xC4
    SM_REJECTED_DUPLICATE = 0xC5
    VPF_NOT_SUPPORTED = 0xC6
    VP_NOT_SUPPORTED = 0xC7
    SIM_SMS_STORAGE_FULL = 0xD0
    NO_SMS_STORAGE_CAPABILITY_IN_SIM = 0xD1
    ERROR_IN_MS = 0xD2
    MEMORY_CAPACITY_EXCEEDED = 0xD3
    SIM_APPLICATION_TOOLKIT_BUSY = 0xD4
    SIM_DATA_DOWNLOAD_ERROR = 0xD5
    UNSPECIFIED = 0xFF

    @classmethod
    def describe(cls, value: int) -> str:
        """Name of a cause, also for reserved and application-specific (E0..FE) values."""
        try:
            return cls(value).name
        except ValueError:
            kind = "application specific" if 0xE0 <= value <= 0xFE else "reserved"
            return f"{kind} 0x{value:02X}"


class SmsError(SmppError):
    """Base of the SMS layer's errors."""

    command_status = CommandStatus.ESME_RSYSERR
    failure_cause: FailureCause = FailureCause.UNSPECIFIED


class SmsFormatError(SmsError):
    """A TPDU, address, timestamp or user data that is truncated, oversized or inconsistent.

    Also raised when asked to encode field values the wire format cannot carry.
    """

    # Every framing fault in a short message is one of its lengths disagreeing with its
    # content, which is what ESME_RINVMSGLEN reports.
    command_status = CommandStatus.ESME_RINVMSGLEN
    failure_cause = FailureCause.UNSPECIFIED


class UnsupportedCodingError(SmsError):
    """A data coding with no text we can produce: 8-bit data, compressed text (TS 23.042),
    national language shift tables, reserved SMPP data_coding values, or text that the chosen
    coding cannot represent."""

    # SMPP v3.4 has no data_coding status; the receiver can never process the message, which
    # is a permanent application error rather than a reason for the peer to retry.
    command_status = CommandStatus.ESME_RX_P_APPN
    failure_cause = FailureCause.ALPHABET_NOT_SUPPORTED


class ReassemblyError(SmsError):
    """Concatenation parameters (UDH or sar_* TLVs) that contradict each other."""

    # The sar_* TLVs are optional parameters; a contradictory one is an invalid value.
    command_status = CommandStatus.ESME_RINVOPTPARAMVAL
    failure_cause = FailureCause.UNSPECIFIED
