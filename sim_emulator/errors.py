"""The one exception base of ``sim_emulator``; each error carries the status word it maps to.

Card code raises; ``SimCard.execute`` is the single place that turns an error into the
status word answered on the wire, so that no exception ever escapes the card. Errors of the
adapters (vpcd bridge, handset, terminals, issuing desk) share the base but never reach a card.

    SimError (status_word)
    ├── CardError           APDU-level failures inside the card, one subclass per status word
    │   ├── WrongLength, WrongLe, WrongP1P2, IncorrectP1P2, WrongData, FileNotFound, ...
    │   └── VerifyFailed (63Cx with the retries left)
    └── AdapterError        I/O side: vpcd link, SMSC bind, reader, terminal upload
        ├── VpcdError, ReaderError, TerminalError, HandsetError
"""

from __future__ import annotations

from sim_emulator.sw import Sw, verify_failed, wrong_le


class SimError(Exception):
    """Base of every error raised by ``sim_emulator``."""

    status_word: int = Sw.TECHNICAL_PROBLEM

    def __init__(self, detail: str = "", status_word: int | None = None) -> None:
        super().__init__(detail or type(self).__name__)
        self.detail = detail
        if status_word is not None:
            self.status_word = status_word


class CardError(SimError):
    """An APDU the card refuses; ``status_word`` is what it answers."""


class WrongLength(CardError):
    status_word = Sw.WRONG_LENGTH


class WrongLe(CardError):
    status_word = Sw.WRONG_LE

    def __init__(self, exact: int) -> None:
        super().__init__(f"wrong Le, exact length is {exact}", wrong_le(exact))


class ClassNotSupported(CardError):
    status_word = Sw.CLA_NOT_SUPPORTED


class InsNotSupported(CardError):
    status_word = Sw.INS_NOT_SUPPORTED


class WrongP1P2(CardError):
    status_word = Sw.WRONG_P1P2


class IncorrectP1P2(CardError):
    status_word = Sw.INCORRECT_P1P2


class WrongData(CardError):
    status_word = Sw.WRONG_DATA


class FunctionNotSupported(CardError):
    status_word = Sw.FUNCTION_NOT_SUPPORTED


class FileNotFound(CardError):
    status_word = Sw.FILE_NOT_FOUND


class RecordNotFound(CardError):
    status_word = Sw.RECORD_NOT_FOUND


class DataNotFound(CardError):
    status_word = Sw.DATA_NOT_FOUND


class NotEnoughMemory(CardError):
    status_word = Sw.NOT_ENOUGH_MEMORY


class IncompatibleFile(CardError):
    status_word = Sw.INCOMPATIBLE_FILE


class NoEfSelected(CardError):
    status_word = Sw.NO_EF_SELECTED


class SecurityNotSatisfied(CardError):
    status_word = Sw.SECURITY_NOT_SATISFIED


class AuthBlocked(CardError):
    status_word = Sw.AUTH_BLOCKED


class ConditionsNotSatisfied(CardError):
    status_word = Sw.CONDITIONS_NOT_SATISFIED


class SecureMessagingNotSupported(CardError):
    status_word = Sw.SM_NOT_SUPPORTED


class ChannelNotSupported(CardError):
    status_word = Sw.CHANNEL_NOT_SUPPORTED


class VerifyFailed(CardError):
    status_word = Sw.VERIFY_FAILED

    def __init__(self, retries: int) -> None:
        super().__init__(f"verification failed, {retries} retries left", verify_failed(retries))
        self.retries = retries


class InsufficientFunds(CardError):
    status_word = Sw.INSUFFICIENT_FUNDS


class KeyNotFound(CardError):
    status_word = Sw.KEY_INDEX_UNKNOWN


class MacInvalid(CardError):
    status_word = Sw.MAC_INVALID


class ApplicationLocked(CardError):
    status_word = Sw.APP_LOCKED


class AdapterError(SimError):
    """An I/O-side failure outside any card (socket, reader, SMSC, terminal API)."""


class VpcdError(AdapterError):
    """The link to pcscd's vpcd driver failed or sent something unexpected."""


class ReaderError(AdapterError):
    """A PC/SC reader or card could not be reached, or answered an unexpected status word."""


class HandsetError(AdapterError):
    """The handset model could not reach its SMSC or its card."""


class TerminalError(AdapterError):
    """A terminal simulator could not read a card or upload its records."""


class StateFileError(AdapterError):
    """A card state file that cannot be read or does not hold a valid card."""
