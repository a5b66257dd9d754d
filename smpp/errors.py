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
