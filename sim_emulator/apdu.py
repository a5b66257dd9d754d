"""Command and response APDUs (ISO/IEC 7816-3 12.1, ISO/IEC 7816-4 5.1, ETSI TS 102 221 10.1).

A command APDU comes in one of four cases, each short (1-octet Lc/Le) or extended (3/2-octet
fields after a '00' marker). ``Le`` here is Ne, the number of octets the terminal expects:
'00' in a short Le means 256, '0000' in an extended Le means 65,536.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim_emulator.errors import ClassNotSupported, WrongLength
from sim_emulator.sw import Sw

# CLA '0X' / '8X' / 'AX' / 'CX' / '4X' / 'EX' classes of TS 102 221 10.1.1; 'A0' is GSM 11.11.
_INTERINDUSTRY_FIRST = 0x00
_INTERINDUSTRY_FURTHER = 0x40


@dataclass(frozen=True, slots=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # Ne; None when the command carries no Le field
    extended: bool = False

    @property
    def channel(self) -> int:
        """Logical channel number (TS 102 221 10.1.1: CLA b2b1, or 4 + b4..b1 for '4X'/'CX')."""
        if self.cla & 0x40:
            return 4 + (self.cla & 0x0F)
        return self.cla & 0x03

    @property
    def proprietary(self) -> bool:
        """True for the '8X'/'AX'/'CX'/'EX' classes used by toolkit and proprietary commands."""
        return bool(self.cla & 0x80)

    @property
    def secure_messaging(self) -> bool:
        """ISO 7816-4 5.4.1: CLA b4b3 (first interindustry) or b6 (further) set."""
        if self.cla & 0x40:
            return bool(self.cla & 0x20)
        return bool(self.cla & 0x0C)

    @property
    def p1p2(self) -> int:
        return (self.p1 << 8) | self.p2

    def encode(self) -> bytes:
        """The APDU bytes (short form unless a field needs the extended one)."""
        head = bytes((self.cla, self.ins, self.p1, self.p2))
        long_form = self.extended or len(self.data) > 255 or (self.le or 0) > 256
        body = b""
        if self.data:
            n = len(self.data)
            lc = b"\x00" + n.to_bytes(2, "big") if long_form else bytes((n,))
            body = lc + self.data
        if self.le is not None:
            if long_form:
                le = b"" if self.data else b"\x00"
                body += le + (self.le & 0xFFFF).to_bytes(2, "big")
            else:
                body += bytes((self.le & 0xFF,))
        return head + body

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Parse any of the seven length forms; raise ``WrongLength`` ('6700') for the rest."""
        if len(raw) < 4:
            raise WrongLength(f"APDU of {len(raw)} octets is shorter than its 4-octet header")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        if cla == 0xFF:
            # ISO 7816-3 reserves CLA 'FF' for PPS; TS 102 221 10.1.1 lists it as invalid.
            raise ClassNotSupported("CLA 'FF' is reserved")
        body = raw[4:]
        n = len(body)
        if n == 0:
            return cls(cla, ins, p1, p2)
        if n == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0 or n == 1 + body[0] or n == 2 + body[0]:
            lc = body[0]
            if lc and n == 1 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1:]))
            if lc and n == 2 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1:-1]), le=body[-1] or 256)
            raise WrongLength(f"Lc {lc} does not match the {n - 1} octets after it")
        return cls._parse_extended(cla, ins, p1, p2, body)

    @classmethod
    def _parse_extended(cls, cla: int, ins: int, p1: int, p2: int, body: bytes) -> CommandApdu:
        n = len(body)
        if n == 3:
            le = int.from_bytes(body[1:3], "big") or 65536
            return cls(cla, ins, p1, p2, le=le, extended=True)
        lc = int.from_bytes(body[1:3], "big")
        if lc and n == 3 + lc:
            return cls(cla, ins, p1, p2, bytes(body[3:]), extended=True)
        if lc and n == 5 + lc:
            le = int.from_bytes(body[-2:], "big") or 65536
            return cls(cla, ins, p1, p2, bytes(body[3:-2]), le=le, extended=True)
        raise WrongLength(f"extended Lc {lc} does not match the {n - 3} octets after it")


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise WrongLength(f"R-APDU of {len(raw)} octets has no status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))


def status(sw: int) -> bytes:
    """A response without data."""
    return sw.to_bytes(2, "big")


def ok(data: bytes = b"") -> bytes:
    return data + status(Sw.OK)
