"""Card state files: load, create and save atomically (adapter; the card core does no I/O).

A save writes a temporary file in the same directory, flushes it (and fsyncs it when
``durable``), then renames it over the old file, so a crash leaves either the old or the new
state, never half of one. OTA counters and credited transaction ids live in this file: the card
saves after every command that changed them, before its response leaves.
"""

from __future__ import annotations

import os
import pathlib
import tempfile

from sim_emulator.card import SimCard
from sim_emulator.errors import StateFileError
from sim_emulator.state import CardState


def load_state(path: pathlib.Path) -> CardState:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StateFileError(f"cannot read card file {path}: {exc.strerror}") from exc
    return CardState.from_json(text)


def save_state(path: pathlib.Path, state: CardState, *, durable: bool = True,
               pretty: bool = True) -> None:
    write_atomically(path, state.to_json(pretty=pretty).encode("utf-8"), durable=durable)


def write_atomically(path: pathlib.Path, data: bytes, *, durable: bool = True) -> None:
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file with mode 600, which the card file keeps: it holds keys.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        try:
            os.write(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise StateFileError(f"cannot write card file {path}: {exc.strerror}") from exc


class CardFile:
    """A card bound to its state file: ``save_if_dirty`` after each command.

    ``take`` and ``write`` split a save in two for callers on an event loop: the state is
    encoded where the card lives (no other thread may see it change half-way), the bytes are
    written elsewhere (a thread), and the caller waits for the write before anything the card
    said leaves (a PoR, an MO request).
    """

    def __init__(self, path: pathlib.Path, card: SimCard, *, durable: bool = True) -> None:
        self.path = path
        self.card = card
        self.durable = durable

    def take(self) -> bytes | None:
        """The encoded state if it changed since the last take, else None."""
        if not self.card.dirty:
            return None
        self.card.dirty = False
        return self.card.snapshot().to_json(pretty=False).encode("utf-8")

    def write(self, data: bytes) -> None:
        write_atomically(self.path, data, durable=self.durable)

    def save(self) -> None:
        self.card.dirty = True
        self.save_if_dirty()

    def save_if_dirty(self) -> None:
        data = self.take()
        if data is not None:
            self.write(data)
