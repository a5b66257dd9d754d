"""The one exception base of ``ota``; every error carries the PoR status it maps to.

::

    OtaError                          (por_status: the Table 5 code a card answers with)
     ├── FormatError                  06  malformed packet, header or framing
     │    └── ApduFormatError         06  malformed one-card applet APDU (also carries an SW)
     ├── KeysetError                  06  key material that does not fit its algorithm
     ├── UndefinedSecurityError       06  header names keys/algorithms the receiver cannot use
     ├── RcCcDsFailed                 01  redundancy check / cryptographic checksum mismatch
     ├── CounterTooLow                02
     ├── CounterTooHigh               03
     ├── CounterBlocked               04
     ├── CipheringError               05  ciphered part cannot be deciphered consistently
     ├── InsufficientMemory           07
     ├── TarUnknown                   09
     └── InsufficientSecurityLevel    0A  SPI below the TAR's minimum security level

Core code only raises. The card role answers with ``exc.por_status`` (``ota.packet`` builds
that PoR from ``exc.context``: whatever the card could recover of the command before it failed);
the gateway maps ``OtaError`` to its own error responses. Exceptions of ``cryptography`` and of
``smpp.udh`` are caught where they arise and re-raised as one of these ``from`` the original.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ota.status import PorStatus

if TYPE_CHECKING:
    from ota.packet import PorContext


class OtaError(Exception):
    """Base of every error raised by ``ota``."""

    por_status: ClassVar[PorStatus] = PorStatus.UNDEFINED_SECURITY_ERROR

    def __init__(self, detail: str, *, context: PorContext | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # What the receiving entity recovered before failing (TAR, SPI, counter, keys), so a
        # card can still address its PoR; None when not even the header could be read.
        self.context = context


class FormatError(OtaError):
    """Malformed bytes: truncated or oversized packet, bad lengths, bad framing."""


class ApduFormatError(FormatError):
    """A one-card applet command or response APDU that does not follow its format."""

    sw: ClassVar[int] = 0x6700  # ISO/IEC 7816-4: wrong length


class KeysetError(OtaError):
    """Key material that does not fit the algorithm it is declared for."""


class UndefinedSecurityError(OtaError):
    por_status = PorStatus.UNDEFINED_SECURITY_ERROR


class RcCcDsFailed(OtaError):
    por_status = PorStatus.RC_CC_DS_FAILED


class CounterTooLow(OtaError):
    por_status = PorStatus.CNTR_LOW


class CounterTooHigh(OtaError):
    por_status = PorStatus.CNTR_HIGH


class CounterBlocked(OtaError):
    por_status = PorStatus.CNTR_BLOCKED


class CipheringError(OtaError):
    por_status = PorStatus.CIPHERING_ERROR


class InsufficientMemory(OtaError):
    por_status = PorStatus.INSUFFICIENT_MEMORY


class TarUnknown(OtaError):
    por_status = PorStatus.TAR_UNKNOWN


class InsufficientSecurityLevel(OtaError):
    por_status = PorStatus.INSUFFICIENT_SECURITY_LEVEL
