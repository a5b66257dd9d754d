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


def save_state(path: pathlib.Path, state: CardState, *, durable: bool = True) -> None:
    data = state.to_json().encode("utf-8")
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise StateFileError(f"cannot write card file {path}: {exc.strerror}") from exc
    # Mode 600: the file holds the card's keys.
    path.chmod(0o600)


class CardFile:
    """A card bound to its state file: ``save_if_dirty`` after each command."""

    def __init__(self, path: pathlib.Path, card: SimCard, *, durable: bool = True) -> None:
        self.path = path
        self.card = card
        self.durable = durable

    def save(self) -> None:
        save_state(self.path, self.card.snapshot(), durable=self.durable)
        self.card.dirty = False

    def save_if_dirty(self) -> None:
        if self.card.dirty:
            self.save()
