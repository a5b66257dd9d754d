"""The one exception base of ``smpp``; each error carries the command_status it maps to.

Errors raised while decoding or handling a PDU tell the peer why through ``command_status``
(SMPP v3.4 5.1.3); adapters answer with it, core code only raises.
"""

from __future__ import annotations

from smpp.status import CommandStatus


class SmppError(Exception):
    """Base of every error raised by ``smpp`` (PDUs, SMS TPDUs, text, UDH)."""

    command_status: CommandStatus = CommandStatus.ESME_RSYSERR


class UdhError(SmppError):
    """A user data header that cannot be parsed or built (TS 23.040 9.2.3.24)."""

    command_status = CommandStatus.ESME_RINVESMCLASS


# --- PDUs and sessions (smpp.codec, smpp.session) -------------------------------------------
#
#   SmppError
#   ├── UdhError                  (above)
#   ├── PduError                  a PDU that cannot be decoded or encoded
#   │   ├── FramingError          command_length out of range: the stream cannot be resynced
#   │   ├── UnknownCommand        command_id outside SMPP 3.4: answered with generic_nack
#   │   └── InvalidField          a field that breaks its type or length (status per field)
#   ├── SessionError              a PDU that the bind state does not allow
#   │   ├── InvalidBindState
#   │   ├── AlreadyBound
#   │   └── WindowFull
#   └── EsmeError                 what the asyncio ESME reports to callers (smpp.client)
#       ├── BindFailed            the SMSC refused the bind (status from the bind_resp)
#       ├── SubmitRejected        the SMSC answered submit_sm with an error status
#       │   ├── Throttled
#       │   └── MessageQueueFull
#       ├── ResponseTimeout       no response within the per-PDU timeout, retries used up
#       ├── ConnectionLost        the link went down and the PDU could not be resent
#       └── NotBound              the ESME is stopped or was never started


class PduError(SmppError):
    """A PDU we cannot decode or encode.

    ``command_id`` and ``sequence`` are those of the offending PDU when its header could be
    read, so that the receiver can answer it. A field-specific status given to the
    constructor overrides the class's, because SMPP has one status per field (5.1.3).
    """

    command_status = CommandStatus.ESME_RSYSERR

    def __init__(
        self,
        message: str,
        *,
        command_id: int | None = None,
        sequence: int | None = None,
        command_status: CommandStatus | None = None,
    ) -> None:
        super().__init__(message)
        self.command_id = command_id
        self.sequence = sequence
        if command_status is not None:
            self.command_status = command_status


class FramingError(PduError):
    """command_length below the 16-octet header or above our maximum PDU size (3.2)."""

    command_status = CommandStatus.ESME_RINVCMDLEN


class UnknownCommand(PduError):
    """A command_id that SMPP 3.4 does not define (5.1.2.1)."""

    command_status = CommandStatus.ESME_RINVCMDID


class InvalidField(PduError):
    """A mandatory or optional parameter that breaks its type, length or range."""

    command_status = CommandStatus.ESME_RINVMSGLEN


class SessionError(SmppError):
    """A PDU that is not allowed in the current state of the bind (SMPP v3.4 2.3)."""

    command_status = CommandStatus.ESME_RINVBNDSTS


class InvalidBindState(SessionError):
    command_status = CommandStatus.ESME_RINVBNDSTS


class AlreadyBound(SessionError):
    command_status = CommandStatus.ESME_RALYBND


class WindowFull(SessionError):
    """More outstanding requests than the window allows; the adapter waits for a slot."""

    command_status = CommandStatus.ESME_RTHROTTLED


class EsmeError(SmppError):
    """Errors that the asyncio ESME reports to its callers."""


class BindFailed(EsmeError):
    """The SMSC refused the bind; ``command_status`` is the one from its bind_resp."""

    command_status = CommandStatus.ESME_RBINDFAIL

    def __init__(self, message: str, command_status: int | None = None) -> None:
        super().__init__(message)
        if command_status is not None:
            self.command_status = _known(command_status)


class SubmitRejected(EsmeError):
    """The SMSC answered a submit_sm with an error; ``raw_status`` keeps vendor values."""

    command_status = CommandStatus.ESME_RSUBMITFAIL

    def __init__(self, message: str, raw_status: int | None = None) -> None:
        super().__init__(message)
        self.raw_status = int(self.command_status if raw_status is None else raw_status)
        if raw_status is not None:
            self.command_status = _known(raw_status)


class Throttled(SubmitRejected):
    command_status = CommandStatus.ESME_RTHROTTLED


class MessageQueueFull(SubmitRejected):
    command_status = CommandStatus.ESME_RMSGQFUL


class ResponseTimeout(EsmeError):
    """No response within the per-PDU timeout after every allowed attempt."""

    # No status exists for "the peer did not answer"; SMPP's catch-all is the honest one.
    command_status = CommandStatus.ESME_RUNKNOWNERR


class ConnectionLost(EsmeError):
    command_status = CommandStatus.ESME_RSYSERR


class NotBound(EsmeError):
    command_status = CommandStatus.ESME_RINVBNDSTS


def _known(value: int) -> CommandStatus:
    """A status as our enum; a vendor value outside the table reads as ESME_RUNKNOWNERR."""
    try:
        return CommandStatus(value)
    except ValueError:
        return CommandStatus.ESME_RUNKNOWNERR
