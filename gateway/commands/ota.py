"""``onecard ota build``: build an SCP80 command packet and the SMS-PP segments that carry it.

Example (a one-card READ BALANCE, AES-128 keys derived from an enterprise master key)::

    onecard ota build --master-key 000102030405060708090a0b0c0d0e0f \\
        --iccid 89860012345678901234 --counter 7 80 5C 00 02 00

Prints the packet, then each segment's TP-UD (UDH included), and with ``--tpdu`` the
SMS-DELIVER TPDUs (PID 7F, DCS F6) a handset would hand to the card in SMS-PP DOWNLOAD.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from gateway.commands.argtypes import hex_bytes, hex_octet, spi
from ota import smspp
from ota.errors import OtaError
from ota.inspect import describe_spi, keyset_from_bytes
from ota.keys import OtaKeyset, derive_card_keyset
from ota.onecard_apdu import TAR_ONECARD
from ota.packet import build_command
from ota.spi import Spi
from smpp.errors import SmppError
from smpp.sms import SmsDeliver
from smpp.sms_fields import Address
from smpp.udh import Udh

# Counter must be higher, ciphered, CC | PoR always, ciphered, CC, in the SMS-DELIVER-REPORT.
DEFAULT_SPI = "1619"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="ota_command", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="build a command packet and its SMS-PP segments")
    build.add_argument("apdu", nargs="+", type=hex_bytes, metavar="APDU",
                       help="secured data in hex: one or more C-APDUs, sent back to back")
    build.add_argument("--tar", type=hex_bytes, default=TAR_ONECARD,
                       help="TAR, 3 octets in hex (default: the one-card applet, 4f4e45)")
    build.add_argument("--spi", type=spi, default=Spi.decode(bytes.fromhex(DEFAULT_SPI)),
                       help=f"SPI, 2 octets in hex (default {DEFAULT_SPI})")
    build.add_argument("--kic", type=hex_octet, default=0x12,
                       help="KIc octet: key index and algorithm (default 12: index 1, AES)")
    build.add_argument("--kid", type=hex_octet, default=0x12,
                       help="KID octet (default 12: index 1, AES-CMAC)")
    build.add_argument("--kic-key", type=hex_bytes, help="ciphering key in hex")
    build.add_argument("--kid-key", type=hex_bytes, help="checksum key in hex")
    build.add_argument("--master-key", type=hex_bytes,
                       help="derive AES-128 card keys from this enterprise master key and --iccid")
    build.add_argument("--iccid", help="ICCID for --master-key")
    build.add_argument("--counter", type=int, required=True, help="CNTR value")
    build.add_argument("--reference", type=int, default=0, help="concatenation reference")
    build.add_argument("--ref16", action="store_true", help="16-bit concatenation reference")
    build.add_argument("--tpdu", action="store_true", help="also print the SMS-DELIVER TPDUs")
    build.add_argument("--originator", default="10658888", help="TP-OA of the SMS-DELIVERs")


def _keyset(args: argparse.Namespace) -> OtaKeyset | None:
    if args.master_key is not None:
        if not args.iccid:
            raise OtaError("--master-key needs --iccid")
        return derive_card_keyset(args.master_key, args.iccid)
    return keyset_from_bytes(args.kic, args.kid, args.kic_key, args.kid_key)


def run(args: argparse.Namespace) -> int:
    try:
        keyset = _keyset(args)
        packet = build_command(args.spi, keyset, args.tar, args.counter, b"".join(args.apdu))
        segments = smspp.command_segments(packet, reference=args.reference, ref16=args.ref16)
        delivers = [_deliver(tp_ud, args.originator) for tp_ud in segments] if args.tpdu else []
    except (OtaError, SmppError) as exc:
        print(f"cannot build: {exc}", file=sys.stderr)
        return 1
    print(f"spi      {describe_spi(args.spi)}")
    print(f"packet   {packet.hex()}")
    print(f"segments {len(segments)}")
    for number, tp_ud in enumerate(segments, 1):
        print(f"  {number} tp-ud {tp_ud.hex()}")
        if delivers:
            print(f"  {number} tpdu  {delivers[number - 1].hex()}")
    return 0


def _deliver(tp_ud: bytes, originator: str) -> bytes:
    udh, payload = Udh.decode(tp_ud)
    scts = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return SmsDeliver(Address.parse(originator), scts, smspp.TP_PID_SIM_DATA_DOWNLOAD,
                      smspp.TP_DCS_CLASS2_8BIT, udh, payload).encode()
