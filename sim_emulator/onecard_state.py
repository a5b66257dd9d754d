"""Persistent state of the one-card applet: sub-applications, enterprise keys, purse, issuing.

Sub-applications follow ``ota.onecard_apdu`` (one door, attendance and purse instance per card,
each installed for one enterprise, with the GlobalPlatform-style life cycle of
:class:`~ota.onecard_apdu.LifeCycle`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ota.onecard_apdu import LifeCycle, SubApp
from sim_emulator.cardkeys import EnterpriseKeys
from sim_emulator.issuing import MAX_TRANSPORT_TRIES
from sim_emulator.purse import Purse


@dataclass
class SubAppState:
    app: SubApp
    enterprise_id: int
    life_cycle: LifeCycle = LifeCycle.SELECTABLE
    locked_from: LifeCycle | None = None  # the state SET STATUS "unlock" returns to
    member_number: str = ""
    credential: bytes = b""
    valid_until: str = ""  # YYYYMMDD, empty = no expiry
    auth_counter: int = 0  # credential authentications answered (terminals spot replays)

    @property
    def locked(self) -> bool:
        return self.life_cycle is LifeCycle.LOCKED

    @property
    def personalised(self) -> bool:
        if self.locked:
            return self.locked_from is LifeCycle.PERSONALISED
        return self.life_cycle is LifeCycle.PERSONALISED

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app.name, "enterprise_id": self.enterprise_id,
            "life_cycle": self.life_cycle.name,
            "locked_from": None if self.locked_from is None else self.locked_from.name,
            "member_number": self.member_number, "credential": self.credential.hex(),
            "valid_until": self.valid_until, "auth_counter": self.auth_counter,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SubAppState:
        locked_from = raw.get("locked_from")
        return cls(
            SubApp[raw["app"]], int(raw["enterprise_id"]), LifeCycle[raw["life_cycle"]],
            None if locked_from is None else LifeCycle[locked_from],
            str(raw.get("member_number", "")), bytes.fromhex(raw.get("credential", "")),
            str(raw.get("valid_until", "")), int(raw.get("auth_counter", 0)),
        )


@dataclass
class OneCardState:
    transport_key: bytes = field(repr=False, default=bytes(16))
    transport_tries: int = MAX_TRANSPORT_TRIES
    sub_apps: dict[SubApp, SubAppState] = field(default_factory=dict)
    keys: dict[int, EnterpriseKeys] = field(default_factory=dict)
    purse: Purse = field(default_factory=Purse)

    def to_dict(self) -> dict[str, Any]:
        return {
            "transport_key": self.transport_key.hex(),
            "transport_tries": self.transport_tries,
            "sub_apps": [s.to_dict() for s in self.sub_apps.values()],
            "keys": [k.to_dict() for k in self.keys.values()],
            "purse": self.purse.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> OneCardState:
        subs = [SubAppState.from_dict(s) for s in raw.get("sub_apps", [])]
        keys = [EnterpriseKeys.from_dict(k) for k in raw.get("keys", [])]
        return cls(
            bytes.fromhex(raw["transport_key"]), int(raw.get("transport_tries", 10)),
            {s.app: s for s in subs}, {k.enterprise_id: k for k in keys},
            Purse.from_dict(raw["purse"]) if "purse" in raw else Purse(),
        )
