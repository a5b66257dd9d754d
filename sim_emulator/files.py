"""File commands of the UICC core: SELECT, STATUS, READ/UPDATE BINARY, READ/UPDATE RECORD
(ETSI TS 102 221 clauses 11.1.1 .. 11.1.6, ISO/IEC 7816-4 clause 7).

Each function takes the card's channel state and the parsed command and returns response
data; failures are raised as ``CardError`` subclasses with their status word.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim_emulator.apdu import CommandApdu
from sim_emulator.errors import (
    FileNotFound,
    IncompatibleFile,
    IncorrectP1P2,
    NoEfSelected,
    RecordNotFound,
    SecurityNotSatisfied,
    WrongLength,
    WrongP1P2,
)
from sim_emulator.filesystem import (
    CURRENT_ADF_FID,
    MF_FID,
    Access,
    Df,
    Ef,
    EfStructure,
    FileSystem,
)
from sim_emulator.pin import KeyRef, PinSet
from sim_emulator.sw import Sw


@dataclass
class Channel:
    """What one logical channel has selected (TS 102 221 8.5: current DF, EF, ADF, record)."""

    df: Df
    ef: Ef | None = None
    adf: Df | None = None
    record: int = 0  # current record number, 0 = no current record
    aid: bytes | None = None  # AID of the selected applet, if any
    # Remote file management (TS 102 226 clause 7) runs with the issuer's rights: the OTA
    # packet was already authenticated with the card's keys.
    privileged: bool = False

    def select_node(self, node: Ef | Df) -> None:
        if isinstance(node, Df):
            self.df, self.ef = node, None
            if node.aid is not None:
                self.adf, self.aid = node, node.aid
            elif node.fid == MF_FID:
                self.aid = None
        else:
            self.ef = node
            if node.parent is not None:
                self.df = node.parent
        self.record = 0


class WithWarning(Exception):
    """Response data that ends with a warning status word instead of '9000'."""

    def __init__(self, data: bytes, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.data = data
        self.sw = sw


# SELECT P2 (TS 102 221 11.1.1.2, Table 11.2): b4b3 01 = return FCP, 11 = no data returned;
# b2b1 00 = first or only occurrence, 10 = next occurrence (DF name only). '00' is accepted as
# "return FCP" for ISO readers that ask for the FCI.
_P2_FCP = (0x00, 0x04)
_P2_NO_DATA = 0x0C


def _fid(data: bytes) -> int:
    if len(data) != 2:
        raise WrongLength(f"a file identifier is 2 octets, got {len(data)}")
    return int.from_bytes(data, "big")


def _path(data: bytes) -> list[int]:
    if not data or len(data) % 2:
        raise WrongLength(f"a path is a non-empty even number of octets, got {len(data)}")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _by_fid(fs: FileSystem, ch: Channel, fid: int) -> Ef | Df:
    """TS 102 221 8.4.1: the selectable files around the current DF."""
    if fid == MF_FID:
        return fs.mf
    if fid == CURRENT_ADF_FID:
        if ch.adf is None:
            raise FileNotFound("no ADF selected ('7FFF')")
        return ch.adf
    df = ch.df
    if fid == df.fid:
        return df
    candidates: list[Df] = [df]
    if df.parent is not None:
        candidates.append(df.parent)
    for parent in candidates:
        node = parent.children.get(fid)
        if node is not None and not (isinstance(node, Df) and node.aid is not None):
            return node
        if parent.fid == fid:
            return parent
    raise FileNotFound(f"file {fid:04X} is not selectable from {df.name}")


def _target(fs: FileSystem, ch: Channel, apdu: CommandApdu) -> Ef | Df:
    p1, data = apdu.p1, apdu.data
    if p1 == 0x00:
        return fs.mf if not data else _by_fid(fs, ch, _fid(data))
    if p1 == 0x01:
        node = ch.df.child(_fid(data))
        if not isinstance(node, Df):
            raise FileNotFound("P1 '01' selects a DF; the FID names an EF")
        return node
    if p1 == 0x02:
        node = ch.df.child(_fid(data))
        if not isinstance(node, Ef):
            raise FileNotFound("P1 '02' selects an EF; the FID names a DF")
        return node
    if p1 == 0x03:
        if data:
            raise WrongLength("SELECT parent carries no data")
        if ch.df.parent is None:
            raise FileNotFound("the MF has no parent")
        return ch.df.parent
    if p1 == 0x04:
        if not 1 <= len(data) <= 16:
            raise WrongLength(f"an AID is 1 to 16 octets, got {len(data)}")
        return fs.adf_by_aid(data)
    if p1 == 0x08:
        return fs.find(_path(data))
    if p1 == 0x09:
        return _relative(fs, ch, _path(data))
    raise IncorrectP1P2(f"SELECT P1 {p1:02X} not supported")


def _relative(fs: FileSystem, ch: Channel, path: list[int]) -> Ef | Df:
    node: Ef | Df = ch.df
    for i, fid in enumerate(path):
        if not isinstance(node, Df):
            raise FileNotFound("path continues below an EF")
        if i == 0 and fid == CURRENT_ADF_FID and ch.adf is not None:
            node = ch.adf
            continue
        node = node.child(fid)
    return node


def select(fs: FileSystem, ch: Channel, apdu: CommandApdu) -> tuple[Ef | Df, bool]:
    """SELECT (11.1.1): select the node on ``ch``; return it and whether to return its FCP."""
    if apdu.p2 & ~0x02 not in (*_P2_FCP, _P2_NO_DATA):
        raise IncorrectP1P2(f"SELECT P2 {apdu.p2:02X} not supported")
    node = _target(fs, ch, apdu)
    ch.select_node(node)
    return node, (apdu.p2 & ~0x02) != _P2_NO_DATA


def check_access(pins: PinSet, condition: Access, ch: Channel) -> None:
    if condition is Access.ALWAYS or (ch.privileged and condition is not Access.NEVER):
        return
    if condition is Access.NEVER:
        raise SecurityNotSatisfied("operation never allowed on this file")
    ref = {Access.PIN1: KeyRef.PIN1, Access.PIN2: KeyRef.PIN2, Access.ADM: KeyRef.ADM1}[condition]
    if not pins.get(ref).satisfied:
        raise SecurityNotSatisfied(f"{ref.name} not verified")


def _ef_for(ch: Channel, sfi: int | None) -> Ef:
    """The EF a binary/record command works on: by SFI (which selects it) or the current EF."""
    if sfi is not None:
        if sfi == 0 or sfi == 0x1F:
            raise WrongP1P2(f"SFI {sfi:02X} is reserved")
        # ISO 7816-4 7.2.2: an SFI names an EF of the current DF (or ADF).
        ef = ch.df.by_sfi(sfi)
        ch.select_node(ef)
        return ef
    if ch.ef is None:
        raise NoEfSelected("no EF selected")
    return ch.ef


def read_binary(pins: PinSet, ch: Channel, apdu: CommandApdu) -> bytes:
    """READ BINARY (11.1.3): P1 b8 = 1 means P1 b5..b1 is an SFI and P2 the offset."""
    sfi, offset = _binary_target(apdu)
    ef = _ef_for(ch, sfi)
    if ef.structure is not EfStructure.TRANSPARENT:
        raise IncompatibleFile(f"{ef.name} is not transparent")
    check_access(pins, ef.read, ch)
    if offset > len(ef.data) or (offset == len(ef.data) and ef.data):
        raise WrongP1P2(f"offset {offset} is beyond the {len(ef.data)} octets of {ef.name}")
    wanted = 256 if apdu.le is None else apdu.le
    chunk = bytes(ef.data[offset : offset + wanted])
    if apdu.le is not None and apdu.le != 256 and len(chunk) < apdu.le:
        # ISO 7816-4 Table 6: '6282' end of file reached before reading Ne octets.
        raise WithWarning(chunk, Sw.END_OF_FILE)
    return chunk


def update_binary(pins: PinSet, ch: Channel, apdu: CommandApdu) -> None:
    """UPDATE BINARY (11.1.4)."""
    sfi, offset = _binary_target(apdu)
    ef = _ef_for(ch, sfi)
    if ef.structure is not EfStructure.TRANSPARENT:
        raise IncompatibleFile(f"{ef.name} is not transparent")
    check_access(pins, ef.update, ch)
    if not apdu.data:
        raise WrongLength("UPDATE BINARY needs data")
    if offset + len(apdu.data) > len(ef.data):
        if offset >= len(ef.data):
            raise WrongP1P2(f"offset {offset} is beyond the {len(ef.data)} octets of {ef.name}")
        raise WrongLength(f"{len(apdu.data)} octets at {offset} overrun the end of {ef.name}")
    ef.write(offset, apdu.data)


def _binary_target(apdu: CommandApdu) -> tuple[int | None, int]:
    if apdu.p1 & 0x80:
        if apdu.p1 & 0x60:
            raise WrongP1P2("P1 b7b6 must be 0 when b8 selects an SFI")
        return apdu.p1 & 0x1F, apdu.p2
    return None, (apdu.p1 << 8) | apdu.p2


def _record_target(apdu: CommandApdu) -> tuple[int | None, int]:
    """P2 of READ/UPDATE RECORD: b8..b4 SFI (0 = current EF), b3..b1 mode."""
    sfi = apdu.p2 >> 3
    mode = apdu.p2 & 0x07
    return (sfi or None), mode


def _record_number(ef: Ef, ch: Channel, p1: int, mode: int, update: bool) -> int:
    count = len(ef.records)
    if mode == 0x04:  # absolute, or current when P1 = 0
        number = p1 or ch.record
    elif mode == 0x02:  # next
        if p1:
            raise IncorrectP1P2("P1 must be 0 for NEXT/PREVIOUS record")
        if ef.structure is EfStructure.CYCLIC:
            number = ch.record % count + 1 if ch.record else 1
        else:
            number = ch.record + 1
    elif mode == 0x03:  # previous
        if p1:
            raise IncorrectP1P2("P1 must be 0 for NEXT/PREVIOUS record")
        if ef.structure is EfStructure.CYCLIC:
            number = (ch.record - 2) % count + 1 if ch.record else count
            if update:
                number = count
        else:
            number = ch.record - 1 if ch.record else count
    else:
        raise IncorrectP1P2(f"record mode {mode} not supported")
    if not 1 <= number <= count:
        raise RecordNotFound(f"record {number} does not exist in {ef.name} ({count} records)")
    return number


def read_record(pins: PinSet, ch: Channel, apdu: CommandApdu) -> bytes:
    """READ RECORD (11.1.5); on a cyclic EF record 1 is the most recent."""
    sfi, mode = _record_target(apdu)
    ef = _ef_for(ch, sfi)
    if ef.structure is EfStructure.TRANSPARENT:
        raise IncompatibleFile(f"{ef.name} is not a record file")
    check_access(pins, ef.read, ch)
    number = _record_number(ef, ch, apdu.p1, mode, update=False)
    record = bytes(ef.records[number - 1])
    if apdu.le is not None and apdu.le != 256 and apdu.le != len(record):
        raise WrongLength(f"record length is {len(record)}, Le is {apdu.le}")
    ch.record = number
    return record


def update_record(pins: PinSet, ch: Channel, apdu: CommandApdu) -> None:
    """UPDATE RECORD (11.1.6); on a cyclic EF only PREVIOUS, which writes a new record 1."""
    sfi, mode = _record_target(apdu)
    ef = _ef_for(ch, sfi)
    if ef.structure is EfStructure.TRANSPARENT:
        raise IncompatibleFile(f"{ef.name} is not a record file")
    check_access(pins, ef.update, ch)
    if len(apdu.data) != ef.record_length:
        raise WrongLength(f"record length is {ef.record_length}, got {len(apdu.data)} octets")
    if ef.structure is EfStructure.CYCLIC:
        if mode != 0x03:
            raise IncorrectP1P2("a cyclic EF is updated with mode PREVIOUS only")
        push_cyclic(ef, apdu.data)
        ch.record = 1
        return
    number = _record_number(ef, ch, apdu.p1, mode, update=True)
    ef.set_record(number, apdu.data)
    ch.record = number


def push_cyclic(ef: Ef, record: bytes) -> None:
    """Write ``record`` as the new record 1 of a cyclic EF, dropping the oldest."""
    ef.push_record(record)
