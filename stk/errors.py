"""The one exception base of ``stk``; each error carries the wire code a peer answers with.

A card that cannot parse what the terminal sent answers with a status word; a terminal that
cannot parse a proactive command answers TERMINAL RESPONSE with a general result
(ETSI TS 102 223 clause 8.12). Both codes live on the class so adapters only look them up.

    StkError                       '32' / '6F00'
    ├── TextCodingError            '32' / '6A80'  text not representable or not decodable
    ├── TlvError                   '32' / '6A80'  BER/COMPREHENSION-TLV framing is broken
    │   └── TruncatedError                        the data ends inside a TLV
    ├── IeError                    '32' / '6A80'  a data object's value is malformed
    ├── MissingIeError             '36' / '6A80'  a mandatory data object is absent
    ├── UnsupportedObjectError     '31' / '6A80'  an envelope or object type we do not know
    ├── TerminalProfileError       '32' / '6700'  TERMINAL PROFILE bytes unusable
    └── ApduError                  '32' / '6700'  an APDU around a CAT object is malformed
        ├── WrongLengthError             '6700'
        ├── WrongParametersError         '6B00'
        ├── InstructionNotSupportedError '6D00'
        └── ClassNotSupportedError       '6E00'
"""

from __future__ import annotations


class StkError(Exception):
    """Base of every error raised by ``stk``."""

    # TS 102 223 8.12: '32' command data not understood by terminal.
    general_result: int = 0x32
    # ETSI TS 102 221 10.2.1: '6F00' technical problem, no precise diagnosis.
    status_word: int = 0x6F00


class TextCodingError(StkError):
    """Text that cannot be represented in, or decoded from, the requested coding."""

    # TS 102 221 10.2.1: '6A80' incorrect parameters in the data field.
    status_word = 0x6A80


class TlvError(StkError):
    """Truncated or malformed BER-TLV / COMPREHENSION-TLV (TS 101 220 7.1, TS 102 223 Annex C)."""

    status_word = 0x6A80


class TruncatedError(TlvError):
    """The data ends inside a TLV; a streaming reader waits for more instead of failing."""


class IeError(StkError):
    """A simple TLV whose value does not follow its clause of TS 102 223 section 8."""

    status_word = 0x6A80


class MissingIeError(StkError):
    """A data object the command or envelope requires is absent."""

    # TS 102 223 8.12: '36' error, required values are missing.
    general_result = 0x36
    status_word = 0x6A80


class UnsupportedObjectError(StkError):
    """A BER-TLV object (envelope or command container) of a kind this package cannot model."""

    # TS 102 223 8.12: '31' command type not understood by terminal.
    general_result = 0x31
    status_word = 0x6A80


class TerminalProfileError(StkError):
    """TERMINAL PROFILE data that cannot be a profile (TS 102 223 5.2)."""

    # TS 102 221 10.2.1: '6700' wrong length.
    status_word = 0x6700


class ApduError(StkError):
    """An APDU carrying a CAT object (TS 102 221 10.1, 10.2) is malformed."""

    status_word = 0x6700


class WrongLengthError(ApduError):
    """Lc or Le does not match the data (TS 102 221 10.2.1.3 '6700')."""

    status_word = 0x6700


class WrongParametersError(ApduError):
    """P1/P2 are not '00 00' (TS 102 221 10.2.1.3 '6B00')."""

    status_word = 0x6B00


class InstructionNotSupportedError(ApduError):
    """The INS is not the one expected (TS 102 221 10.2.1.3 '6D00')."""

    status_word = 0x6D00


class ClassNotSupportedError(ApduError):
    """The CLA is neither '80' (UICC) nor 'A0' (GSM SIM) (TS 102 221 10.2.1.3 '6E00')."""

    status_word = 0x6E00
