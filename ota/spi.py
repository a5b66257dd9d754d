"""Security Parameter Indicator and the KIc / KID algorithm tables.

ETSI TS 102 225 5.1.1 (SPI), 5.1.2 (KIc), 5.1.3 (KID); 3GPP TS 31.115 4.2 adds SPI octet 2 b6
(PoR by SMS-SUBMIT). One enum per wire table. Reserved SPI bits are "set to zero and ignored by
the receiving entity" (5.1.1): :meth:`Spi.decode` ignores them and :meth:`Spi.encode` writes 0.
Checksums always run over the received octets, never over a re-encoding, so ignoring reserved
bits cannot change what a CC covers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ota.errors import FormatError


class CounterMode(enum.IntEnum):
    """SPI octet 1 b5b4: how the receiving entity treats CNTR (TS 102 225 5.1.1)."""

    NONE = 0b00  # no counter available
    NO_CHECK = 0b01  # counter available; no replay or sequence checking
    HIGHER = 0b10  # process only if CNTR is higher than the receiver's value
    PLUS_ONE = 0b11  # process only if CNTR is exactly one higher than the receiver's value


class Integrity(enum.IntEnum):
    """RC/CC/DS selection: SPI octet 1 b2b1 and, for the PoR, octet 2 b4b3 (same table)."""

    NONE = 0b00
    RC = 0b01  # redundancy check
    CC = 0b10  # cryptographic checksum
    DS = 0b11  # digital signature


class PorRequest(enum.IntEnum):
    """SPI octet 2 b2b1: whether a Proof of Receipt is wanted."""

    NONE = 0b00
    ALWAYS = 0b01
    ON_ERROR = 0b10
    RESERVED = 0b11


class PorTransport(enum.IntEnum):
    """SPI octet 2 b6 (TS 31.115 4.2): how the PoR travels back."""

    DELIVER_REPORT = 0  # in the SMS-DELIVER-REPORT (the ENVELOPE response data)
    SMS_SUBMIT = 1  # by a separate SMS-SUBMIT (SEND SHORT MESSAGE)


class KicAlgorithm(enum.IntEnum):
    """KIc b4..b1 (TS 102 225 5.1.2). b8..b5 is the key index."""

    IMPLICIT = 0x0  # known implicitly by both entities
    DES_CBC = 0x1
    TDES_2KEY_CBC = 0x5  # triple DES, outer CBC, two keys
    TDES_3KEY_CBC = 0x9  # triple DES, outer CBC, three keys
    DES_ECB = 0xD
    AES_CBC = 0x2
    PROPRIETARY = 0x3


class KidCcAlgorithm(enum.IntEnum):
    """KID b4..b1 when SPI selects a cryptographic checksum (TS 102 225 5.1.3.1)."""

    IMPLICIT = 0x0
    DES_CBC_MAC = 0x1
    TDES_2KEY_CBC_MAC = 0x5
    TDES_3KEY_CBC_MAC = 0x9
    AES_CMAC = 0x2
    PROPRIETARY = 0x3


class KidRcAlgorithm(enum.IntEnum):
    """KID b4..b1 when SPI selects a redundancy check (TS 102 225 5.1.3.2)."""

    IMPLICIT = 0x0
    CRC16 = 0x1
    CRC32 = 0x5
    PROPRIETARY = 0x3


def key_byte(index: int, algorithm: int) -> int:
    """A KIc or KID octet: key index in b8..b5, algorithm in b4..b1."""
    if not 0 <= index <= 0xF:
        raise FormatError(f"key index {index} does not fit 4 bits")
    return (index << 4) | (algorithm & 0xF)


@dataclass(frozen=True, slots=True)
class Spi:
    """The two SPI octets, every defined field (TS 102 225 5.1.1, TS 31.115 4.2)."""

    counter: CounterMode = CounterMode.NONE
    ciphering: bool = False  # octet 1 b3
    integrity: Integrity = Integrity.NONE  # octet 1 b2b1
    por: PorRequest = PorRequest.NONE  # octet 2 b2b1
    por_integrity: Integrity = Integrity.NONE  # octet 2 b4b3
    por_ciphering: bool = False  # octet 2 b5
    por_transport: PorTransport = PorTransport.DELIVER_REPORT  # octet 2 b6

    def encode(self) -> bytes:
        first = (self.counter << 3) | (int(self.ciphering) << 2) | self.integrity
        second = (
            (self.por_transport << 5)
            | (int(self.por_ciphering) << 4)
            | (self.por_integrity << 2)
            | self.por
        )
        return bytes((first, second))

    @classmethod
    def decode(cls, data: bytes) -> Spi:
        if len(data) != 2:
            raise FormatError(f"SPI is 2 octets, got {len(data)}")
        first, second = data[0], data[1]
        return cls(
            counter=CounterMode((first >> 3) & 0b11),
            ciphering=bool(first & 0b100),
            integrity=Integrity(first & 0b11),
            por=PorRequest(second & 0b11),
            por_integrity=Integrity((second >> 2) & 0b11),
            por_ciphering=bool(second & 0b1_0000),
            por_transport=PorTransport((second >> 5) & 1),
        )

    @property
    def wants_por(self) -> bool:
        """A PoR is due on success (``ALWAYS``); errors also answer under ``ON_ERROR``."""
        return self.por is PorRequest.ALWAYS

    @property
    def wants_por_on_error(self) -> bool:
        """A PoR is due when the command is refused (``ALWAYS`` or ``ON_ERROR``)."""
        return self.por in (PorRequest.ALWAYS, PorRequest.ON_ERROR)


@dataclass(frozen=True, slots=True)
class MinimumSecurityLevel:
    """A TAR's Minimum Security Level (TS 102 226 8.2.1.3.2.4.2).

    Coded like SPI octet 1: the received SPI must cipher if the MSL ciphers, protect integrity
    at least as strongly (none < RC < CC < DS) and check the counter at least as strictly
    (none < no check < higher < exactly +1).
    """

    counter: CounterMode = CounterMode.NONE
    ciphering: bool = False
    integrity: Integrity = Integrity.NONE

    @classmethod
    def decode(cls, octet: int) -> MinimumSecurityLevel:
        spi = Spi.decode(bytes((octet & 0xFF, 0)))
        return cls(spi.counter, spi.ciphering, spi.integrity)

    def encode(self) -> int:
        return Spi(self.counter, self.ciphering, self.integrity).encode()[0]

    def shortfall(self, spi: Spi) -> str | None:
        """Why ``spi`` is below this level, or None when it meets it."""
        if self.ciphering and not spi.ciphering:
            return "ciphering required"
        if spi.integrity < self.integrity:
            return f"integrity {spi.integrity.name} below {self.integrity.name}"
        if spi.counter < self.counter:
            return f"counter mode {spi.counter.name} below {self.counter.name}"
        return None
