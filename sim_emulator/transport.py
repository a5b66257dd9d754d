"""How terminals, the issuing desk and tests reach a card: in-process or through PC/SC.

``CardTransport.transmit(apdu) -> response`` hides the link, as pySim's ``LinkBase`` does; the
same terminal and issuing code runs against an in-process ``SimCard`` and against a real reader
through pyscard (which blocks: call it from a thread, never from an event loop).
"""

from __future__ import annotations

from typing import Any, Protocol

from sim_emulator.apdu import ResponseApdu
from sim_emulator.card import SimCard
from sim_emulator.errors import ReaderError
from sim_emulator.sw import Sw, describe


class CardTransport(Protocol):
    def transmit(self, apdu: bytes) -> bytes: ...


class InMemoryTransport:
    """A card in the same process (tests, terminal simulators, the handset)."""

    def __init__(self, card: SimCard, after_command: Any = None) -> None:
        self.card = card
        self.after_command = after_command

    def transmit(self, apdu: bytes) -> bytes:
        response = self.card.execute(apdu)
        if self.after_command is not None:
            self.after_command()
        return response


class PcscTransport:
    """A card in a PC/SC reader, through pyscard (``smartcard``)."""

    def __init__(self, reader_name: str) -> None:
        try:
            from smartcard.System import readers
        except ImportError as exc:
            raise ReaderError("pyscard is not installed (pip install pyscard)") from exc
        try:
            available = readers()
        except Exception as exc:  # pyscard raises its own hierarchy; it stops here
            raise ReaderError(f"PC/SC is not available: {exc}") from exc
        match = [r for r in available if str(r) == reader_name] or [
            r for r in available if reader_name in str(r)]
        if not match:
            names = ", ".join(str(r) for r in available) or "none"
            raise ReaderError(f"no reader named {reader_name!r} (readers: {names})")
        self.reader = match[0]
        self.connection = self.reader.createConnection()
        try:
            self.connection.connect()
        except Exception as exc:
            raise ReaderError(f"no card in {self.reader}: {exc}") from exc

    def transmit(self, apdu: bytes) -> bytes:
        try:
            data, sw1, sw2 = self.connection.transmit(list(apdu))
        except Exception as exc:
            raise ReaderError(f"transmit failed: {exc}") from exc
        return bytes(data) + bytes((sw1, sw2))

    def close(self) -> None:
        try:
            self.connection.disconnect()
        except Exception:  # already gone: nothing left to release
            return


def exchange(transport: CardTransport, apdu: bytes, *, expect: tuple[int, ...] = (Sw.OK,),
             what: str = "command") -> bytes:
    """Send ``apdu``; return the data, or raise ``ReaderError`` naming the status word."""
    response = ResponseApdu.parse(transport.transmit(apdu))
    if response.sw not in expect and not (response.sw >> 8 == 0x91 and Sw.OK in expect):
        raise ReaderError(f"{what} answered {describe(response.sw)}",
                          status_word=response.sw)
    return response.data
