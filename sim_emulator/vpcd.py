"""Bridge from an emulated card to pcscd's vpcd driver (vsmartcard's virtual reader).

The driver listens on TCP (port P for slot 0, P+1 for slot 1 ...); the card side connects as a
client. Both directions carry frames of a 2-octet big-endian length and then the bytes.
A 1-octet frame from the driver is a control code (00 power off, 01 power on, 02 reset,
04 "send the ATR", which alone is answered); a longer frame is a command APDU, answered by one
response APDU. Closing the socket means "card removed".

Measured facts (``/work/shared/notes/pcsc.md``): the driver writes length and data in two
sends without TCP_NODELAY, so the card must re-arm ``TCP_QUICKACK`` after every ``recv`` or each
APDU waits for the 40 ms delayed ACK. pyscard blocks, so the bridge runs in its own thread and
never shares an event loop with a PC/SC client.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable

from sim_emulator.card import SimCard
from sim_emulator.errors import SimError, VpcdError

log = logging.getLogger(__name__)

POWER_OFF = 0x00
POWER_ON = 0x01
RESET = 0x02
GET_ATR = 0x04
# Linux value; other systems have no delayed-ACK knob and need none of this.
_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def parse_endpoint(text: str, default_port: int = 35963) -> tuple[str, int]:
    """``HOST:PORT`` (or ``HOST``) as used by ``--vpcd``."""
    host, sep, port = text.rpartition(":")
    if not sep:
        return text or "127.0.0.1", default_port
    try:
        number = int(port)
    except ValueError:
        raise VpcdError(f"port {port!r} in {text!r} is not a number") from None
    if not 0 < number < 65536:
        raise VpcdError(f"port {number} out of range")
    return host or "127.0.0.1", number


class VpcdBridge:
    """Runs one card in one vpcd slot until stopped; reconnects when pcscd goes away."""

    def __init__(
        self,
        card: SimCard,
        host: str,
        port: int,
        *,
        after_command: Callable[[], None] | None = None,
        reconnect: bool = True,
        retry_interval: float = 0.2,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        # Called after every APDU (the card file's save_if_dirty): state is on disk before the
        # response leaves, as a real card's EEPROM write completes before it answers.
        self.after_command = after_command
        self.reconnect = reconnect
        self.retry_interval = retry_interval
        self.apdus = 0
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=f"vpcd:{self.port}", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        """Remove the card: close the socket and wait for the thread."""
        self._stop.set()
        self._close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run(self) -> None:
        while not self._stop.is_set():
            sock = self._connect()
            if sock is None:
                return
            try:
                self._serve(sock)
            except OSError as exc:
                log.info("vpcd %s:%d link lost: %s", self.host, self.port, exc)
            except SimError as exc:
                # The card file could not be saved: a card that cannot keep its state leaves
                # the reader rather than answer from memory it would lose.
                log.error("card in vpcd %s:%d removed: %s", self.host, self.port, exc)
                self._stop.set()
            finally:
                self._close()
                self.connected.clear()
                self.card.power_off()
            if not self.reconnect:
                return
            self._stop.wait(self.retry_interval)

    def _connect(self) -> socket.socket | None:
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
            except OSError:
                if not self.reconnect:
                    raise VpcdError(f"cannot reach vpcd at {self.host}:{self.port}") from None
                self._stop.wait(self.retry_interval)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self.connected.set()
            log.info("card inserted in vpcd %s:%d", self.host, self.port)
            return sock
        return None

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    # -- the wire -------------------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> None:
        buffer = bytearray()
        while not self._stop.is_set():
            chunk = sock.recv(65536)
            # Re-armed after every recv: Linux clears TCP_QUICKACK as it acknowledges.
            _quickack(sock)
            if not chunk:
                return
            buffer += chunk
            while len(buffer) >= 2:
                length = int.from_bytes(buffer[:2], "big")
                if len(buffer) < 2 + length:
                    break
                body = bytes(buffer[2 : 2 + length])
                del buffer[: 2 + length]
                reply = self._handle(body)
                if reply is not None:
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)

    def _handle(self, body: bytes) -> bytes | None:
        if len(body) == 1:
            code = body[0]
            if code == GET_ATR:
                return self.card.atr
            if code == POWER_ON:
                self.card.power_on()
            elif code == RESET:
                self.card.reset()
            elif code == POWER_OFF:
                self.card.power_off()
            else:
                log.debug("vpcd control code %02X ignored", code)
            return None
        response = self.card.execute(body)
        self.apdus += 1
        if self.after_command is not None:
            self.after_command()
        return response


def _quickack(sock: socket.socket) -> None:
    if _TCP_QUICKACK is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
