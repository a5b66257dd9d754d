"""Status words the emulated card answers with: the one table (ETSI TS 102 221 10.2.1).

Codes with a variable low octet (``61xx``, ``63Cx``, ``6Cxx``, ``91xx``) are built by the
helpers below from their base value. The one-card applet's purse codes follow the Chinese
e-purse convention (JR/T 0025, "PBOC") that terminals in this market already understand; they
are documented in ``docs/sim_emulator-purchase.md``.
"""

from __future__ import annotations

import enum


class Sw(enum.IntEnum):
    OK = 0x9000  # 10.2.1.1 normal ending of the command
    PROACTIVE = 0x9100  # 10.2.1.1 '91xx': normal ending, proactive command of xx octets pending
    TOOLKIT_BUSY = 0x9300  # 10.2.1.2 SIM toolkit busy, command cannot be executed now
    MORE_DATA = 0x6100  # 10.2.1.1 '61xx': xx response octets available (GET RESPONSE)
    WARNING = 0x6200  # 10.2.1.3 no information given, state of non-volatile memory unchanged
    DATA_CORRUPTED = 0x6281  # 10.2.1.3 part of returned data may be corrupted
    END_OF_FILE = 0x6282  # 10.2.1.3 end of file/record reached before reading Le octets
    FILE_INVALIDATED = 0x6283  # 10.2.1.3 selected file invalidated (locked sub-application)
    FILE_TERMINATED = 0x6285  # 10.2.1.3 selected file in termination state
    VERIFY_FAILED = 0x63C0  # 10.2.1.3 '63Cx': verification failed, x retries left
    EXECUTION_ERROR = 0x6400  # 10.2.1.4 no information given, NV memory unchanged
    MEMORY_PROBLEM = 0x6581  # 10.2.1.4 memory problem
    WRONG_LENGTH = 0x6700  # 10.2.1.5 wrong length
    CHANNEL_NOT_SUPPORTED = 0x6881  # 10.2.1.5 logical channel not supported
    SM_NOT_SUPPORTED = 0x6882  # 10.2.1.5 secure messaging not supported
    INCOMPATIBLE_FILE = 0x6981  # 10.2.1.5 command incompatible with file structure
    SECURITY_NOT_SATISFIED = 0x6982  # 10.2.1.5 security status not satisfied
    AUTH_BLOCKED = 0x6983  # 10.2.1.5 authentication/PIN method blocked
    DATA_INVALIDATED = 0x6984  # 10.2.1.5 referenced data invalidated
    CONDITIONS_NOT_SATISFIED = 0x6985  # 10.2.1.5 conditions of use not satisfied
    NO_EF_SELECTED = 0x6986  # 10.2.1.5 command not allowed (no EF selected)
    WRONG_DATA = 0x6A80  # 10.2.1.5 incorrect parameters in the data field
    FUNCTION_NOT_SUPPORTED = 0x6A81  # 10.2.1.5 function not supported
    FILE_NOT_FOUND = 0x6A82  # 10.2.1.5 file or application not found
    RECORD_NOT_FOUND = 0x6A83  # 10.2.1.5 record not found
    NOT_ENOUGH_MEMORY = 0x6A84  # 10.2.1.5 not enough memory space
    INCORRECT_P1P2 = 0x6A86  # 10.2.1.5 incorrect parameters P1 to P2
    LC_INCONSISTENT = 0x6A87  # 10.2.1.5 Lc inconsistent with P1 to P2
    DATA_NOT_FOUND = 0x6A88  # 10.2.1.5 referenced data not found
    WRONG_P1P2 = 0x6B00  # 10.2.1.5 wrong parameter(s) P1-P2
    WRONG_LE = 0x6C00  # 10.2.1.5 '6Cxx': wrong Le, xx is the exact length
    INS_NOT_SUPPORTED = 0x6D00  # 10.2.1.5 instruction code not supported or invalid
    CLA_NOT_SUPPORTED = 0x6E00  # 10.2.1.5 class not supported
    TECHNICAL_PROBLEM = 0x6F00  # 10.2.1.5 technical problem, no precise diagnosis
    # JR/T 0025 (PBOC e-purse) codes used by the one-card applet:
    INSUFFICIENT_FUNDS = 0x9401  # purse balance too low
    KEY_INDEX_UNKNOWN = 0x9403  # key index / enterprise key not installed
    MAC_INVALID = 0x9302  # MAC1 (or the undo MAC) does not verify
    APP_LOCKED = 0x9303  # application permanently / administratively locked (挂失)


def proactive(length: int) -> int:
    """'91xx' for a pending proactive command of ``length`` octets (TS 102 221 10.2.1.1)."""
    return Sw.PROACTIVE | min(length, 0xFF)


def more_data(length: int) -> int:
    """'61xx' for ``length`` response octets still available; '6100' means 256 or more."""
    return Sw.MORE_DATA | (length & 0xFF if length < 256 else 0)


def verify_failed(retries: int) -> int:
    """'63Cx': a failed verification, ``retries`` attempts left (TS 102 221 10.2.1.3)."""
    return Sw.VERIFY_FAILED | min(retries, 0x0F)


def wrong_le(exact: int) -> int:
    """'6Cxx': wrong Le, the card announces the exact length (TS 102 221 10.2.1.5)."""
    return Sw.WRONG_LE | (exact & 0xFF)


def is_success(sw: int) -> bool:
    """True for '9000', '91xx' and the warnings '62xx'/'63xx' that still return data."""
    return sw == Sw.OK or sw >> 8 in (0x91, 0x92, 0x61)


def describe(sw: int) -> str:
    """A readable name for logs and error messages."""
    for base in (sw, sw & 0xFF00, sw & 0xFFF0):
        try:
            return f"{sw:04X} {Sw(base).name}"
        except ValueError:
            continue
    return f"{sw:04X}"
