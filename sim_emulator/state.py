"""The persistent state of one card, and its JSON form (a card is a file).

Everything that survives a power cycle lives here: identity, the file system, PINs with
their counters, and one section per applet (OTA keys and counters, purse, sub-applications,
menu). Volatile state (selected files, verified PINs, pending proactive commands) does not.
Sans-I/O: ``to_json`` / ``from_json`` only; ``sim_emulator.storage`` reads and writes files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sim_emulator.errors import StateFileError
from sim_emulator.filesystem import FileSystem
from sim_emulator.pin import Pin, PinSet

FORMAT = "onecard-sim/1"


@dataclass
class CardState:
    iccid: str
    imsi: str
    msisdn: str
    fs: FileSystem
    pins: PinSet
    # Applet name -> its persistent state in JSON form; each applet owns its section's schema.
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self, *, with_files: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT,
            "iccid": self.iccid,
            "imsi": self.imsi,
            "msisdn": self.msisdn,
            "pins": [p.to_dict() for p in self.pins.pins.values()],
            "applets": self.sections,
        }
        if with_files:
            out["filesystem"] = self.fs.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CardState:
        if raw.get("format") != FORMAT:
            raise StateFileError(f"not a card state of format {FORMAT}: {raw.get('format')!r}")
        try:
            return cls(
                iccid=str(raw["iccid"]),
                imsi=str(raw["imsi"]),
                msisdn=str(raw["msisdn"]),
                fs=FileSystem.from_dict(raw["filesystem"]),
                pins=PinSet([Pin.from_dict(p) for p in raw["pins"]]),
                sections={str(k): dict(v) for k, v in raw.get("applets", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFileError(f"card state is incomplete or malformed: {exc!r}") from exc

    def to_json(self, *, pretty: bool = True) -> str:
        """The card file's text; ``pretty=False`` is compact (the per-command saves)."""
        if pretty:
            return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        text = json.dumps(self.to_dict(with_files=False), ensure_ascii=False,
                          separators=(",", ":"))
        return f'{text[:-1]},"filesystem":{self.fs.mf.to_json_text()}}}'


    @classmethod
    def from_json(cls, text: str) -> CardState:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateFileError(f"card state is not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise StateFileError("card state must be a JSON object")
        return cls.from_dict(raw)
