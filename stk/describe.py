"""Recognise a CAT object from its octets and describe it, for ``onecard decode``.

Accepted forms, told apart by their first octet (no two overlap):

- ``80``/``A0``: an APDU: TERMINAL PROFILE, FETCH, TERMINAL RESPONSE or ENVELOPE (TS 102 221
  10.1.2); '80' is never a COMPREHENSION-TLV tag, so a bare terminal response cannot start so;
- ``D0``: a proactive command, optionally followed by the FETCH status word ``90 00``;
- ``D1``..``DF``: an envelope;
- ``01``/``81`` (command details): a bare TERMINAL RESPONSE.
"""

from __future__ import annotations

from stk.apdu import CLA_GSM, CLA_UICC, Instruction, parse_fetch_apdu, split_response
from stk.commands import ProactiveCommand, decode_proactive_command
from stk.envelopes import Envelope, decode_envelope, decode_envelope_apdu
from stk.errors import TlvError, UnsupportedObjectError
from stk.tags import BerTag, Tag
from stk.terminal_profile import TerminalProfile
from stk.terminal_response import (
    TerminalResponse,
    decode_terminal_response,
    decode_terminal_response_apdu,
)

CatObject = ProactiveCommand | Envelope | TerminalResponse | TerminalProfile


def is_apdu(data: bytes) -> bool:
    instructions = {int(i) for i in Instruction}
    return len(data) >= 5 and data[0] in (CLA_UICC, CLA_GSM) and data[1] in instructions


def _proactive(data: bytes) -> ProactiveCommand:
    try:
        return decode_proactive_command(data)
    except TlvError:
        # A FETCH response as captured: the command and its status word.
        body, sw = split_response(data)
        if sw != 0x9000:
            raise
        return decode_proactive_command(body)


def decode_any(data: bytes) -> CatObject | int:
    """The CAT object in ``data``; for a FETCH APDU, the number of octets it asks for."""
    if not data:
        raise UnsupportedObjectError("no data")
    if is_apdu(data):
        ins = data[1]
        if ins == Instruction.TERMINAL_PROFILE:
            return TerminalProfile.parse_apdu(data)
        if ins == Instruction.FETCH:
            return parse_fetch_apdu(data)
        if ins == Instruction.TERMINAL_RESPONSE:
            return decode_terminal_response_apdu(data)
        return decode_envelope_apdu(data)
    first = data[0]
    if first == BerTag.PROACTIVE_COMMAND:
        return _proactive(data)
    if BerTag.PROACTIVE_COMMAND < first <= max(BerTag):
        return decode_envelope(data)
    if first & 0x7F == Tag.COMMAND_DETAILS:
        return decode_terminal_response(data)
    raise UnsupportedObjectError(
        f"first octet {first:02X} starts no CAT object (APDU 80/A0, D0..DF, or 81 for a "
        "terminal response)"
    )


def describe(data: bytes) -> list[str]:
    """Analyser-style lines for a CAT object or APDU in ``data``."""
    obj = decode_any(data)
    lines = []
    if is_apdu(data):
        ins = Instruction(data[1]).name.replace("_", " ")
        lines.append(f"{data[:5].hex(' ').upper()}  {ins} APDU")
    if isinstance(obj, int):
        return [*lines, f"  fetch {obj} octets"]
    return lines + obj.describe()
