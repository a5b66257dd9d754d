"""The vpcd wire protocol against a stand-in driver (no pcscd needed): framing, control codes,
APDUs split across TCP segments, reconnects, and state saved before the answer."""

from __future__ import annotations

import pathlib
import socket
import time

import pytest

from sim_emulator.atr import ATR
from sim_emulator.factory import new_card_state, open_card
from sim_emulator.storage import CardFile, load_state, save_state
from sim_emulator.vpcd import VpcdBridge


def frame(body: bytes) -> bytes:
    return len(body).to_bytes(2, "big") + body


def read_frame(conn: socket.socket) -> bytes:
    def exact(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            assert chunk, "bridge closed the link"
            data += chunk
        return data

    return exact(int.from_bytes(exact(2), "big"))


def test_bridge_speaks_vpcd(tmp_path: pathlib.Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    state, _ = new_card_state(pin1="1234")
    path = tmp_path / "card.json"
    save_state(path, state)
    card_file = CardFile(path, open_card(state), durable=False)
    bridge = VpcdBridge(card_file.card, "127.0.0.1", port, after_command=card_file.save_if_dirty,
                        retry_interval=0.05)
    bridge.start()
    try:
        server.settimeout(5)
        conn, _ = server.accept()
        conn.settimeout(5)
        conn.sendall(frame(b"\x04"))  # send the ATR
        assert read_frame(conn) == ATR
        conn.sendall(frame(b"\x01"))  # power on: no answer
        # The driver writes length and data in two sends; split them further still.
        apdu = frame(bytes.fromhex("00a4000c022fe2"))
        conn.sendall(apdu[:1])
        time.sleep(0.01)
        conn.sendall(apdu[1:5])
        time.sleep(0.01)
        conn.sendall(apdu[5:] + frame(bytes.fromhex("00b000000a")))
        assert read_frame(conn) == b"\x90\x00"
        assert len(read_frame(conn)) == 12
        wrong_pin = bytes.fromhex("0020000108") + b"0000".ljust(8, b"\xff")
        conn.sendall(frame(wrong_pin))
        assert read_frame(conn) == b"\x63\xc2"
        # Saved before the answer came back: the retry counter is already on disk.
        saved = load_state(path)
        assert saved.pins.get(1).retries == 2
        conn.close()  # card "removed": the bridge reconnects
        conn, _ = server.accept()
        conn.settimeout(5)
        conn.sendall(frame(b"\x04"))
        assert read_frame(conn) == ATR
        conn.close()
        assert bridge.apdus == 3
    finally:
        bridge.stop()
        server.close()


class RecordingSocket:
    """Stands in for the vpcd link at the unit level: hands out chunks, records options."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.recvs = 0
        self.quickacks = 0
        self.sent = b""

    def recv(self, size: int) -> bytes:
        self.recvs += 1
        return self.chunks.pop(0) if self.chunks else b""

    def setsockopt(self, level: int, option: int, value: int) -> None:
        if (level, option, value) == (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1):
            self.quickacks += 1

    def sendall(self, data: bytes) -> None:
        self.sent += data


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="no delayed-ACK knob here")
def test_quickack_is_rearmed_after_every_recv() -> None:
    """pcsc.md: the driver sends length and data apart without TCP_NODELAY; unless the card
    re-arms TCP_QUICKACK after each recv (Linux clears it), every APDU waits 40 ms for the
    delayed ACK. bench/sim.py measures the rate; this checks the mechanism."""
    state, _ = new_card_state()
    bridge = VpcdBridge(open_card(state), "127.0.0.1", 1)
    apdu = frame(bytes.fromhex("00a4000c022fe2"))
    link = RecordingSocket([frame(b"\x01"), apdu[:2], apdu[2:], frame(bytes.fromhex(
        "00b000000a"))])
    bridge._serve(link)  # type: ignore[arg-type]  # the wire loop on the recording socket
    assert link.recvs == 5 and link.quickacks == 5  # four chunks and the close
    assert link.sent.startswith(frame(b"\x90\x00"))
