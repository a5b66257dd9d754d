"""Proactive UICC plumbing: pending commands, FETCH and TERMINAL RESPONSE (ETSI TS 102 221
clause 14.6 and TS 102 223 clause 6.2).

An applet queues a proactive command (the complete 'D0' BER-TLV) with a callback. The card
announces the head of the queue with '91xx' after each successful command, hands it out on
FETCH, and routes the next TERMINAL RESPONSE to the callback, which may queue the next
command of its dialogue (GET INPUT -> SEND SHORT MESSAGE -> DISPLAY TEXT ...).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sim_emulator.errors import ConditionsNotSatisfied, WrongLe

ResponseHandler = Callable[[bytes], None]


@dataclass(frozen=True, slots=True)
class PendingCommand:
    command: bytes  # the proactive command, 'D0' L ...
    on_response: ResponseHandler  # receives the TERMINAL RESPONSE data


class ProactiveQueue:
    """Commands waiting for FETCH, and the one fetched that waits for its response."""

    def __init__(self) -> None:
        self._queue: deque[PendingCommand] = deque()
        self._in_progress: PendingCommand | None = None

    def push(self, command: bytes, on_response: ResponseHandler) -> None:
        self._queue.append(PendingCommand(command, on_response))

    @property
    def busy(self) -> bool:
        """A fetched command is still waiting for its TERMINAL RESPONSE."""
        return self._in_progress is not None

    def pending_length(self) -> int | None:
        """Length of the command to announce with '91xx', or None if nothing is to be fetched.

        TS 102 221 14.6.2: while a fetched command waits for its response no other is offered.
        """
        if self._in_progress is not None or not self._queue:
            return None
        return len(self._queue[0].command)

    def fetch(self, le: int | None) -> bytes:
        """FETCH (TS 102 221 10.1.5.5): Le must be the announced length, else '6Cxx'."""
        length = self.pending_length()
        if length is None:
            raise ConditionsNotSatisfied("no proactive command is pending")
        if le is not None and le != length and not (le == 256 and length <= 256):
            raise WrongLe(length)
        pending = self._queue.popleft()
        self._in_progress = pending
        return pending.command

    def terminal_response(self, data: bytes) -> None:
        """Route a TERMINAL RESPONSE to the applet whose command it answers."""
        pending = self._in_progress
        if pending is None:
            raise ConditionsNotSatisfied("TERMINAL RESPONSE without a fetched proactive command")
        self._in_progress = None
        pending.on_response(data)

    def clear(self) -> None:
        self._queue.clear()
        self._in_progress = None
