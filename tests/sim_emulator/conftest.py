"""PC/SC fixtures: pcscd with the vpcd driver, and an emulated card in its reader.

Follows /work/shared/notes/pcsc.md: a private reader config (one entry, two slots on PORT and
PORT+1), pcscd in the foreground (reused when one already lists our reader: the socket path is
fixed, one pcscd per machine), the card as the driver's TCP client. Missing parts skip on a
laptop and fail in CI (``tests.support.need``).
"""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sim_emulator.card import SimCard
from sim_emulator.factory import CardSecrets, new_card_state, open_card
from sim_emulator.storage import CardFile, save_state
from sim_emulator.vpcd import VpcdBridge
from tests.support import need, need_binary

READER = "SIM Emu"
PORT = 35963
DRIVER = pathlib.Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")


def _readers() -> list[str]:
    try:
        from smartcard.System import readers
    except ImportError:
        return []
    try:
        return [str(r) for r in readers()]
    except Exception:  # pcscd down: pyscard raises its own errors
        return []


def _wait(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The reader prefix (slots ``SIM Emu 00 00`` and ``SIM Emu 00 01``)."""
    binary = need_binary("pcscd", "pcscd")
    need(DRIVER.exists(), "the vpcd driver is missing (install vsmartcard-vpcd)")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        need(False, "pyscard is not installed (pip install pyscard; needs libpcsclite-dev)")
    if any(r.startswith(READER) for r in _readers()):
        yield READER
        return
    config = tmp_path_factory.mktemp("pcscd")
    (config / "vpcd").write_text(
        f'FRIENDLYNAME "{READER}"\nDEVICENAME   /dev/null:{PORT}\n'
        f"LIBPATH      {DRIVER}\nCHANNELID    {PORT}\n")
    log = (config / "pcscd.log").open("w")
    process = subprocess.Popen([binary, "--foreground", "--config", str(config)],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = _wait(lambda: any(r.startswith(READER) for r in _readers()), 10)
        need(ready, f"pcscd did not list the {READER} reader (see {config / 'pcscd.log'})")
        yield READER
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(2)
        log.close()


@dataclass
class PcscCard:
    card: SimCard
    secrets: CardSecrets
    reader: str
    bridge: VpcdBridge
    file: CardFile


def card_present(reader: str) -> bool:
    from smartcard.System import readers

    match = [r for r in readers() if str(r) == reader]
    if not match:
        return False
    connection = match[0].createConnection()
    try:
        connection.connect()
    except Exception:
        return False
    with contextlib.suppress(Exception):
        connection.disconnect()
    return True


def insert(tmp: pathlib.Path, slot: int, reader_prefix: str) -> PcscCard:
    reader = f"{reader_prefix} 00 {slot:02d}"
    # Pitfall 6: the slot must be empty before the next card goes in.
    need(_wait(lambda: not card_present(reader), 5), f"{reader} still holds a card")
    state, secrets = new_card_state(pin1="1234")
    path = tmp / f"card{slot}.json"
    save_state(path, state)
    card_file = CardFile(path, open_card(state), durable=False)
    bridge = VpcdBridge(card_file.card, "127.0.0.1", PORT + slot,
                        after_command=card_file.save_if_dirty, reconnect=False)
    bridge.start()
    assert _wait(lambda: card_present(reader), 5), f"the card did not appear in {reader}"
    return PcscCard(card_file.card, secrets, reader, bridge, card_file)


def remove(inserted: PcscCard) -> None:
    inserted.bridge.stop()
    _wait(lambda: not card_present(inserted.reader), 5)


@pytest.fixture(scope="module")
def pcsc_card(pcscd: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscCard]:
    """One fresh card per module in slot 0 (insert and remove cost about a second)."""
    inserted = insert(tmp_path_factory.mktemp("card"), 0, pcscd)
    try:
        yield inserted
    finally:
        remove(inserted)


@pytest.fixture
def connection(pcsc_card: PcscCard) -> Iterator[Any]:
    from smartcard.System import readers

    reader = next(r for r in readers() if str(r) == pcsc_card.reader)
    conn = reader.createConnection()
    conn.connect()
    try:
        yield conn
    finally:
        with contextlib.suppress(Exception):
            conn.disconnect()


def opensc_tool() -> str:
    return need_binary("opensc-tool", "opensc")


def have(binary: str) -> bool:
    return shutil.which(binary) is not None
