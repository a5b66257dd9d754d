"""The ``onecard`` console script: one subcommand per module of ``gateway.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

# name -> (module under gateway.commands, one-line help). Order is the order of --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "decode": ("decode", "decode an SMS TPDU, OTA packet, PoR or STK object given in hex"),
    "ota": ("ota", "build SCP80 command packets and their SMS-PP segments"),
    "vectors": ("vectors", "run a SIM conformance vector file against this implementation"),
    "smsc": ("smsc", "run the SMSC simulator"),
    "serve": ("serve", "run the gateway (--embedded: with demo tenant and simulators)"),
    "sim": ("sim", "run emulated SIM cards: serve over PC/SC, or a handset fleet"),
    "card": ("card", "issuing desk: personalise a card in a PC/SC reader"),
    "demo": ("demo", "run the user stories end to end against an embedded or given gateway"),
    "export": ("export", "carrier billing: export a month's files, re-rate, reconcile"),
    "bill": ("bill", "SMS bills: run a bill run (progress bar), resume, report, cancel"),
}


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"gateway.commands.{COMMANDS[name][0]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onecard", description="onecard gateway: RFID-SIM one-card carrier gateway"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        # Only the chosen command's module is imported, so that `onecard decode` does not pay
        # for aiohttp or SQLAlchemy; the others are listed by their help text alone.
        if name == only:
            _load(name).configure(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args_list if a in COMMANDS), None)
    parser = build_parser(chosen)
    args = parser.parse_args(args_list)
    module = _load(args.command)
    result: int = module.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
