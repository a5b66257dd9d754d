"""``onecard decode HEX [HEX ...]``: show an SMS TPDU, OTA packet, PoR or STK object readably.

What the octets are is recognised from their shape (``--as`` overrides it), and whatever they
carry is decoded in turn, the way a protocol analyser nests layers: an SMS-PP DOWNLOAD envelope
shows its SMS-DELIVER, whose TP-UD shows the OTA command packet, whose secured data shows the
one-card applet's APDUs. Several HEX arguments are the segments of one concatenated OTA packet.
Keys (``--kic-key``/``--kid-key``) decipher packets and check their CC; without them the
ciphered part is shown as it is.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from gateway.commands.argtypes import hex_bytes, hex_octet, spi
from ota import smspp
from ota.errors import OtaError
from ota.inspect import describe_command_packet, describe_por, keyset_from_bytes
from ota.keys import OtaKeyset
from ota.packet import parse_command_header
from ota.spi import Spi
from smpp.errors import SmppError
from smpp.sms import Direction, SmsDeliver, SmsSubmit, decode_tpdu
from smpp.udh import Iei, Udh
from stk import describe as stk_describe
from stk.commands import SendShortMessage
from stk.envelopes import SmsPpDownload
from stk.errors import StkError
from stk.tags import Tag

KINDS = ("auto", "sms-mt", "sms-mo", "ota-packet", "ota-tp-ud", "por", "stk")
DecodeError = (OtaError, SmppError, StkError)


@dataclass(frozen=True)
class Keys:
    kic_key: bytes | None
    kid_key: bytes | None
    kic: int | None
    kid: int | None
    spi: Spi | None

    def for_packet(self, packet: bytes) -> OtaKeyset | None:
        header = parse_command_header(packet)
        return keyset_from_bytes(header.kic, header.kid, self.kic_key, self.kid_key)

    def for_por(self) -> list[OtaKeyset | None]:
        """Key sets to try on a PoR, which names no algorithm: the given bytes, else guesses."""
        if self.kic_key is None and self.kid_key is None:
            return [None]
        if self.kic is not None or self.kid is not None:
            kic = self.kic if self.kic is not None else self.kid
            kid = self.kid if self.kid is not None else self.kic
            assert kic is not None and kid is not None
            return [keyset_from_bytes(kic, kid, self.kic_key, self.kid_key)]
        guesses = (0x12, 0x15, 0x19, 0x11)  # AES, 3DES-2key, 3DES-3key, DES with key index 1
        found = []
        for byte in guesses:
            try:
                found.append(keyset_from_bytes(byte, byte, self.kic_key, self.kid_key))
            except OtaError:
                continue
        return found


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hex", nargs="+", type=hex_bytes, metavar="HEX",
                        help="octets in hex (spaces and colons allowed); several HEX arguments "
                             "are the segments of one concatenated OTA packet")
    parser.add_argument("--as", dest="kind", choices=KINDS, default="auto",
                        help="what the octets are (default: recognise them)")
    parser.add_argument("--kic-key", type=hex_bytes, help="ciphering key (hex)")
    parser.add_argument("--kid-key", type=hex_bytes, help="checksum key (hex)")
    parser.add_argument("--kic", type=hex_octet, help="KIc octet for a PoR (algorithm, key index)")
    parser.add_argument("--kid", type=hex_octet, help="KID octet for a PoR")
    parser.add_argument("--spi", type=spi, help="SPI of the command a PoR answers (2 octets)")


def run(args: argparse.Namespace) -> int:
    keys = Keys(args.kic_key, args.kid_key, args.kic, args.kid, args.spi)
    try:
        if len(args.hex) > 1:
            lines = _segments(args.hex, keys)
        else:
            lines = describe(args.hex[0], keys, args.kind)
    except DecodeError as exc:
        print(f"cannot decode: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def describe(data: bytes, keys: Keys, kind: str = "auto") -> list[str]:
    if kind == "auto":
        kind = recognise(data)
    return _DESCRIBERS[kind](data, keys)


def recognise(data: bytes) -> str:
    if not data:
        return "stk"  # stk's decoder names the empty input precisely
    first = data[0]
    if first in (0x80, 0xA0) and stk_describe.is_apdu(data):
        return "stk"
    if 0xD0 <= first <= 0xDF or data[:2] == bytes((0x80 | Tag.COMMAND_DETAILS, 3)):
        return "stk"
    try:
        udh, _ = Udh.decode(data)
        if udh.has(Iei.RPI):
            return "por"
        if udh.has(Iei.CPI) or udh.concat is not None:
            return "ota-tp-ud"
    except SmppError:
        pass
    if len(data) >= 16 and int.from_bytes(data[:2], "big") == len(data) - 2:
        return "ota-packet"
    try:
        decode_tpdu(data, Direction.SC_TO_MS)
        return "sms-mt"
    except SmppError:
        return "sms-mo"


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def _ota_packet(data: bytes, keys: Keys) -> list[str]:
    return describe_command_packet(data, keys.for_packet(data))


def _ota_tp_ud(data: bytes, keys: Keys) -> list[str]:
    segment = smspp.parse_segment(data)
    lines = [f"SMS-PP user data, UDH {Udh.decode(data)[0].encode().hex()}"]
    if segment.concat is not None and segment.concat.total > 1:
        concat = segment.concat
        return [*lines, f"  segment {concat.sequence} of {concat.total} (reference "
                        f"{concat.reference}): give every segment to decode the packet"]
    return lines + _indent(_ota_packet(segment.payload, keys))


def _por(data: bytes, keys: Keys) -> list[str]:
    return describe_por(data, keys.spi, keys.for_por())


def _sms(direction: Direction) -> Callable[[bytes, Keys], list[str]]:
    def describe_sms(data: bytes, keys: Keys) -> list[str]:
        tpdu = decode_tpdu(data, direction)
        lines = tpdu.describe()
        if isinstance(tpdu, SmsDeliver | SmsSubmit) and tpdu.udh is not None:
            tp_ud = tpdu.udh.encode() + tpdu.payload
            if tpdu.udh.has(Iei.RPI):
                lines += _indent(_por(tp_ud, keys))
            elif tpdu.udh.has(Iei.CPI) or (tpdu.pid == smspp.TP_PID_SIM_DATA_DOWNLOAD
                                           and tpdu.udh.concat is not None):
                lines += _indent(_ota_tp_ud(tp_ud, keys))
        return lines

    return describe_sms


def _stk(data: bytes, keys: Keys) -> list[str]:
    lines = stk_describe.describe(data)
    obj = stk_describe.decode_any(data)
    if isinstance(obj, SmsPpDownload):
        lines += _indent(_sms(Direction.SC_TO_MS)(obj.tpdu, keys))
    elif isinstance(obj, SendShortMessage):
        lines += _indent(_sms(Direction.MS_TO_SC)(obj.tpdu, keys))
    return lines


def _segments(parts: list[bytes], keys: Keys) -> list[str]:
    """Several TP-UDs (or SMS-DELIVER TPDUs) of one concatenated command packet."""
    tp_uds = []
    for part in parts:
        if recognise(part) == "sms-mt":
            tpdu = decode_tpdu(part, Direction.SC_TO_MS)
            assert isinstance(tpdu, SmsDeliver)
            if tpdu.udh is None:
                raise OtaError("an SMS-DELIVER without a UDH is not an OTA segment")
            part = tpdu.udh.encode() + tpdu.payload
        tp_uds.append(part)
    packet = smspp.reassemble(tp_uds)
    return [f"{len(parts)} SMS-PP segments reassembled", *_indent(_ota_packet(packet, keys))]


_DESCRIBERS: dict[str, Callable[[bytes, Keys], list[str]]] = {
    "sms-mt": _sms(Direction.SC_TO_MS),
    "sms-mo": _sms(Direction.MS_TO_SC),
    "ota-packet": _ota_packet,
    "ota-tp-ud": _ota_tp_ud,
    "por": _por,
    "stk": _stk,
}
