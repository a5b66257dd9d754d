"""What an on-card application looks like to the UICC core.

The core owns the file system, PINs, channels and the proactive queue; applets plug in
through these hooks. An applet with an ``aid`` is selectable like an ADF (its ADF lives in the
file system so SELECT, STATUS and its EFs work as for any application); toolkit applets react
to TERMINAL PROFILE and to ENVELOPEs whose BER tag they claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim_emulator import files
from sim_emulator.apdu import CommandApdu
from sim_emulator.errors import InsNotSupported

if TYPE_CHECKING:
    from sim_emulator.card import SimCard


class Applet:
    """Base class; every hook has a harmless default."""

    name: str = "applet"
    # AIDs this applet answers to when selected by DF name (several for sub-applications).
    aids: tuple[bytes, ...] = ()
    # BER tags of the ENVELOPEs this applet handles (TS 101 220 7.2: 'D1' SMS-PP download,
    # 'D3' menu selection, ...).
    envelope_tags: tuple[int, ...] = ()

    def selectable(self, aid: bytes) -> bool:
        return bool(aid) and any(a.startswith(aid) for a in self.aids)

    def select(self, card: SimCard, channel: files.Channel, apdu: CommandApdu) -> bytes | None:
        """SELECT by DF name of one of this applet's AIDs.

        Return the response data after selecting on ``channel``; None leaves the selection to
        the file system (an ADF with that AID, answered with its FCP).
        """
        return None

    def process(self, card: SimCard, apdu: CommandApdu, aid: bytes) -> bytes:
        """A command the core does not handle, sent while this applet is selected."""
        raise InsNotSupported(f"{self.name}: INS {apdu.ins:02X} not supported")

    def on_terminal_profile(self, card: SimCard, profile: bytes) -> None:
        """TERMINAL PROFILE arrived (after each reset): toolkit applets queue SET UP MENU."""

    def on_envelope(self, card: SimCard, envelope: bytes) -> bytes:
        """An ENVELOPE with one of ``envelope_tags``; returns the response data."""
        raise InsNotSupported(f"{self.name}: envelope not handled")

    def on_file_update(self, card: SimCard) -> None:
        """Remote file management changed files (an applet may re-read its data files)."""

    def on_reset(self, card: SimCard) -> None:
        """Power on or reset: drop volatile state."""

    def dump(self) -> dict[str, Any] | None:
        """The applet's persistent state for ``CardState.sections[name]`` (None: stateless)."""
        return None
