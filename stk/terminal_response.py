"""TERMINAL RESPONSE (ETSI TS 102 223 6.8; TS 31.111 6.8).

A bare list of COMPREHENSION-TLVs, no outer tag: command details (8.6, a copy of the
command's), device identities (terminal -> UICC), result (8.12), then what the command type
returns: the text the user entered for GET INPUT / GET INKEY (8.15), the chosen item for
SELECT ITEM (8.10), a duration for POLL INTERVAL (8.8). Anything else is kept in ``extra``,
looked up in the scope of the answered command type. It travels in ``80 14 00 00 Lc data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from stk.apdu import CLA_UICC, Instruction, parse_command_apdu, terminal_response_apdu
from stk.commands import GetInput, ProactiveCommand
from stk.dcs import DCS_8BIT, DCS_GSM7_PACKED, DCS_UCS2
from stk.errors import MissingIeError
from stk.ie_base import IeBag, byte_field, decode_ies, describe_tlvs, scope_of
from stk.ies import (
    CommandDetails,
    DeviceIdentities,
    Duration,
    Ie,
    ItemIdentifier,
    Result,
    TextString,
)
from stk.tags import DeviceIdentity, GeneralResult, Tag
from stk.tlv import decode_ctlvs, encode_ctlvs


@dataclass(frozen=True, kw_only=True)
class TerminalResponse:
    """TS 102 223 6.8: the terminal's answer to one proactive command."""

    command: CommandDetails
    result: Result
    source: int = DeviceIdentity.TERMINAL
    destination: int = DeviceIdentity.UICC
    duration: Duration | None = None
    text: TextString | None = None
    item_identifier: int | None = None
    # Data objects this class does not model, in arrival order; re-encoded after the others.
    extra: tuple[Ie, ...] = ()

    def __post_init__(self) -> None:
        byte_field("source device identity", self.source)
        byte_field("destination device identity", self.destination)
        if self.item_identifier is not None:
            byte_field("item identifier", self.item_identifier)

    @classmethod
    def answer(
        cls,
        command: ProactiveCommand,
        general: int = GeneralResult.PERFORMED_SUCCESSFULLY,
        additional: bytes = b"",
        *,
        text: TextString | None = None,
        item_identifier: int | None = None,
    ) -> Self:
        """The response to ``command``: its command details copied, as 6.8 requires."""
        return cls(
            command=command.details,
            result=Result(general, additional),
            text=text,
            item_identifier=item_identifier,
        )

    @classmethod
    def input_answer(cls, command: GetInput, text: str) -> Self:
        """GET INPUT performed: ``text`` coded as the command's qualifier asks (6.6.3)."""
        if command.ucs2:
            dcs = DCS_UCS2
        elif command.packed:
            dcs = DCS_GSM7_PACKED
        else:
            dcs = DCS_8BIT
        return cls.answer(command, text=TextString(text, dcs))

    def answers(self, command: ProactiveCommand) -> bool:
        """Whether this response carries the command details of ``command``."""
        return self.command == command.details

    @property
    def general_result(self) -> int:
        return self.result.general

    def ies(self) -> list[Ie]:
        item = None if self.item_identifier is None else ItemIdentifier(self.item_identifier)
        optional = [self.duration, self.text, item]
        return [
            self.command,
            DeviceIdentities(self.source, self.destination),
            self.result,
            *[ie for ie in optional if ie is not None],
            *self.extra,
        ]

    def encode(self) -> bytes:
        return encode_ctlvs(ie.to_ctlv() for ie in self.ies())

    def to_apdu(self, cla: int = CLA_UICC) -> bytes:
        """``80 14 00 00 Lc`` and the response (no Le)."""
        return terminal_response_apdu(self.encode(), cla)

    def describe(self) -> list[str]:
        lines = [f"Terminal response ({len(self.encode())} octets)"]
        return lines + describe_tlvs(
            decode_ctlvs(self.encode()), scope_of(self.command.command_type)
        )


def decode_terminal_response(data: bytes) -> TerminalResponse:
    """Decode the TERMINAL RESPONSE data field."""
    tlvs = decode_ctlvs(data)
    first = next((t for t in tlvs if t.tag == Tag.COMMAND_DETAILS), None)
    if first is None:
        raise MissingIeError("terminal response without command details (TS 102 223 8.6)")
    details = CommandDetails.decode_value(first.value)
    bag = IeBag(decode_ies(tlvs, scope_of(details.command_type)))
    bag.take(CommandDetails)
    devices = bag.require(DeviceIdentities, "TERMINAL RESPONSE")
    result = bag.require(Result, "TERMINAL RESPONSE")
    item = bag.take(ItemIdentifier)
    return TerminalResponse(
        command=details,
        result=result,
        source=devices.source,
        destination=devices.destination,
        duration=bag.take(Duration),
        text=bag.take(TextString),
        item_identifier=None if item is None else item.identifier,
        extra=bag.rest(),
    )


def decode_terminal_response_apdu(apdu: bytes) -> TerminalResponse:
    """Decode a TERMINAL RESPONSE command APDU (``80 14 00 00 Lc data [Le]``)."""
    return decode_terminal_response(parse_command_apdu(apdu, Instruction.TERMINAL_RESPONSE))
