"""The handset (ME) around an emulated card, and a fleet of them on one SMPP bind.

A :class:`Handset` does what a phone does for its SIM (3GPP TS 31.111, ETSI TS 102 223):

- at power on, TERMINAL PROFILE, then the proactive loop (FETCH → act → TERMINAL RESPONSE)
  for as long as the card answers '91xx';
- an SMS-DELIVER with PID '7F' becomes ENVELOPEs (SMS-PP DOWNLOAD, one per SMS); the PoR the
  card returns in the ENVELOPE response would travel in the SMS-DELIVER-REPORT, which SMPP
  cannot carry, so the handset sends it on as an MO binary SMS to the command's originator
  (UDH 02 71 00, PID 7F, DCS F6) -- the same SMS a card sends itself when SPI asks for the PoR
  by SMS-SUBMIT;
- SEND SHORT MESSAGE sends the card's SMS-SUBMIT as MO; other messages land in the inbox;
- a person (or a test) presses menu items, picks list items and types input.

A :class:`Fleet` binds once to the SMSC as a transceiver whose address_range covers all its
MSISDNs and routes each deliver_sm to the handset of its destination.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import gc
import logging
import pathlib
import signal
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from ota.smspp import TP_PID_SIM_DATA_DOWNLOAD, command_segments
from sim_emulator.card import SimCard
from sim_emulator.errors import HandsetError
from sim_emulator.factory import identity_for, new_card_state, open_card
from sim_emulator.storage import CardFile, load_state, save_state
from smpp.client import Esme
from smpp.esmeconf import EsmeConfig
from smpp.mo import MoMessage
from smpp.sms import SmsDeliver, SmsSubmit
from smpp.sms_fields import Address
from smpp.udh import Iei, Udh
from stk.commands import (
    DisplayText,
    GetInput,
    ProactiveCommand,
    SelectItem,
    SendShortMessage,
    SetUpMenu,
    decode_proactive_command,
)
from stk.envelopes import MenuSelection, SmsPpDownload
from stk.errors import StkError
from stk.tags import GeneralResult
from stk.terminal_response import TerminalResponse

log = logging.getLogger(__name__)

# TS 102 223 5.2 / TS 31.111: a profile announcing proactive UICC, the commands we run (SET UP
# MENU, DISPLAY TEXT, GET INPUT, SELECT ITEM, SEND SHORT MESSAGE), SMS-PP download and menu
# selection. Bits are set generously: the card only needs a profile to start its toolkit.
TERMINAL_PROFILE = bytes.fromhex("ffffffff7f0000df7f0300000000")


class MoSender(Protocol):
    """Where a handset's outgoing SMS go (the fleet's ESME, or a test's list)."""

    async def send_binary(self, source: str, destination: str, tp_ud: bytes, pid: int,
                          dcs: int) -> None: ...


@dataclass(frozen=True)
class InboxMessage:
    source: str
    text: str
    at: datetime.datetime


@dataclass
class Screen:
    """What the user sees: the menu, texts shown, and the question waiting for an answer."""

    menu: SetUpMenu | None = None
    texts: list[str] = field(default_factory=list)
    waiting: GetInput | SelectItem | None = None


class Handset:
    def __init__(self, card: SimCard, msisdn: str, sender: MoSender | None = None, *,
                 after_command: Callable[[], None] | None = None,
                 persist: Callable[[], Awaitable[None]] | None = None) -> None:
        self.card = card
        self.msisdn = msisdn
        self.sender = sender
        # after_command runs after every APDU (synchronous saving); persist is awaited before
        # anything the card produced leaves the handset (saving off the event loop).
        self.after_command = after_command
        self.persist = persist
        self.inbox: list[InboxMessage] = []
        self.screen = Screen()
        self.sent: list[SmsSubmit] = []  # every SMS-SUBMIT the card had sent (diagnostics)
        self._lock = asyncio.Lock()
        self._reference = 0

    # -- card access ----------------------------------------------------------------------

    def _apdu(self, apdu: bytes) -> tuple[bytes, int]:
        response = self.card.execute(apdu)
        if self.after_command is not None:
            self.after_command()
        return response[:-2], int.from_bytes(response[-2:], "big")

    async def _flush(self) -> None:
        if self.persist is not None:
            await self.persist()

    async def power_on(self) -> None:
        async with self._lock:
            await self._boot()

    async def insert(self, card: SimCard) -> SimCard:
        """Another SIM in this phone (补换卡: the member's new card, same number): the new
        card is powered on and profiled as the old one was; the old card is returned."""
        # One hold of the lock: no SMS-PP or menu session uses the old card meanwhile, and
        # none reaches the new one before its TERMINAL PROFILE.
        async with self._lock:
            old, self.card = self.card, card
            await self._boot()
        return old

    async def _boot(self) -> None:
        self.card.power_on()
        self.screen = Screen()
        _, sw = self._apdu(b"\x80\x10\x00\x00" + bytes((len(TERMINAL_PROFILE),))
                           + TERMINAL_PROFILE)
        await self._proactive(sw)

    # -- network side ---------------------------------------------------------------------

    async def deliver(self, message: MoMessage) -> None:
        """An SMS for this handset (a deliver_sm from the SMSC)."""
        if message.protocol_id == TP_PID_SIM_DATA_DOWNLOAD:
            await self._data_download(message)
            return
        text = message.text if message.text is not None else message.payload.hex()
        self.inbox.append(InboxMessage(message.source, text,
                                       datetime.datetime.now(datetime.UTC)))

    async def _data_download(self, message: MoMessage) -> None:
        if message.udh is None or not message.udh.has(Iei.CPI):
            log.info("SMS-PP without a command packet identifier for %s ignored", self.msisdn)
            return
        self._reference = (self._reference + 1) & 0xFF
        segments = command_segments(message.payload, reference=self._reference)
        originator = Address.parse(message.source)
        now = datetime.datetime.now(datetime.UTC)
        async with self._lock:
            for tp_ud in segments:
                udh, payload = Udh.decode(tp_ud)
                tpdu = SmsDeliver(originator, now, TP_PID_SIM_DATA_DOWNLOAD,
                                  message.data_coding, udh, payload).encode()
                data, sw = self._apdu(SmsPpDownload(tpdu=tpdu).to_apdu())
                if sw >> 8 not in (0x90, 0x91):
                    log.info("card refused SMS-PP download (%04X)", sw)
                    return
            await self._flush()
            if data:
                # The PoR of the SMS-DELIVER-REPORT, sent on as MO (see the module docstring).
                await self._send(message.source, data, TP_PID_SIM_DATA_DOWNLOAD,
                                 message.data_coding)
            await self._proactive(sw)

    async def _send(self, destination: str, tp_ud: bytes, pid: int, dcs: int) -> None:
        if self.sender is None:
            raise HandsetError("this handset has no SMSC to send through")
        await self.sender.send_binary(self.msisdn, destination, tp_ud, pid, dcs)

    # -- the user -------------------------------------------------------------------------

    @property
    def menu_items(self) -> list[str]:
        menu = self.screen.menu
        return [] if menu is None else [item.text for item in menu.items]

    async def press_menu(self, item_text: str) -> None:
        """Choose an item of the SET UP MENU by its text."""
        menu = self.screen.menu
        item = next((i for i in (menu.items if menu else ()) if i.text == item_text), None)
        if item is None or item.identifier is None:
            raise HandsetError(f"no menu item {item_text!r} (menu: {self.menu_items})")
        async with self._lock:
            _, sw = self._apdu(MenuSelection(item_identifier=item.identifier).to_apdu())
            if sw >> 8 not in (0x90, 0x91):
                raise HandsetError(f"MENU SELECTION refused with {sw:04X}")
            await self._proactive(sw)

    async def select_item(self, item_text: str) -> None:
        """Answer a waiting SELECT ITEM with the item of this text."""
        command = self.screen.waiting
        if not isinstance(command, SelectItem):
            raise HandsetError("no SELECT ITEM is waiting")
        item = next((i for i in command.items if i.text == item_text), None)
        if item is None:
            raise HandsetError(f"no item {item_text!r} in {[i.text for i in command.items]}")
        await self._answer(TerminalResponse.answer(command, item_identifier=item.identifier))

    async def type_input(self, text: str) -> None:
        """Answer a waiting GET INPUT with ``text``."""
        command = self.screen.waiting
        if not isinstance(command, GetInput):
            raise HandsetError("no GET INPUT is waiting")
        await self._answer(TerminalResponse.input_answer(command, text))

    async def cancel(self) -> None:
        """The user leaves the waiting question (result '10', session terminated)."""
        command = self.screen.waiting
        if command is None:
            raise HandsetError("nothing is waiting for the user")
        await self._answer(TerminalResponse.answer(command,
                                                   GeneralResult.SESSION_TERMINATED_BY_USER))

    async def _answer(self, response: TerminalResponse) -> None:
        async with self._lock:
            self.screen.waiting = None
            _, sw = self._apdu(response.to_apdu())
            await self._proactive(sw)

    # -- proactive loop -------------------------------------------------------------------

    async def _proactive(self, sw: int) -> None:
        """FETCH and act while the card has commands; stop at one that waits for the user."""
        await self._flush()
        while sw >> 8 == 0x91 and self.screen.waiting is None:
            data, fetch_sw = self._apdu(b"\x80\x12\x00\x00" + bytes((sw & 0xFF,)))
            if fetch_sw >> 8 not in (0x90, 0x91):
                raise HandsetError(f"FETCH answered {fetch_sw:04X}")
            try:
                command = decode_proactive_command(data)
            except StkError as exc:
                log.warning("undecodable proactive command: %s", exc)
                return
            response = await self._act(command)
            if response is None:
                return  # waits for the user
            _, sw = self._apdu(response.to_apdu())

    async def _act(self, command: ProactiveCommand) -> TerminalResponse | None:
        if isinstance(command, SetUpMenu):
            self.screen.menu = command if command.items else None
        elif isinstance(command, DisplayText):
            self.screen.texts.append(command.text.text)
        elif isinstance(command, GetInput | SelectItem):
            self.screen.waiting = command
            return None
        elif isinstance(command, SendShortMessage):
            return await self._send_short_message(command)
        else:
            return TerminalResponse.answer(command, GeneralResult.BEYOND_TERMINAL_CAPABILITIES)
        return TerminalResponse.answer(command)

    async def _send_short_message(self, command: SendShortMessage) -> TerminalResponse:
        try:
            await self._flush()  # the card's MO counter is on disk before the SMS leaves
            submit = SmsSubmit.decode(command.tpdu)
            self.sent.append(submit)
            tp_ud = submit.user_data
            await self._send(str(submit.destination), tp_ud, submit.pid, submit.dcs)
        except Exception as exc:  # the network failed the send: the card hears '21'
            log.info("SEND SHORT MESSAGE failed: %s", exc)
            return TerminalResponse.answer(command, GeneralResult.NETWORK_UNABLE_TO_PROCESS)
        return TerminalResponse.answer(command)

    def last_text(self) -> str | None:
        return self.screen.texts[-1] if self.screen.texts else None


# -- the fleet ------------------------------------------------------------------------------


def normalise(msisdn: str) -> str:
    return msisdn.lstrip("+")


def address_range(msisdns: list[str]) -> str:
    """A regular expression (SMPP v3.4 5.2.7) matching every MSISDN of the fleet, kept short:
    the common prefix, then as many digits as the numbers have."""
    numbers = sorted({normalise(m) for m in msisdns})
    if not numbers:
        raise HandsetError("a fleet needs at least one MSISDN")
    if len({len(n) for n in numbers}) != 1:
        return "^\\+?(" + "|".join(numbers) + ")$"
    first, last = numbers[0], numbers[-1]  # sorted: their common prefix is everyone's
    size = next((i for i, (a, b) in enumerate(zip(first, last, strict=True)) if a != b),
                len(first))
    prefix = first[:size]
    rest = len(numbers[0]) - len(prefix)
    return f"^\\+?{prefix}" + (f"\\d{{{rest}}}" if rest else "") + "$"


class EsmeSender:
    """MO submits through the fleet's ESME; sending does not block the deliver path."""

    def __init__(self, esme: Esme) -> None:
        self.esme = esme
        self._tasks: set[asyncio.Task[None]] = set()

    async def send_binary(self, source: str, destination: str, tp_ud: bytes, pid: int,
                          dcs: int) -> None:
        task = asyncio.ensure_future(self._submit(source, destination, tp_ud, pid, dcs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit(self, source: str, destination: str, tp_ud: bytes, pid: int,
                      dcs: int) -> None:
        try:
            await self.esme.submit_binary(destination, [tp_ud], pid=pid, dcs=dcs, source=source,
                                          registered_delivery=0)
        except Exception as exc:  # logged, not raised: the card already acted
            log.warning("MO from %s to %s failed: %s", source, destination, exc)

    async def drain(self, timeout: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)


class Fleet:
    """N handsets on one SMPP transceiver bind; ``async with Fleet(...)``."""

    def __init__(self, handsets: list[Handset], host: str, port: int, *, system_id: str,
                 password: str = "", config: EsmeConfig | None = None) -> None:
        self.handsets = {normalise(h.msisdn): h for h in handsets}
        self.config = dataclasses.replace(
            config or EsmeConfig(), host=host, port=port, system_id=system_id,
            password=password, address_range=address_range(list(self.handsets)),
            source_addr_ton=1, source_addr_npi=1)
        self.esme = Esme(self.config, on_mo=self._on_deliver)
        self.sender = EsmeSender(self.esme)
        self.unknown = 0
        for handset in handsets:
            handset.sender = self.sender

    def __getitem__(self, msisdn: str) -> Handset:
        return self.handsets[normalise(msisdn)]

    async def start(self, timeout: float | None = 10.0) -> None:
        for handset in self.handsets.values():
            await handset.power_on()
        await self.esme.start(timeout=timeout)

    async def stop(self) -> None:
        await self.sender.drain()
        await self.esme.stop()

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _on_deliver(self, message: MoMessage) -> None:
        handset = self.handsets.get(normalise(message.destination))
        if handset is None:
            self.unknown += 1
            log.warning("deliver_sm for %s, which no handset of this fleet has",
                        message.destination)
            return
        await handset.deliver(message)


def load_fleet_cards(directory: pathlib.Path, count: int, *, msisdn_base: int = 0,
                     ota_master: bytes | None = None, factory_master: bytes | None = None,
                     durable: bool = False) -> list[CardFile]:
    """Card files ``DIR/<ICCID>.json`` of fleet members 0..count-1, made when missing."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for index in range(count):
        identity = identity_for(index, msisdn_base=msisdn_base)
        path = directory / f"{identity.iccid}.json"
        if not path.exists():
            state, _ = new_card_state(identity, ota_master=ota_master,
                                      factory_master=factory_master)
            save_state(path, state, durable=durable)
        files.append(CardFile(path, open_card(load_state(path)), durable=durable))
    return files


def handsets_for(cards: list[CardFile], executor: Executor | None = None) -> list[Handset]:
    """Handsets whose cards are saved before anything they say leaves: encoded on the event
    loop, written by ``executor`` (a small thread pool by default) so other handsets go on."""
    pool = executor or ThreadPoolExecutor(max_workers=4, thread_name_prefix="card-save")
    return [Handset(f.card, f.card.state.msisdn, persist=_persister(f, pool)) for f in cards]


def _persister(card_file: CardFile, pool: Executor) -> Callable[[], Awaitable[None]]:
    async def persist() -> None:
        data = card_file.take()
        if data is not None:
            await asyncio.get_running_loop().run_in_executor(pool, card_file.write, data)

    return persist


async def run_fleet(host: str, port: int, count: int, state_dir: pathlib.Path, *,
                    system_id: str, password: str, msisdn_base: int = 0,
                    ota_master: bytes | None = None, factory_master: bytes | None = None,
                    stop: asyncio.Event | None = None) -> int:
    """``onecard sim fleet``: run until SIGINT/SIGTERM (or ``stop``)."""
    cards = load_fleet_cards(state_dir, count, msisdn_base=msisdn_base, ota_master=ota_master,
                             factory_master=factory_master)
    fleet = Fleet(handsets_for(cards), host, port, system_id=system_id, password=password)
    done = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, done.set)
    try:
        async with fleet:
            # The cards (file systems, applets, keys: hundreds of thousands of objects) are out
            # of the garbage collector's sight: a full collection walked them all and held
            # every handset's answer for 100 ms and more.
            gc.freeze()
            # One line on stdout tells scripts (tests, bench) that the fleet is bound.
            print(f"fleet of {count} handsets bound as {system_id} "
                  f"({fleet.config.address_range})", flush=True)
            await done.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0

