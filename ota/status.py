"""Response packet status codes (ETSI TS 102 225 5.2, Table 5; 3GPP TS 31.115 clause 5).

Kept apart from ``ota.por`` so that ``ota.errors`` can name the code each error maps to without
an import cycle; ``ota.por`` re-exports :class:`PorStatus`.
"""

from __future__ import annotations

import enum


class PorStatus(enum.IntEnum):
    """Response Status Code of a PoR (TS 102 225 Table 5).

    0x0D-0xBF are reserved for future use and 0xC0-0xFE for proprietary use; a PoR carrying one
    of those still parses (``Por.status`` is then a plain ``int``).
    """

    POR_OK = 0x00
    RC_CC_DS_FAILED = 0x01
    CNTR_LOW = 0x02
    CNTR_HIGH = 0x03
    CNTR_BLOCKED = 0x04
    CIPHERING_ERROR = 0x05
    # "Undefined security error": the receiving entity cannot interpret the command header; the
    # response packet then goes out unciphered and without RC/CC/DS.
    UNDEFINED_SECURITY_ERROR = 0x06
    INSUFFICIENT_MEMORY = 0x07
    # "More time": a later response packet follows once processing has finished.
    MORE_TIME = 0x08
    TAR_UNKNOWN = 0x09
    INSUFFICIENT_SECURITY_LEVEL = 0x0A
    # Reserved for 3GPP (TS 31.115 clause 5): the response data goes out by SMS-SUBMIT.
    RESPONSE_VIA_SMS_SUBMIT = 0x0B
    # Reserved for 3GPP (TS 31.115 clause 5): the response data goes out by USSD.
    RESPONSE_VIA_USSD = 0x0C


def status_of(code: int) -> PorStatus | int:
    """The table member for ``code``, or the bare integer for RFU / proprietary codes."""
    try:
        return PorStatus(code)
    except ValueError:
        return code
