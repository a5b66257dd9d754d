"""The UICC core: ``SimCard.execute(apdu) -> response`` (ETSI TS 102 221, ISO/IEC 7816-4).

Sans-I/O: the card takes APDU bytes and returns response bytes; what talks to a reader, a
handset or pcscd lives in the adapters. Every failure becomes a status word here, in
``execute``; no exception leaves the card.

Dispatch: the core handles the file, PIN, channel and toolkit commands of TS 102 221 clause 10
itself; any other instruction goes to the applet selected on the channel (the one-card applet
for terminals, the GlobalPlatform-style manager for issuing). ENVELOPEs go to the applet that
claims their BER tag (SMS-PP download to the OTA applet, menu selection to the STK applet).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from sim_emulator import files
from sim_emulator.apdu import CommandApdu, status
from sim_emulator.applet import Applet
from sim_emulator.atr import ATR
from sim_emulator.errors import (
    ChannelNotSupported,
    ClassNotSupported,
    ConditionsNotSatisfied,
    FileNotFound,
    InsNotSupported,
    SecureMessagingNotSupported,
    SimError,
    WrongData,
    WrongLe,
    WrongLength,
    WrongP1P2,
)
from sim_emulator.fcp import df_fcp, ef_fcp
from sim_emulator.filesystem import Df, Ef
from sim_emulator.proactive import ProactiveQueue
from sim_emulator.state import CardState
from sim_emulator.sw import Sw, proactive

MAX_CHANNELS = 4  # basic channel plus three (TS 102 221 10.1.1: CLA b2b1)

# Instructions that change nothing persistent: after them the card state needs no saving.
# (INITIALIZE '50' and READ BALANCE '5C' of the purse keep only volatile state.)
_READ_ONLY = frozenset({0xA4, 0xF2, 0xB0, 0xB2, 0x12, 0x84, 0x70, 0xC0, 0xCA, 0x5C, 0x50})

Handler = Callable[["SimCard", CommandApdu, files.Channel], bytes]


class SimCard:
    """One emulated UICC around its persistent :class:`CardState`."""

    atr: bytes = ATR

    def __init__(
        self, state: CardState, applets: list[Applet] | None = None,
        *, random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.state = state
        self.applets: list[Applet] = list(applets or [])
        self.random = random
        self.proactive = ProactiveQueue()
        self.channels: dict[int, files.Channel] = {}
        self.terminal_profile: bytes | None = None
        self.powered = False
        # Set when a command may have changed persistent state; the adapter saves and clears it.
        self.dirty = False
        # The last unexpected exception turned into '6F00' (for tests and diagnostics).
        self.last_internal_error: BaseException | None = None
        self.last_challenge: bytes | None = None
        self._reset_volatile()

    # -- power -----------------------------------------------------------------------------

    def _reset_volatile(self) -> None:
        self.channels = {0: files.Channel(self.state.fs.mf)}
        self.state.pins.reset()
        self.proactive.clear()
        self.terminal_profile = None
        for applet in self.applets:
            applet.on_reset(self)

    def power_on(self) -> bytes:
        """Cold reset: volatile state back to its initial value; returns the ATR."""
        self._reset_volatile()
        self.powered = True
        return self.atr

    def reset(self) -> bytes:
        """Warm reset (ISO 7816-3 6.2.3): same effect on the card's volatile state."""
        return self.power_on()

    def power_off(self) -> None:
        self.powered = False
        self._reset_volatile()

    # -- the one entry point --------------------------------------------------------------

    def execute(self, raw: bytes) -> bytes:
        """Process one command APDU and return the response APDU (data + SW1 SW2)."""
        data, sw = self._guarded(raw, None)
        if sw == Sw.OK:
            pending = self.proactive.pending_length()
            if pending is not None and self.terminal_profile is not None:
                sw = proactive(pending)
        return data + status(sw)

    def _guarded(self, raw: bytes, context: files.Channel | None) -> tuple[bytes, int]:
        """Run one APDU; every failure becomes its status word (the card never raises)."""
        try:
            apdu = CommandApdu.parse(raw)
            if apdu.ins not in _READ_ONLY:
                self.dirty = True
            channel = self._channel(apdu) if context is None else context
            data = self._route(apdu, channel)
        except files.WithWarning as warning:
            return warning.data, warning.sw
        except SimError as exc:
            return b"", exc.status_word
        except Exception as exc:  # a card answers '6F00', it never crashes
            self.last_internal_error = exc
            return b"", Sw.TECHNICAL_PROBLEM
        if apdu.le is not None and len(data) > apdu.le:
            return b"", WrongLe(len(data)).status_word
        return data, Sw.OK

    def _route(self, apdu: CommandApdu, channel: files.Channel) -> bytes:
        handler = _CORE.get((apdu.ins, apdu.proprietary))
        if handler is not None:
            if apdu.secure_messaging:
                raise SecureMessagingNotSupported("the UICC core has no secure messaging")
            return handler(self, apdu, channel)
        applet = self.applet_for(channel.aid)
        if applet is None and (apdu.ins, not apdu.proprietary) in _CORE:
            raise ClassNotSupported(f"CLA {apdu.cla:02X} is wrong for INS {apdu.ins:02X}")
        if applet is None:
            raise InsNotSupported(f"INS {apdu.ins:02X} not supported (CLA {apdu.cla:02X})")
        assert channel.aid is not None
        return applet.process(self, apdu, channel.aid)

    def _channel(self, apdu: CommandApdu) -> files.Channel:
        if apdu.cla >> 4 == 0x0A:
            # GSM 11.11 class 'A0': this card is a UICC only (TS 102 221 10.1.1).
            raise ClassNotSupported("CLA 'A0' (GSM SIM) is not supported")
        number = apdu.channel
        channel = self.channels.get(number)
        if channel is None:
            if number >= MAX_CHANNELS:
                raise ChannelNotSupported(f"logical channel {number} not supported")
            raise ChannelNotSupported(f"logical channel {number} is not open")
        return channel

    def snapshot(self) -> CardState:
        """The persistent state with every applet's section brought up to date."""
        for applet in self.applets:
            section = applet.dump()
            if section is not None:
                self.state.sections[applet.name] = section
        return self.state

    # -- helpers for applets --------------------------------------------------------------

    def applet_for(self, aid: bytes | None) -> Applet | None:
        if aid is None:
            return None
        return next((a for a in self.applets if a.selectable(aid)), None)

    def applet_named(self, name: str) -> Applet | None:
        return next((a for a in self.applets if a.name == name), None)

    def fcp(self, node: Ef | Df) -> bytes:
        if isinstance(node, Ef):
            return ef_fcp(node)
        total = sum(n.size for n in node.walk() if isinstance(n, Ef))
        return df_fcp(node, self.state.pins.template(), total)

    def execute_in(self, raw: bytes, context: files.Channel) -> bytes:
        """Execute an APDU in a context of its own (OTA remote commands, TS 102 226 5.1).

        Remote APDUs get their own selection state so they never disturb what the handset has
        selected; no '91xx' is added since the response goes into a PoR, not to a terminal.
        """
        data, sw = self._guarded(raw, context)
        return data + status(sw)

    def new_context(self) -> files.Channel:
        return files.Channel(self.state.fs.mf)


# -- core command handlers ------------------------------------------------------------------


def _select(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    if apdu.p1 == 0x04:
        applet = card.applet_for(apdu.data)
        if applet is not None:
            data = applet.select(card, ch, apdu)
            if data is not None:
                return data
    node, with_fcp = files.select(card.state.fs, ch, apdu)
    if isinstance(node, Df) and node.aid is not None and apdu.p1 != 0x04:
        # Selected by FID or path ('7FFF'): an applet's ADF then has no applet context.
        ch.aid = node.aid if card.applet_for(node.aid) is None else None
    return card.fcp(node) if with_fcp else b""


def _status(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    """STATUS (TS 102 221 11.1.2): P1 application status, P2 what to return."""
    if apdu.p1 not in (0x00, 0x01, 0x02):
        raise WrongP1P2(f"STATUS P1 {apdu.p1:02X}")
    if apdu.p2 == 0x00:
        return card.fcp(ch.df)
    if apdu.p2 == 0x01:
        if ch.adf is None or ch.adf.aid is None:
            raise FileNotFound("no application is selected")
        return b"\x84" + bytes((len(ch.adf.aid),)) + ch.adf.aid
    if apdu.p2 == 0x0C:
        return b""
    raise WrongP1P2(f"STATUS P2 {apdu.p2:02X}")


def _read_binary(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    return files.read_binary(card.state.pins, ch, apdu)


def _update_binary(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    files.update_binary(card.state.pins, ch, apdu)
    return b""


def _read_record(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    return files.read_record(card.state.pins, ch, apdu)


def _update_record(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    files.update_record(card.state.pins, ch, apdu)
    return b""


def _pin_command(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    """VERIFY / CHANGE / DISABLE / ENABLE / UNBLOCK PIN (TS 102 221 11.1.9 .. 11.1.13)."""
    ins, data = apdu.ins, apdu.data
    pin = card.state.pins.get(apdu.p2)
    if ins == 0x20:
        if apdu.p1 != 0x00:
            raise WrongP1P2("VERIFY P1 must be 00")
        pin.status() if not data else pin.verify(data)
    elif ins == 0x24:
        if apdu.p1 != 0x00 or len(data) != 16:
            raise WrongLength("CHANGE PIN takes the old and the new PIN, 8 octets each")
        pin.change(data[:8], data[8:])
    elif ins == 0x26:
        if apdu.p1 not in (0x00,):
            raise WrongP1P2("DISABLE PIN with a replacement PIN (P1 80) is not supported")
        pin.disable(data)
    elif ins == 0x28:
        if apdu.p1 != 0x00:
            raise WrongP1P2("ENABLE PIN P1 must be 00")
        pin.enable(data)
    else:
        if apdu.p1 != 0x00:
            raise WrongP1P2("UNBLOCK PIN P1 must be 00")
        if data and len(data) != 16:
            raise WrongLength("UNBLOCK PIN takes the unblock key and the new PIN, 8 octets each")
        pin.unblock_with(data[:8], data[8:] if data else None)
    return b""


def _manage_channel(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    """MANAGE CHANNEL (TS 102 221 11.1.17): P1 00 open, 80 close; P2 the channel (0: any)."""
    if apdu.p1 == 0x00:
        wanted = apdu.p2 or next((n for n in range(1, MAX_CHANNELS) if n not in card.channels), 0)
        if not 1 <= wanted < MAX_CHANNELS or wanted in card.channels:
            raise ChannelNotSupported("no logical channel available")
        card.channels[wanted] = files.Channel(card.state.fs.mf)
        return bytes((wanted,)) if apdu.p2 == 0 else b""
    if apdu.p1 == 0x80:
        if apdu.p2 == 0 or apdu.p2 not in card.channels:
            raise WrongP1P2(f"channel {apdu.p2} cannot be closed")
        del card.channels[apdu.p2]
        return b""
    raise WrongP1P2(f"MANAGE CHANNEL P1 {apdu.p1:02X}")


def _get_challenge(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    """GET CHALLENGE (ISO 7816-4 7.5.3): fresh random octets, remembered for the applets."""
    length = apdu.le if apdu.le is not None else 8
    if length not in (4, 8, 16, 256):
        raise WrongLength("GET CHALLENGE returns 4, 8 or 16 octets")
    challenge = card.random(8 if length == 256 else length)
    card.last_challenge = challenge
    return challenge


def _terminal_profile(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    """TERMINAL PROFILE (TS 102 221 11.2.1): the toolkit may now run; applets start."""
    if apdu.p1p2 != 0:
        raise WrongP1P2("TERMINAL PROFILE P1 P2 must be 00 00")
    if not apdu.data:
        raise WrongLength("TERMINAL PROFILE needs at least one octet")
    card.terminal_profile = apdu.data
    # A new profile starts a new toolkit session: nothing of an earlier dialogue is owed.
    card.proactive.clear()
    for applet in card.applets:
        applet.on_terminal_profile(card, apdu.data)
    return b""


def _envelope(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    """ENVELOPE (TS 102 221 11.2.2): handed whole to the applet claiming its BER tag."""
    if apdu.p1p2 != 0:
        raise WrongP1P2("ENVELOPE P1 P2 must be 00 00")
    if len(apdu.data) < 2:
        raise WrongLength("ENVELOPE needs a BER-TLV")
    tag = apdu.data[0]
    for applet in card.applets:
        if tag in applet.envelope_tags:
            return applet.on_envelope(card, apdu.data)
    if tag == 0xD6:
        return b""  # EVENT DOWNLOAD: no applet registered for events; nothing to do
    raise WrongData(f"envelope tag {tag:02X} is not handled by this card")


def _fetch(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    if apdu.p1p2 != 0:
        raise WrongP1P2("FETCH P1 P2 must be 00 00")
    return card.proactive.fetch(apdu.le)


def _terminal_response(card: SimCard, apdu: CommandApdu, ch: files.Channel) -> bytes:
    if apdu.p1p2 != 0:
        raise WrongP1P2("TERMINAL RESPONSE P1 P2 must be 00 00")
    if not apdu.data:
        raise WrongLength("TERMINAL RESPONSE needs data")
    if card.terminal_profile is None:
        raise ConditionsNotSatisfied("no TERMINAL PROFILE since the last reset")
    card.proactive.terminal_response(apdu.data)
    return b""


# (INS, proprietary class) -> handler. TS 102 221 10.1.2 Table 10.5: the file and PIN commands
# use the interindustry class '0X', STATUS and the toolkit commands the class '8X'.
_CORE: dict[tuple[int, bool], Handler] = {
    (0xA4, False): _select,
    (0xF2, True): _status,
    (0xB0, False): _read_binary,
    (0xD6, False): _update_binary,
    (0xB2, False): _read_record,
    (0xDC, False): _update_record,
    (0x20, False): _pin_command,
    (0x24, False): _pin_command,
    (0x26, False): _pin_command,
    (0x28, False): _pin_command,
    (0x2C, False): _pin_command,
    (0x70, False): _manage_channel,
    (0x84, False): _get_challenge,
    (0x10, True): _terminal_profile,
    (0xC2, True): _envelope,
    (0x12, True): _fetch,
    (0x14, True): _terminal_response,
}
