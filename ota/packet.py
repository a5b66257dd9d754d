"""SCP80 command packets, both roles (ETSI TS 102 225 5.1, 3GPP TS 31.115 4.2).

Wire layout (TS 31.115 4.2 / TS 102 225 5.1)::

    CPL(2) CHL(1) SPI(2) KIc(1) KID(1) TAR(3) | CNTR(5) PCNTR(1) [RC/CC/DS] data [padding]

* CPL counts every octet after itself; CHL counts SPI through RC/CC/DS (13 + checksum length).
* When SPI b3 is set, everything after ``|`` is ciphered (CBC, zero IV) and PCNTR counts the
  zero octets that pad it to the cipher block size.
* The RC/CC/DS covers ``CPL CHL SPI KIc KID TAR CNTR PCNTR data padding`` (the checksum field
  itself left out); the SMS-PP UDH ``02 70 00`` is not covered.
* KIc and KID are written from the key set even when SPI selects no ciphering / no checksum
  (pySim does so; the vectors follow it). When SPI selects RC, KID names the RC algorithm
  (5.1.3.2), not the key set's CC algorithm.

The sending side calls :func:`build_command` (or :func:`secure_command` to see intermediate
values). The receiving side calls :func:`verify_command`, which raises the error whose
``por_status`` the card answers with, carrying a :class:`PorContext` whenever the header could
be read, so the card can address (and if possible secure) its PoR; see ``ota.por.error_response``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ota import crypto
from ota.counters import COUNTER_LENGTH, check_counter, decode_counter, encode_counter
from ota.errors import (
    CipheringError,
    FormatError,
    InsufficientSecurityLevel,
    OtaError,
    RcCcDsFailed,
    TarUnknown,
    UndefinedSecurityError,
)
from ota.keys import OtaKeyset
from ota.spi import Integrity, KidRcAlgorithm, MinimumSecurityLevel, Spi

TAR_LENGTH = 3
# CPL(2) CHL(1) SPI(2) KIc(1) KID(1) TAR(3): the part that is never ciphered.
CLEAR_HEADER_LENGTH = 10
# SPI(2) KIc KID TAR(3) CNTR(5) PCNTR: what CHL counts besides the RC/CC/DS.
CHL_FIXED = 13
MAX_CPL = 0xFFFF


@dataclass(frozen=True, slots=True)
class CommandHeader:
    """What a command packet says in clear: enough to find the application and its keys."""

    spi: Spi
    kic: int
    kid: int
    tar: bytes


@dataclass(frozen=True, slots=True)
class PorContext:
    """What the receiving entity recovered of a command: enough to address and secure a PoR.

    ``counter`` is the command's CNTR once known (a PoR carries a copy), else five zero octets.
    ``keyset`` holds the keys matched to KIc/KID; None when no usable keys were found, in which
    case any PoR goes out unsecured.
    """

    header: CommandHeader
    counter: bytes = bytes(COUNTER_LENGTH)
    keyset: OtaKeyset | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SecuredCommand:
    """A built command packet with the intermediate values the vectors check."""

    packet: bytes
    chl: int
    pcntr: int
    padded_data: bytes
    checksum_input: bytes | None
    checksum: bytes | None
    plaintext: bytes | None  # CNTR .. padding before ciphering; None when not ciphered
    ciphertext: bytes | None


@dataclass(frozen=True, slots=True)
class TarSecurity:
    """What the card knows about one TAR: its key sets and minimum security level."""

    keysets: tuple[OtaKeyset, ...] = field(default=(), repr=False)
    minimum_level: MinimumSecurityLevel = field(default_factory=MinimumSecurityLevel)


@dataclass(frozen=True, slots=True)
class VerifiedCommand:
    """A command packet that passed every check of the receiving entity."""

    header: CommandHeader
    counter: int
    data: bytes  # the secured data, padding removed
    keyset: OtaKeyset | None = field(repr=False)
    # The counter the card must persist before acting on ``data``; None: leave it unchanged.
    new_counter: int | None

    @property
    def context(self) -> PorContext:
        return PorContext(self.header, encode_counter(self.counter), self.keyset)


KeyLookup = Callable[[bytes], TarSecurity | None]
CounterLookup = Callable[[CommandHeader], int]


def checksum_length(integrity: Integrity, kid_rc: KidRcAlgorithm) -> int:
    if integrity is Integrity.NONE:
        return 0
    if integrity is Integrity.CC:
        return crypto.CC_LENGTH
    if integrity is Integrity.RC:
        return crypto.rc_length(kid_rc)
    raise UndefinedSecurityError("digital signatures (SPI RC/CC/DS = DS) are not supported")


def compute_checksum(integrity: Integrity, keyset: OtaKeyset | None, kid_rc: KidRcAlgorithm,
                     data: bytes) -> bytes:
    """The RC or CC that SPI asks for, over ``data`` (an RC needs no key)."""
    if integrity is Integrity.RC:
        return crypto.redundancy_check(kid_rc, data)
    if keyset is None:
        raise UndefinedSecurityError("a cryptographic checksum needs a key set")
    return crypto.cryptographic_checksum(keyset.kid_algorithm, keyset.kid, data)


def secure_command(spi: Spi, keyset: OtaKeyset | None, tar: bytes, counter: int,
                   data: bytes) -> SecuredCommand:
    """Build a command packet (sending entity), keeping every intermediate value."""
    if len(tar) != TAR_LENGTH:
        raise FormatError(f"TAR is 3 octets, got {len(tar)}")
    needs_keys = spi.ciphering or spi.integrity is Integrity.CC
    if keyset is None and (needs_keys or spi.integrity is Integrity.RC):
        raise UndefinedSecurityError("SPI asks for security but no key set was given")
    rc_algorithm = keyset.rc_algorithm if keyset else KidRcAlgorithm.CRC32
    cs_len = checksum_length(spi.integrity, rc_algorithm)
    chl = CHL_FIXED + cs_len
    pcntr = 0
    if spi.ciphering and keyset is not None:
        pcntr = -(COUNTER_LENGTH + 1 + cs_len + len(data)) % crypto.block_size(keyset.kic_algorithm)
    cpl = 1 + chl + len(data) + pcntr
    if cpl > MAX_CPL:
        raise FormatError(f"command packet of {cpl + 2} octets exceeds CPL's 16 bits")
    kic = keyset.kic_byte if keyset else 0
    kid = keyset.kid_byte(spi.integrity) if keyset else 0
    clear = cpl.to_bytes(2, "big") + bytes((chl,)) + spi.encode() + bytes((kic, kid)) + tar
    counters = encode_counter(counter) + bytes((pcntr,))
    padded = data + bytes(pcntr)
    cs_input = checksum = None
    if cs_len:
        cs_input = clear + counters + padded
        checksum = compute_checksum(spi.integrity, keyset, rc_algorithm, cs_input)
    secured = counters + (checksum or b"") + padded
    if not spi.ciphering:
        return SecuredCommand(clear + secured, chl, pcntr, padded, cs_input, checksum, None, None)
    assert keyset is not None
    ciphertext = crypto.encrypt(keyset.kic_algorithm, keyset.kic, secured)
    return SecuredCommand(clear + ciphertext, chl, pcntr, padded, cs_input, checksum, secured,
                          ciphertext)


def build_command(spi: Spi, keyset: OtaKeyset | None, tar: bytes, counter: int,
                  data: bytes) -> bytes:
    """The command packet, CPL first (TS 102 225 5.1); see :func:`secure_command`."""
    return secure_command(spi, keyset, tar, counter, data).packet


def parse_command_header(packet: bytes) -> CommandHeader:
    """Read the clear header and check the length fields (raises :class:`FormatError`)."""
    if len(packet) < CLEAR_HEADER_LENGTH:
        raise FormatError(f"command packet of {len(packet)} octets is shorter than its header")
    header = CommandHeader(Spi.decode(packet[3:5]), packet[5], packet[6], bytes(packet[7:10]))
    cpl = int.from_bytes(packet[:2], "big")
    context = PorContext(header)
    if cpl != len(packet) - 2:
        raise FormatError(f"CPL {cpl} but {len(packet) - 2} octets follow it", context=context)
    chl = packet[2]
    if chl < CHL_FIXED or 1 + chl > cpl:
        raise FormatError(f"CHL {chl} does not fit CPL {cpl}", context=context)
    return header


def _find_keys(header: CommandHeader, keysets: Sequence[OtaKeyset]) -> OtaKeyset | None:
    """Pair the key set KIc names with the one KID names (they may differ).

    A key byte the command does not use (KIc without ciphering, KID without a CC) may be
    anything, 00 for some senders: the other byte's key set then stands for both.
    """
    spi = header.spi
    kic_set = next((k for k in keysets if k.kic_byte == header.kic), None)
    if spi.integrity is Integrity.RC:
        kid_set = next((k for k in keysets if k.kid_index == header.kid >> 4), None)
    else:
        kid_set = next((k for k in keysets if k.kid_byte(Integrity.CC) == header.kid), None)
    if kic_set is None and not spi.ciphering:
        kic_set = kid_set
    if kid_set is None and spi.integrity is not Integrity.CC:
        kid_set = kic_set
    if kic_set is None or kid_set is None:
        return None
    rc_algorithm = kid_set.rc_algorithm
    if spi.integrity is Integrity.RC:
        # The PoR's RC uses the algorithm the command's KID named.
        rc_algorithm = _rc_algorithm(header)
    if kic_set is kid_set and rc_algorithm is kid_set.rc_algorithm:
        return kic_set
    return OtaKeyset(kic_set.kic_algorithm, kic_set.kic_index, kic_set.kic,
                     kid_set.kid_algorithm, kid_set.kid_index, kid_set.kid, rc_algorithm)


def _rc_algorithm(header: CommandHeader) -> KidRcAlgorithm:
    try:
        return KidRcAlgorithm(header.kid & 0xF)
    except ValueError:
        raise UndefinedSecurityError(f"KID {header.kid:#04x} names no RC algorithm",
                                     context=PorContext(header)) from None


def _resolve_security(header: CommandHeader, security: TarSecurity) -> OtaKeyset | None:
    """The keys the packet needs, or the error a card answers when it cannot use them."""
    spi = header.spi
    keyset = _find_keys(header, security.keysets)
    context = PorContext(header, keyset=keyset)
    shortfall = security.minimum_level.shortfall(spi)
    if shortfall:
        raise InsufficientSecurityLevel(f"TAR {header.tar.hex()}: {shortfall}", context=context)
    if Integrity.DS in (spi.integrity, spi.por_integrity):
        raise UndefinedSecurityError("digital signatures are not supported",
                                     context=PorContext(header))
    por_needs_keys = spi.wants_por_on_error and (spi.por_ciphering
                                                   or spi.por_integrity is Integrity.CC)
    needs_keys = spi.ciphering or spi.integrity is Integrity.CC or por_needs_keys
    if needs_keys and keyset is None:
        raise UndefinedSecurityError(
            f"no key set for KIc {header.kic:#04x} / KID {header.kid:#04x}",
            context=PorContext(header))
    return keyset


def _decipher(packet: bytes, header: CommandHeader, keyset: OtaKeyset | None) -> bytes:
    secured = packet[CLEAR_HEADER_LENGTH:]
    if not header.spi.ciphering:
        return secured
    assert keyset is not None
    try:
        return crypto.decrypt(keyset.kic_algorithm, keyset.kic, secured)
    except OtaError as exc:
        raise CipheringError(exc.detail, context=PorContext(header, keyset=keyset)) from exc


def _split_secured(plain: bytes, header: CommandHeader, keyset: OtaKeyset | None,
                   packet: bytes) -> tuple[bytes, int, bytes, bytes]:
    """CNTR, PCNTR, checksum, data+padding of the deciphered part."""
    rc_algorithm = _rc_algorithm(header) if header.spi.integrity is Integrity.RC else None
    cs_len = checksum_length(header.spi.integrity, rc_algorithm or KidRcAlgorithm.CRC32)
    if packet[2] != CHL_FIXED + cs_len:
        raise UndefinedSecurityError(f"CHL {packet[2]} does not match the SPI's checksum",
                                     context=PorContext(header, keyset=keyset))
    if len(plain) < COUNTER_LENGTH + 1 + cs_len:
        raise FormatError("command packet ends inside its header", context=PorContext(header))
    counter = plain[:COUNTER_LENGTH]
    pcntr = plain[COUNTER_LENGTH]
    rest = plain[COUNTER_LENGTH + 1 + cs_len:]
    context = PorContext(header, counter, keyset)
    # A whole block of padding is accepted for shadysim, which pads aligned data by one more
    # block; the checksum covers the padding either way.
    limit = crypto.block_size(keyset.kic_algorithm) if header.spi.ciphering and keyset else 255
    if pcntr > len(rest) or pcntr > limit:
        raise CipheringError(f"PCNTR {pcntr} with {len(rest)} octets of data", context=context)
    return counter, pcntr, plain[COUNTER_LENGTH + 1:COUNTER_LENGTH + 1 + cs_len], rest


def verify_command(packet: bytes, key_lookup: KeyLookup,
                   counter_state: int | CounterLookup) -> VerifiedCommand:
    """Receiving entity: check a command packet and return its secured data.

    Order: header and lengths (06) → TAR known (09) → minimum security level (0A) → keys for
    KIc/KID (06) → decipher (05) → RC/CC (01) → counter policy (02/03/04). ``counter_state``
    is the stored counter of the key set, or a function of the header that returns it.
    """
    header = parse_command_header(packet)
    security = key_lookup(header.tar)
    if security is None:
        raise TarUnknown(f"TAR {header.tar.hex()} is unknown", context=PorContext(header))
    keyset = _resolve_security(header, security)
    plain = _decipher(packet, header, keyset)
    counter, pcntr, checksum, rest = _split_secured(plain, header, keyset, packet)
    context = PorContext(header, counter, keyset)
    if checksum:
        expected = _expected_checksum(header, keyset, packet, plain, len(checksum))
        if not crypto.checksums_equal(checksum, expected):
            raise RcCcDsFailed("RC/CC mismatch", context=context)
    stored = counter_state if isinstance(counter_state, int) else counter_state(header)
    try:
        decision = check_counter(header.spi.counter, decode_counter(counter), stored)
    except OtaError as exc:
        exc.context = context
        raise
    return VerifiedCommand(header, decision.received, rest[:len(rest) - pcntr], keyset,
                           decision.new_value)


@dataclass(frozen=True, slots=True)
class OpenedCommand:
    """A command packet opened without the receiving entity's policy, for analysers.

    ``data`` is None when the packet is ciphered and no key set was given; ``checksum_ok`` is
    None when there was no checksum or it could not be computed.
    """

    header: CommandHeader
    counter: int | None
    pcntr: int | None
    checksum: bytes | None
    checksum_ok: bool | None
    data: bytes | None


def open_command(packet: bytes, keyset: OtaKeyset | None) -> OpenedCommand:
    """Decipher and check a command packet's RC/CC, skipping TAR, security level and counter.

    What ``onecard decode`` shows; a card must use :func:`verify_command` instead.
    """
    header = parse_command_header(packet)
    if header.spi.ciphering and keyset is None:
        return OpenedCommand(header, None, None, None, None, None)
    plain = _decipher(packet, header, keyset)
    counter, pcntr, checksum, rest = _split_secured(plain, header, keyset, packet)
    checksum_ok: bool | None = None
    if checksum and (keyset is not None or header.spi.integrity is Integrity.RC):
        expected = _expected_checksum(header, keyset, packet, plain, len(checksum))
        checksum_ok = crypto.checksums_equal(checksum, expected)
    return OpenedCommand(header, decode_counter(counter), pcntr, checksum or None, checksum_ok,
                         rest[:len(rest) - pcntr])


def _expected_checksum(header: CommandHeader, keyset: OtaKeyset | None, packet: bytes,
                       plain: bytes, cs_len: int) -> bytes:
    covered = packet[:CLEAR_HEADER_LENGTH] + plain[:COUNTER_LENGTH + 1] \
        + plain[COUNTER_LENGTH + 1 + cs_len:]
    rc_algorithm = _rc_algorithm(header) if header.spi.integrity is Integrity.RC else None
    return compute_checksum(header.spi.integrity, keyset, rc_algorithm or KidRcAlgorithm.CRC32,
                            covered)
