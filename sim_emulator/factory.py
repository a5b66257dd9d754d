"""Making cards: fresh test cards with their secrets, and a ``SimCard`` from a saved state.

A fresh card gets a random (or given) identity, PINs, an OTA key set (random, or derived from
an enterprise OTA master with ``ota.keys.derive_card_keyset`` so the gateway can recompute it)
and a transport key for the issuing desk (random, or derived from a card maker's master).
The secrets are returned once, for printing; afterwards they exist only in the card file.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from ota.keys import OtaKeyset, derive_card_keyset
from ota.spi import KicAlgorithm, KidCcAlgorithm
from sim_emulator.applet import Applet
from sim_emulator.card import SimCard
from sim_emulator.cardkeys import derive_transport_key
from sim_emulator.onecard import OneCardApplet
from sim_emulator.onecard_state import OneCardState
from sim_emulator.ota_applet import OtaApplet, OtaState, StoredKeyset
from sim_emulator.pin import KeyRef, Pin, PinSet, pad_pin
from sim_emulator.profile import Identity, build_filesystem
from sim_emulator.state import CardState
from sim_emulator.stk_applet import StkApplet, StkState

ICCID_PREFIX = "898600"  # 89 telecom, 86 China, 00 issuer
IMSI_PREFIX = "46000"  # MCC 460, MNC 00
MSISDN_PREFIX = "86138"


def luhn_digit(digits: str) -> str:
    """The Luhn check digit ICCIDs end with (ITU-T E.118)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str(-total % 10)


def identity_for(index: int, *, iccid_base: int = 0, msisdn_base: int = 0) -> Identity:
    """A deterministic identity for fleet member ``index`` (same index, same card)."""
    body = f"{ICCID_PREFIX}{iccid_base + index:013d}"
    return Identity(
        iccid=body + luhn_digit(body),
        imsi=f"{IMSI_PREFIX}{index:010d}",
        msisdn=f"{MSISDN_PREFIX}{msisdn_base + index:08d}",
    )


def random_identity() -> Identity:
    body = ICCID_PREFIX + "".join(secrets.choice("0123456789") for _ in range(13))
    return Identity(
        iccid=body + luhn_digit(body),
        imsi=IMSI_PREFIX + "".join(secrets.choice("0123456789") for _ in range(10)),
        msisdn=MSISDN_PREFIX + "".join(secrets.choice("0123456789") for _ in range(8)),
    )


@dataclass(frozen=True)
class CardSecrets:
    """What a card's owner learns once when the card is made (never logged)."""

    identity: Identity
    pin1: str
    puk1: str
    adm: bytes
    ota: OtaKeyset
    transport_key: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "iccid": self.identity.iccid, "imsi": self.identity.imsi,
            "msisdn": self.identity.msisdn, "pin1": self.pin1, "puk1": self.puk1,
            "adm": self.adm.hex(),
            "ota": {
                "kic_algorithm": self.ota.kic_algorithm.name, "kic_index": self.ota.kic_index,
                "kic": self.ota.kic.hex(), "kid_algorithm": self.ota.kid_algorithm.name,
                "kid_index": self.ota.kid_index, "kid": self.ota.kid.hex(),
            },
            "transport_key": self.transport_key.hex(),
        }


def random_ota_keyset(index: int = 1) -> OtaKeyset:
    return OtaKeyset(KicAlgorithm.AES_CBC, index, secrets.token_bytes(16),
                     KidCcAlgorithm.AES_CMAC, index, secrets.token_bytes(16))


def new_card_state(
    identity: Identity | None = None,
    *,
    ota_master: bytes | None = None,
    factory_master: bytes | None = None,
    pin1: str | None = None,
) -> tuple[CardState, CardSecrets]:
    """A fresh card: random where nothing is given, derived from the masters where they are."""
    ident = identity or random_identity()
    pin = pin1 or f"{secrets.randbelow(10_000):04d}"
    puk = f"{secrets.randbelow(100_000_000):08d}"
    adm = secrets.token_bytes(8)
    ota = derive_card_keyset(ota_master, ident.iccid) if ota_master else random_ota_keyset()
    transport = (derive_transport_key(factory_master, ident.iccid) if factory_master
                 else secrets.token_bytes(16))
    pins = PinSet([
        Pin(KeyRef.PIN1, pad_pin(pin), pad_pin(puk)),
        Pin(KeyRef.PIN2, pad_pin(pin), pad_pin(puk), enabled=False),
        Pin(KeyRef.ADM1, adm, pad_pin(puk)),
    ])
    state = CardState(ident.iccid, ident.imsi, ident.msisdn, build_filesystem(ident), pins)
    state.sections["ota"] = OtaState([StoredKeyset(ota)]).to_dict()
    state.sections["onecard"] = OneCardState(transport_key=transport).to_dict()
    state.sections["stk"] = StkState().to_dict()
    return state, CardSecrets(ident, pin, puk, adm, ota, transport)


def open_card(state: CardState) -> SimCard:
    """The card for a saved state, with its applets wired."""
    onecard = OneCardApplet(OneCardState.from_dict(state.sections["onecard"]), state.iccid)
    ota = OtaApplet(OtaState.from_dict(state.sections.get("ota", {})), onecard)
    stk = StkApplet(StkState.from_dict(state.sections.get("stk", {})), onecard, ota)
    applets: list[Applet] = [ota, onecard, stk]
    card = SimCard(state, applets)
    card.power_on()
    return card


def describe_card(card: SimCard) -> dict[str, Any]:
    """What ``onecard sim show`` prints: identity and applications, no key material."""
    out: dict[str, Any] = {"iccid": card.state.iccid, "imsi": card.state.imsi,
                           "msisdn": card.state.msisdn}
    onecard = card.applet_named("onecard")
    if isinstance(onecard, OneCardApplet):
        state = onecard.state
        out["sub_apps"] = {s.app.name.lower(): {"enterprise_id": s.enterprise_id,
                                                "life_cycle": s.life_cycle.name.lower(),
                                                "member_number": s.member_number}
                           for s in state.sub_apps.values()}
        out["purse"] = {"balance_fen": state.purse.balance,
                        "load_counter": state.purse.load_counter,
                        "offline_seq": state.purse.offline_seq}
        out["enterprise_keys"] = sorted(state.keys)
    ota = card.applet_named("ota")
    if isinstance(ota, OtaApplet):
        out["ota_counters"] = {f"{k.keyset.kid_index}": k.counter for k in ota.state.keysets}
    return out
