"""The card's logical file system (ETSI TS 102 221 clause 8, ISO/IEC 7816-4 clause 7).

A tree of dedicated files (MF, DFs, ADFs) and elementary files (transparent, linear fixed,
cyclic). ADFs hang off the MF in this model but are found only by AID (TS 102 221 8.4.1:
an ADF is not a child of the MF; '7FFF' names the current one). The tree is the card's
persistent state, so every node converts to and from a JSON-friendly dict.

Access is a simplified form of TS 102 221 9.2: each EF names the condition for reading and
for updating (always, PIN1, PIN2, ADM, never); the FCP shows it in compact form (tag '8C').
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sim_emulator.errors import FileNotFound, WrongData

MF_FID = 0x3F00
CURRENT_ADF_FID = 0x7FFF


class Access(enum.Enum):
    """Who may perform an operation on an EF (TS 102 221 9.2, simplified)."""

    ALWAYS = "always"
    PIN1 = "pin1"  # key reference '01' (universal PIN of the USIM)
    PIN2 = "pin2"  # key reference '81'
    ADM = "adm"  # key reference '0A' (issuer / operator)
    NEVER = "never"

    @property
    def key_reference(self) -> int:
        """Key reference shown in the compact security attribute (SC byte), '00' always."""
        return {"always": 0x00, "pin1": 0x01, "pin2": 0x81, "adm": 0x0A, "never": 0xFF}[self.value]


class EfStructure(enum.Enum):
    TRANSPARENT = "transparent"
    LINEAR_FIXED = "linear_fixed"
    CYCLIC = "cyclic"

    @property
    def descriptor(self) -> int:
        """File descriptor byte (TS 102 221 11.1.1.4.3), shareable bit set."""
        return {"transparent": 0x41, "linear_fixed": 0x42, "cyclic": 0x46}[self.value]


@dataclass(eq=False)
class Ef:
    """An elementary file: ``data`` for transparent EFs, ``records`` for record EFs."""

    fid: int
    name: str
    structure: EfStructure = EfStructure.TRANSPARENT
    sfi: int | None = None
    data: bytearray = field(default_factory=bytearray)
    records: list[bytearray] = field(default_factory=list)
    record_length: int = 0
    read: Access = Access.ALWAYS
    update: Access = Access.ADM
    parent: Df | None = field(default=None, repr=False)
    # This EF's JSON text, kept until it changes: a card file is saved after every command
    # that changes anything, and most of a card's files never change.
    _json: str | None = field(default=None, repr=False)

    def write(self, offset: int, data: bytes) -> None:
        self.data[offset : offset + len(data)] = data
        self._json = None

    def set_record(self, number: int, record: bytes) -> None:
        self.records[number - 1][:] = record
        self._json = None

    def push_record(self, record: bytes) -> None:
        """Cyclic EF: ``record`` becomes record 1, the oldest is dropped (TS 102 221 8.2.3)."""
        self.records.pop()
        padded = record.ljust(self.record_length, b"\xff")[: self.record_length]
        self.records.insert(0, bytearray(padded))
        self._json = None

    def to_json_text(self) -> str:
        if self._json is None:
            self._json = json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))
        return self._json

    @property
    def size(self) -> int:
        if self.structure is EfStructure.TRANSPARENT:
            return len(self.data)
        return self.record_length * len(self.records)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "ef",
            "fid": f"{self.fid:04X}",
            "name": self.name,
            "structure": self.structure.value,
            "read": self.read.value,
            "update": self.update.value,
        }
        if self.sfi is not None:
            out["sfi"] = self.sfi
        if self.structure is EfStructure.TRANSPARENT:
            out["data"] = self.data.hex()
        else:
            out["record_length"] = self.record_length
            out["records"] = [r.hex() for r in self.records]
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Ef:
        structure = EfStructure(raw["structure"])
        ef = cls(
            fid=int(raw["fid"], 16),
            name=str(raw["name"]),
            structure=structure,
            sfi=raw.get("sfi"),
            read=Access(raw["read"]),
            update=Access(raw["update"]),
        )
        if structure is EfStructure.TRANSPARENT:
            ef.data = bytearray.fromhex(raw["data"])
        else:
            ef.record_length = int(raw["record_length"])
            ef.records = [bytearray.fromhex(r) for r in raw["records"]]
            if any(len(r) != ef.record_length for r in ef.records):
                raise WrongData(f"EF {raw['fid']}: a record differs from the record length")
        return ef


@dataclass(eq=False)
class Df:
    """A dedicated file: the MF, a DF, or an ADF when ``aid`` is set."""

    fid: int
    name: str
    aid: bytes | None = None
    children: dict[int, Ef | Df] = field(default_factory=dict)
    parent: Df | None = field(default=None, repr=False)

    def add(self, node: Ef | Df) -> Ef | Df:
        if node.fid in self.children:
            raise WrongData(f"{self.name}: file {node.fid:04X} already exists")
        node.parent = self
        self.children[node.fid] = node
        return node

    def child(self, fid: int) -> Ef | Df:
        node = self.children.get(fid)
        if node is None or (isinstance(node, Df) and node.aid is not None):
            raise FileNotFound(f"no file {fid:04X} under {self.name}")
        return node

    def by_sfi(self, sfi: int) -> Ef:
        for node in self.children.values():
            if isinstance(node, Ef) and node.sfi == sfi:
                return node
        raise FileNotFound(f"no EF with SFI {sfi:02X} under {self.name}")

    def walk(self) -> Iterator[Ef | Df]:
        yield self
        for node in self.children.values():
            if isinstance(node, Df):
                yield from node.walk()
            else:
                yield node

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "df", "fid": f"{self.fid:04X}", "name": self.name}
        if self.aid is not None:
            out["aid"] = self.aid.hex()
        out["children"] = [c.to_dict() for c in self.children.values()]
        return out

    def to_json_text(self) -> str:
        """Compact JSON of :meth:`to_dict`, reusing the text of unchanged EFs."""
        head = {"kind": "df", "fid": f"{self.fid:04X}", "name": self.name}
        if self.aid is not None:
            head["aid"] = self.aid.hex()
        text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
        children = ",".join(c.to_json_text() for c in self.children.values())
        return f'{text[:-1]},"children":[{children}]}}'

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Df:
        aid = raw.get("aid")
        df = cls(int(raw["fid"], 16), str(raw["name"]), bytes.fromhex(aid) if aid else None)
        for child in raw.get("children", []):
            df.add(Df.from_dict(child) if child["kind"] == "df" else Ef.from_dict(child))
        return df


class FileSystem:
    """The tree plus look-ups by FID, path and AID (TS 102 221 8.4)."""

    def __init__(self, mf: Df) -> None:
        if mf.fid != MF_FID:
            raise WrongData("the root of the file system must be the MF '3F00'")
        self.mf = mf

    def adfs(self) -> list[Df]:
        return [n for n in self.mf.children.values() if isinstance(n, Df) and n.aid is not None]

    def adf_by_aid(self, aid: bytes) -> Df:
        """ADF whose AID starts with ``aid`` (partial DF name selection, ISO 7816-4 7.1.1)."""
        if not aid:
            raise FileNotFound("empty AID")
        for adf in self.adfs():
            assert adf.aid is not None
            if adf.aid.startswith(aid):
                return adf
        raise FileNotFound(f"no application with AID {aid.hex().upper()}")

    def path(self, node: Ef | Df) -> list[int]:
        out: list[int] = []
        cur: Ef | Df | None = node
        while cur is not None:
            out.append(cur.fid)
            cur = cur.parent
        return list(reversed(out))

    def find(self, path: list[int]) -> Ef | Df:
        """Node at an absolute FID path from the MF (the path may omit the leading '3F00')."""
        if path and path[0] == MF_FID:
            path = path[1:]
        node: Ef | Df = self.mf
        for fid in path:
            if not isinstance(node, Df):
                raise FileNotFound("path continues below an EF")
            node = node.child(fid)
        return node

    def to_dict(self) -> dict[str, Any]:
        return self.mf.to_dict()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FileSystem:
        return cls(Df.from_dict(raw))


def transparent(
    fid: int, name: str, data: bytes, *, sfi: int | None = None,
    read: Access = Access.ALWAYS, update: Access = Access.ADM,
) -> Ef:
    return Ef(fid, name, EfStructure.TRANSPARENT, sfi, bytearray(data), read=read, update=update)


def linear(
    fid: int, name: str, record_length: int, records: list[bytes], *, sfi: int | None = None,
    read: Access = Access.ALWAYS, update: Access = Access.ADM, cyclic: bool = False,
) -> Ef:
    structure = EfStructure.CYCLIC if cyclic else EfStructure.LINEAR_FIXED
    padded = [bytearray(r.ljust(record_length, b"\xff")[:record_length]) for r in records]
    return Ef(
        fid, name, structure, sfi, records=padded, record_length=record_length,
        read=read, update=update,
    )
