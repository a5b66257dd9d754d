"""Mobile-originated messages: concatenated deliver_sm parts into one :class:`MoMessage`.

Sans-I/O (``now`` is an argument). Concatenation is read from a UDH concatenation IE
(3GPP TS 23.040 9.2.3.24.1 8-bit / 9.2.3.24.8 16-bit reference) when esm_class has UDHI, else
from the sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs (SMPP v3.4 5.3.2.22-24).

Why responses are held: the gateway persists an MO before it answers deliver_sm_resp, so that
an SMSC retries whatever we did not store. For a concatenated message only the whole message
is stored, so the responses to its earlier parts wait until it is complete and stored. They
wait at most ``hold`` seconds, because an SMSC that sends one part at a time would otherwise
never send the rest; after that a part is acknowledged from memory (and would be lost if the
process died before the last part came).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from smpp.errors import SmppError
from smpp.pdus import DeliverSm, ShortMessagePdu
from smpp.text import Reassembler, ReassemblyKey, decode_short_message
from smpp.udh import Concat, Udh


@dataclass(frozen=True, slots=True)
class MoMessage:
    """A whole MO message as the gateway receives it.

    ``payload`` is the user data of all parts joined, without UDH; ``udh`` holds the header's
    other IEs (port addressing, OTA response packet identifier...) or None. ``text`` is the
    decoded text for text codings, None for binary data (e.g. data_coding 0xF6 SMS-PP).
    """

    source: str
    destination: str
    data_coding: int
    protocol_id: int
    esm_class: int
    udh: Udh | None
    payload: bytes
    text: str | None
    parts: int


@dataclass(frozen=True, slots=True)
class MoComplete:
    """Hand ``message`` to the application, then answer what :meth:`MoAssembler.settle`
    returns (``sequences`` for a single part; a concatenated message's parts are kept by the
    assembler, with any copies the SMSC resends meanwhile)."""

    message: MoMessage
    key: ReassemblyKey | None
    sequences: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MoHeld:
    """A part is stored; its response waits for the rest (see :meth:`MoAssembler.release`)."""

    key: ReassemblyKey


@dataclass(frozen=True, slots=True)
class MoDuplicate:
    """A part of a message that is already complete: answer it at once."""


MoStep = MoComplete | MoHeld | MoDuplicate


def split_concat(pdu: ShortMessagePdu) -> tuple[Udh | None, bytes, Concat | None]:
    """(UDH, user data after it, concatenation parameters or None) of one short message."""
    data = pdu.user_data
    if pdu.udhi:
        udh, body = Udh.decode(data)
        concat = udh.concat
        if concat is not None:
            rest = udh.without_concat()
            return (rest if rest.elements else None), body, concat
        return udh, body, None
    if pdu.sar_msg_ref_num is not None and pdu.sar_total_segments and pdu.sar_segment_seqnum:
        concat = Concat(pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum, True)
        return None, data, concat
    return None, data, None


def build_message(pdu: DeliverSm, udh: Udh | None, payload: bytes, parts: int) -> MoMessage:
    try:
        _, text = decode_short_message(pdu.data_coding, payload, False)
    except SmppError:
        text = None  # binary or undecodable: the payload is still delivered
    return MoMessage(
        source=pdu.source_addr,
        destination=pdu.destination_addr,
        data_coding=pdu.data_coding,
        protocol_id=pdu.protocol_id,
        esm_class=pdu.esm_class,
        udh=udh,
        payload=payload,
        text=text,
        parts=parts,
    )


class MoAssembler:
    """Reassembles MO parts and keeps the sequences whose response is held."""

    def __init__(self, *, ttl: float = 300.0, hold: float = 2.0) -> None:
        self.hold = hold
        self._reassembler = Reassembler(ttl=ttl)
        self._held: dict[ReassemblyKey, list[tuple[int, float]]] = {}
        self._first_udh: dict[ReassemblyKey, Udh | None] = {}
        self._completed: OrderedDict[ReassemblyKey, float] = OrderedDict()
        self._unstored: dict[ReassemblyKey, MoMessage] = {}
        self._storing: dict[ReassemblyKey, list[int]] = {}  # answered once the app has it
        self._ttl = ttl

    def add(self, pdu: DeliverSm, now: float) -> MoStep:
        """Raises an :class:`SmppError` (UDH, reassembly) whose status answers the part."""
        udh, body, concat = split_concat(pdu)
        if concat is None or concat.total == 1:
            return MoComplete(build_message(pdu, udh, body, 1), None, (pdu.sequence,))
        key: ReassemblyKey = (pdu.source_addr, pdu.destination_addr, concat.reference, concat.total)
        if key not in self._completed and (concat.sequence == 1 or key not in self._first_udh):
            self._first_udh[key] = udh
        whole = self._reassembler.add(pdu.source_addr, pdu.destination_addr, concat, body, now)
        if whole is None:
            return self._not_complete(key, pdu.sequence, now)
        self._completed[key] = now
        message = build_message(pdu, self._first_udh.pop(key, udh), whole, concat.total)
        held = [seq for seq, _ in self._held.pop(key, [])]
        self._storing[key] = [*held, pdu.sequence]
        return MoComplete(message, key, ())

    def _not_complete(self, key: ReassemblyKey, sequence: int, now: float) -> MoStep:
        storing = self._storing.get(key)
        if storing is not None:  # a resent part while the application stores the message
            storing.append(sequence)
            return MoHeld(key)
        if key in self._completed:
            unstored = self._unstored.pop(key, None)
            if unstored is None:
                return MoDuplicate()
            # The SMSC retries a message the application failed to store: offer it again.
            self._storing[key] = [sequence]
            return MoComplete(unstored, key, ())
        self._held.setdefault(key, []).append((sequence, now + self.hold))
        return MoHeld(key)

    def settle(self, step: MoComplete, stored: bool) -> list[int]:
        """The application stored the message (or failed to): the sequences to answer now.

        After a failure the message is kept, so that the SMSC's retry of any part offers it
        again; after success later copies of its parts are plain duplicates.
        """
        sequences = list(step.sequences)
        if step.key is not None:
            sequences += self._storing.pop(step.key, [])
            if not stored:
                self._unstored[step.key] = step.message
        return sequences

    def release(self, now: float) -> list[int]:
        """Sequences whose hold ran out: answer them (the parts stay in memory)."""
        released: list[int] = []
        for key in list(self._held):
            waiting = self._held[key]
            due = [seq for seq, deadline in waiting if deadline <= now]
            if due:
                released.extend(due)
                left = [(seq, deadline) for seq, deadline in waiting if deadline > now]
                if left:
                    self._held[key] = left
                else:
                    del self._held[key]
        return released

    def expire(self, now: float) -> int:
        """Forget incomplete messages past the TTL; returns how many were dropped."""
        dropped = self._reassembler.expire(now)
        for incomplete in dropped:
            key = (
                incomplete.originator,
                incomplete.destination,
                incomplete.reference,
                incomplete.total,
            )
            self._first_udh.pop(key, None)
        while self._completed:
            key, since = next(iter(self._completed.items()))
            if now - since < self._ttl:
                break
            del self._completed[key]
            self._unstored.pop(key, None)
        return len(dropped)
