"""``onecard card personalise``: the issuing desk (洗卡) for a card in a PC/SC reader.

Writes the ICCID-bound enterprise keys (diversified from the enterprise's SAM master), the
purse settings and, if asked, the card's OTA key set (from the enterprise OTA master) and
sub-applications, through pyscard: the code path a real reader with a real card takes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys

from ota.onecard_apdu import SubApp
from sim_emulator.desk import PersonalisationPlan, SubAppPlan, personalise, read_iccid
from sim_emulator.errors import SimError
from sim_emulator.transport import PcscTransport


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected hex") from None


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="card_command", metavar="ACTION", required=True)
    p = sub.add_parser("personalise", help="write enterprise keys and applet state (洗卡)")
    p.add_argument("--reader", required=True, help="PC/SC reader name (or part of it)")
    p.add_argument("--enterprise", type=int, required=True, metavar="ID")
    p.add_argument("--sam-master", type=_hex, required=True, metavar="HEX",
                   help="the enterprise's SAM master key (its terminals hold the same)")
    p.add_argument("--transport-key", type=_hex, required=True, metavar="HEX",
                   help="the card's transport key (printed when the card was made)")
    p.add_argument("--ota-master", type=_hex, metavar="HEX",
                   help="also write the OTA key set derived from this enterprise master")
    p.add_argument("--key-version", type=int, default=1)
    p.add_argument("--per-purchase-limit", type=int, metavar="FEN")
    p.add_argument("--daily-limit", type=int, metavar="FEN")
    p.add_argument("--install", action="append", default=[],
                   choices=[a.name.lower() for a in SubApp],
                   help="install and personalise a sub-application (repeatable)")
    p.add_argument("--member", default="", metavar="NUMBER", help="member number (with --install)")
    p.add_argument("--credential", type=_hex, default=b"", metavar="HEX")
    p.add_argument("--purse-limit", type=int, default=100_000_000, metavar="FEN")
    p.add_argument("--valid-until", type=datetime.date.fromisoformat, metavar="YYYY-MM-DD")
    iccid = sub.add_parser("iccid", help="read the ICCID of the card in a reader")
    iccid.add_argument("--reader", required=True)


def run(args: argparse.Namespace) -> int:
    try:
        transport = PcscTransport(args.reader)
        try:
            if args.card_command == "iccid":
                print(read_iccid(transport))
                return 0
            result = personalise(transport, _plan(args))
        finally:
            transport.close()
    except (SimError, ValueError) as exc:
        print(f"onecard card: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"iccid": result.iccid, "enterprise": args.enterprise,
                      "ota_keys_written": result.ota_keyset is not None,
                      "installed": [a.name.lower() for a in result.installed]}))
    return 0


def _plan(args: argparse.Namespace) -> PersonalisationPlan:
    subs = []
    for name in args.install:
        app = SubApp[name.upper()]
        if not args.member or not 4 <= len(args.credential) <= 16:
            raise ValueError("--install needs --member and a 4 to 16 octet --credential")
        subs.append(SubAppPlan(app, args.member, args.credential,
                               args.purse_limit if app is SubApp.PURSE else None,
                               args.valid_until))
    return PersonalisationPlan(
        enterprise_id=args.enterprise, sam_master=args.sam_master,
        transport_key=args.transport_key, ota_master=args.ota_master,
        key_version=args.key_version, per_purchase_limit=args.per_purchase_limit,
        daily_limit=args.daily_limit, sub_apps=tuple(subs))
