"""Readable renderings of command packets and PoRs, as a protocol analyser shows them.

Used by ``onecard decode``. Nothing here enforces the receiving entity's policy (TAR, minimum
security level, counters): it opens what it can with the keys it is given and says what it
could not check and why.
"""

from __future__ import annotations

from collections.abc import Sequence

from ota import onecard_apdu
from ota.errors import OtaError
from ota.keys import OtaKeyset
from ota.packet import OpenedCommand, open_command
from ota.por import Por, verify_por
from ota.remote import CompactResponse, RemoteTag, parse_expanded_command
from ota.spi import (
    CounterMode,
    Integrity,
    KicAlgorithm,
    KidCcAlgorithm,
    KidRcAlgorithm,
    PorRequest,
    PorTransport,
    Spi,
)

KNOWN_TARS: dict[bytes, str] = {
    onecard_apdu.TAR_ONECARD: "one-card applet",
    onecard_apdu.TAR_CARD_MANAGER: "card manager (RAM, TS 102 226 8)",
    onecard_apdu.TAR_RFM_SIM: "RFM SIM (TS 102 226 7)",
}
_INTEGRITY = {Integrity.NONE: "no RC/CC/DS", Integrity.RC: "RC", Integrity.CC: "CC",
              Integrity.DS: "DS"}
_COUNTER = {
    CounterMode.NONE: "no counter",
    CounterMode.NO_CHECK: "counter, not checked",
    CounterMode.HIGHER: "counter must be higher",
    CounterMode.PLUS_ONE: "counter must be exactly +1",
}


def describe_spi(spi: Spi) -> str:
    """SPI in words (TS 102 225 5.1.1, TS 31.115 4.2)."""
    first = [_COUNTER[spi.counter], "ciphered" if spi.ciphering else "not ciphered",
             _INTEGRITY[spi.integrity]]
    if spi.por is PorRequest.NONE:
        second = ["no PoR"]
    else:
        second = [
            "PoR required" if spi.por is PorRequest.ALWAYS else "PoR on error",
            _INTEGRITY[spi.por_integrity],
            "ciphered" if spi.por_ciphering else "not ciphered",
            "by SMS-SUBMIT" if spi.por_transport is PorTransport.SMS_SUBMIT
            else "in SMS-DELIVER-REPORT",
        ]
    return f"{spi.encode().hex()}: {'; '.join(first)} | {', '.join(second)}"


def _algorithm_name(table: type[KicAlgorithm] | type[KidCcAlgorithm] | type[KidRcAlgorithm],
                    nibble: int) -> str:
    try:
        return table(nibble).name
    except ValueError:
        return f"reserved ({nibble:X})"


def describe_key_byte(name: str, value: int, integrity: Integrity | None = None) -> str:
    if name == "KIc":
        algorithm = _algorithm_name(KicAlgorithm, value & 0xF)
    elif integrity is Integrity.RC:
        algorithm = _algorithm_name(KidRcAlgorithm, value & 0xF)
    else:
        algorithm = _algorithm_name(KidCcAlgorithm, value & 0xF)
    return f"{value:02x}: key index {value >> 4}, {algorithm}"


def keyset_from_bytes(kic: int, kid: int, kic_key: bytes | None,
                      kid_key: bytes | None) -> OtaKeyset | None:
    """A key set for the algorithms KIc/KID name; one missing key stands in for the other."""
    kic_key = kic_key or kid_key
    kid_key = kid_key or kic_key
    if kic_key is None or kid_key is None:
        return None
    try:
        kic_algorithm = KicAlgorithm(kic & 0xF)
    except ValueError:
        kic_algorithm = KicAlgorithm.AES_CBC
    try:
        kid_algorithm = KidCcAlgorithm(kid & 0xF)
    except ValueError:
        kid_algorithm = KidCcAlgorithm.AES_CMAC
    return OtaKeyset(kic_algorithm, kic >> 4, kic_key, kid_algorithm, kid >> 4, kid_key)


def describe_secured_data(tar: bytes, data: bytes) -> list[str]:
    """The C-APDUs of a compact-format command (TS 102 226 5.1.1), typed for the one-card TAR.

    Only the one-card applet's instructions are known well enough to split a script of several
    APDUs; for other TARs the data is shown as one C-APDU when it parses as one.
    """
    lines = []
    try:
        if data[:1] == bytes((RemoteTag.COMMAND_SCRIPTING_TEMPLATE,)):
            lines.append("expanded remote command (TS 102 226 5.2.1)")
            apdus = [onecard_apdu.CommandApdu.decode(a) for a in parse_expanded_command(data)]
        elif tar == onecard_apdu.TAR_ONECARD:
            apdus = onecard_apdu.split_apdus(data)
        else:
            apdus = [onecard_apdu.CommandApdu.decode(data)]
    except OtaError:
        return [f"data {data.hex()} (not a sequence of short C-APDUs)"]
    for apdu in apdus:
        lines.append(f"C-APDU {apdu.encode().hex()}")
        if tar == onecard_apdu.TAR_ONECARD:
            try:
                lines.append(f"  {onecard_apdu.decode_command(apdu)!r}")
            except OtaError as exc:
                lines.append(f"  not a one-card command: {exc}")
    return lines


def describe_command_packet(packet: bytes, keyset: OtaKeyset | None) -> list[str]:
    opened: OpenedCommand = open_command(packet, keyset)
    header = opened.header
    tar_name = KNOWN_TARS.get(header.tar, "unknown TAR")
    lines = [
        f"OTA command packet (ETSI TS 102 225 5.1), {len(packet)} octets",
        f"  CPL   {packet[:2].hex()} ({int.from_bytes(packet[:2], 'big')})",
        f"  CHL   {packet[2]:02x} ({packet[2]})",
        f"  SPI   {describe_spi(header.spi)}",
        f"  KIc   {describe_key_byte('KIc', header.kic)}",
        f"  KID   {describe_key_byte('KID', header.kid, header.spi.integrity)}",
        f"  TAR   {header.tar.hex()} ({tar_name})",
    ]
    if opened.data is None:
        secured = packet[10:]
        return [*lines, f"  ciphered part ({len(secured)} octets) {secured.hex()}",
                "  (give --kic-key/--kid-key to decipher and check the CC)"]
    lines += [f"  CNTR  {opened.counter:010x} ({opened.counter})", f"  PCNTR {opened.pcntr}"]
    if opened.checksum is not None:
        verdict = {True: "verified", False: "MISMATCH", None: "not checked: no key"}
        lines.append(f"  {_INTEGRITY[header.spi.integrity]:4}  {opened.checksum.hex()} "
                     f"({verdict[opened.checksum_ok]})")
    lines.append(f"  secured data ({len(opened.data)} octets)")
    return lines + ["    " + line for line in describe_secured_data(header.tar, opened.data)]


def _por_candidates(spi: Spi | None) -> list[Spi]:
    if spi is not None:
        return [spi]
    # A PoR does not carry the command's SPI; try the usual securities, strongest first.
    return [Spi(ciphering=True, integrity=Integrity.CC, por=PorRequest.ALWAYS,
                por_integrity=integrity, por_ciphering=ciphered)
            for integrity, ciphered in ((Integrity.CC, True), (Integrity.CC, False),
                                        (Integrity.RC, False), (Integrity.NONE, False))]


def open_por(tp_ud: bytes, spi: Spi | None, keysets: Sequence[OtaKeyset | None]) -> Por:
    """Verify a PoR against each candidate SPI and key set; the first that checks out wins."""
    last: OtaError | None = None
    for candidate in _por_candidates(spi):
        for keyset in keysets or (None,):
            try:
                return verify_por(tp_ud, candidate, keyset)
            except OtaError as exc:
                last = exc
    assert last is not None
    raise last


def describe_por(tp_ud: bytes, spi: Spi | None, keysets: Sequence[OtaKeyset | None]) -> list[str]:
    por = open_por(tp_ud, spi, keysets)
    tar_name = KNOWN_TARS.get(por.tar, "unknown TAR")
    status = getattr(por.status, "name", f"{int(por.status):#04x}")
    lines = [
        "OTA response packet / PoR (ETSI TS 102 225 5.2, TS 31.115 4.4)",
        f"  RPL   {por.rpl}",
        f"  RHL   {por.rhl}",
        f"  TAR   {por.tar.hex()} ({tar_name})",
        f"  CNTR  {por.counter:010x} ({por.counter})",
        f"  PCNTR {por.pcntr}",
        f"  STS   {int(por.status):02x} {status}",
    ]
    if por.checksum is not None:
        lines.append(f"  RC/CC {por.checksum.hex()} (verified)")
    elif not por.secured:
        lines.append("  unsecured (the card could not use the command's keys)")
    if por.data:
        lines += ["    " + line for line in _describe_response_data(por.tar, por.data)]
    return lines


def _describe_response_data(tar: bytes, data: bytes) -> list[str]:
    try:
        compact = CompactResponse.decode(data)
    except OtaError:
        return [f"response data {data.hex()}"]
    lines = [f"compact remote response (TS 102 226 5.1.2): {compact.executed} executed, "
             f"last SW {compact.last_sw:04x}, data {compact.last_data.hex() or '-'}"]
    if tar == onecard_apdu.TAR_ONECARD and compact.last_data:
        decoders = {7: onecard_apdu.CreditResult.decode, 6: onecard_apdu.BalanceResult.decode}
        decoder = decoders.get(len(compact.last_data))
        if decoder is not None:
            lines.append(f"  {decoder(compact.last_data)!r}")
    return lines
