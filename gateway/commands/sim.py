"""``onecard sim``: emulated SIM cards.

- ``sim new --card FILE``: make a fresh test card file and print its secrets once.
- ``sim serve --vpcd HOST:PORT --card FILE [--card FILE ...]``: put cards into pcscd's vpcd
  reader slots (PORT, PORT+1, ...), so pyscard, ``pcsc_scan`` and ``opensc-tool`` see them. A
  missing FILE is created with a fresh test card (its secrets printed once).
- ``sim fleet --smsc HOST:PORT --count N --state DIR``: N handsets with cards on one SMPP bind.
- ``sim phone --smsc HOST:PORT --card FILE``: one handset at the console (menu, input, inbox).
- ``sim show --card FILE``: identity, sub-applications and balance (no secrets).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import pathlib
import signal
import sys
import threading

from sim_emulator.errors import SimError
from sim_emulator.factory import describe_card, new_card_state, open_card
from sim_emulator.storage import CardFile, load_state, save_state
from sim_emulator.vpcd import VpcdBridge, parse_endpoint

log = logging.getLogger("onecard.sim")


def _hex_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a key is given in hex") from None
    if len(key) not in (16, 24, 32):
        raise argparse.ArgumentTypeError("a master key is 16, 24 or 32 octets")
    return key


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sim_command", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="make a fresh test card file, print its secrets once")
    new.add_argument("--card", type=pathlib.Path, required=True, metavar="FILE")
    _masters(new)
    serve = sub.add_parser("serve", help="connect cards to pcscd's vpcd driver")
    serve.add_argument("--vpcd", default="127.0.0.1:35963", metavar="HOST:PORT")
    serve.add_argument("--card", type=pathlib.Path, action="append", required=True,
                       metavar="FILE", help="card state file (repeatable: one slot each)")
    _masters(serve)
    fleet = sub.add_parser("fleet", help="run N handsets with cards against an SMSC")
    fleet.add_argument("--smsc", default="127.0.0.1:2775", metavar="HOST:PORT")
    fleet.add_argument("--count", type=int, default=10)
    fleet.add_argument("--state", type=pathlib.Path, required=True, metavar="DIR")
    fleet.add_argument("--system-id", default="handsets")
    fleet.add_argument("--password", default="")
    fleet.add_argument("--msisdn-base", type=int, default=0,
                       help="MSISDNs are 86138 followed by 8 digits from this number")
    _masters(fleet)
    show = sub.add_parser("show", help="print a card's identity and applications")
    show.add_argument("--card", type=pathlib.Path, required=True, metavar="FILE")
    phone = sub.add_parser("phone", help="one handset at the console: menu, input, inbox")
    phone.add_argument("--smsc", default="127.0.0.1:2775", metavar="HOST:PORT")
    phone.add_argument("--card", type=pathlib.Path, required=True, metavar="FILE")
    phone.add_argument("--system-id", default="phone")
    phone.add_argument("--password", default="")
    _masters(phone)
    for action in (new, serve, fleet, show, phone):
        action.add_argument("--log-level", default="INFO")


def _masters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ota-master", type=_hex_key, metavar="HEX",
                        help="derive new cards' OTA keys from this enterprise master key")
    parser.add_argument("--factory-master", type=_hex_key, metavar="HEX",
                        help="derive new cards' transport keys from this card maker's key")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.sim_command == "new":
            return _new(args)
        if args.sim_command == "serve":
            return _serve(args)
        if args.sim_command == "fleet":
            return _fleet(args)
        if args.sim_command == "phone":
            return _phone(args)
        return _show(args)
    except SimError as exc:
        print(f"onecard sim: {exc}", file=sys.stderr)
        return 1


def ensure_card(path: pathlib.Path, args: argparse.Namespace) -> CardFile:
    """Open the card file, creating a fresh test card (secrets printed once) if missing."""
    if not path.exists():
        state, secrets = new_card_state(ota_master=args.ota_master,
                                        factory_master=args.factory_master)
        save_state(path, state)
        print(json.dumps({"card": str(path), **secrets.to_dict()}, ensure_ascii=False),
              flush=True)
    return CardFile(path, open_card(load_state(path)))


def _new(args: argparse.Namespace) -> int:
    if args.card.exists():
        print(f"onecard sim: {args.card} exists; not overwriting a card", file=sys.stderr)
        return 1
    ensure_card(args.card, args)
    return 0


def _serve(args: argparse.Namespace) -> int:
    host, port = parse_endpoint(args.vpcd)
    bridges = []
    for slot, path in enumerate(args.card):
        card_file = ensure_card(path, args)
        bridge = VpcdBridge(card_file.card, host, port + slot,
                            after_command=card_file.save_if_dirty)
        bridge.start()
        bridges.append(bridge)
        log.info("card %s in vpcd slot %s:%d", card_file.card.state.iccid, host, port + slot)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    for bridge in bridges:
        bridge.stop()
    return 0


def _fleet(args: argparse.Namespace) -> int:
    from sim_emulator.handset import run_fleet  # asyncio and SMPP only when asked for

    host, port = parse_endpoint(args.smsc, 2775)
    return asyncio.run(run_fleet(host, port, args.count, args.state, system_id=args.system_id,
                                 password=args.password, msisdn_base=args.msisdn_base,
                                 ota_master=args.ota_master,
                                 factory_master=args.factory_master))


def _phone(args: argparse.Namespace) -> int:
    from sim_emulator.console import run_console
    from sim_emulator.handset import Fleet, handsets_for

    host, port = parse_endpoint(args.smsc, 2775)
    card_file = ensure_card(args.card, args)
    card_file.durable = False
    (handset,) = handsets_for([card_file])
    fleet = Fleet([handset], host, port, system_id=args.system_id, password=args.password)
    asyncio.run(run_console(fleet, handset))
    return 0


def _show(args: argparse.Namespace) -> int:
    card = open_card(load_state(args.card))
    print(json.dumps(describe_card(card), ensure_ascii=False, indent=1))
    return 0
