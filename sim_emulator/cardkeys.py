"""Keys and MACs of the one-card applet's terminal side (purchase, credentials, issuing).

Both roles use this module: the card (``sim_emulator.onecard``) and the terminal's SAM or the
issuing desk (``sim_emulator.sam``, ``sim_emulator.issuing``). The scheme mirrors the Chinese
e-purse (JR/T 0025, "PBOC": per-card keys diversified from the SAM's master key, a session key
per purchase, MAC1/MAC2/TAC) but uses AES-128 and AES-CMAC throughout instead of DES; the
layout of every MAC input is in ``docs/sim_emulator-purchase.md``.

Diversification (NIST SP 800-108 counter-mode KDF with AES-CMAC, ``ota.crypto``)::

    card key = KDF(enterprise SAM master, label, ICCID (EF.ICCID coding) || enterprise id (4))

with one label per usage, so the purchase, TAC and credential keys are independent. The
primitives come from ``ota.crypto``, the project's one module that imports ``cryptography``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ota import crypto
from ota.keys import iccid_context
from ota.spi import KicAlgorithm, KidCcAlgorithm

KEY_LENGTH = 16
LABEL_PURCHASE = b"onecard/sam/purchase"
LABEL_TAC = b"onecard/sam/tac"
LABEL_CREDENTIAL = b"onecard/sam/credential"
LABEL_SESSION = b"onecard/session"
LABEL_TRANSPORT = b"onecard/transport"
LABEL_ISSUING = b"onecard/issuing"


@dataclass(frozen=True, slots=True)
class EnterpriseKeys:
    """The keys one enterprise's terminals use with one card (written by the issuing desk)."""

    enterprise_id: int
    version: int
    purchase: bytes = field(repr=False)  # DPK: session keys for MAC1 / MAC2
    tac: bytes = field(repr=False)  # DTK: transaction authentication codes
    credential: bytes = field(repr=False)  # DCK: door / attendance credential MACs

    def to_dict(self) -> dict[str, Any]:
        return {
            "enterprise_id": self.enterprise_id, "version": self.version,
            "purchase": self.purchase.hex(), "tac": self.tac.hex(),
            "credential": self.credential.hex(),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EnterpriseKeys:
        return cls(int(raw["enterprise_id"]), int(raw["version"]),
                   bytes.fromhex(raw["purchase"]), bytes.fromhex(raw["tac"]),
                   bytes.fromhex(raw["credential"]))


def derive_enterprise_keys(master: bytes, iccid: str, enterprise_id: int,
                           version: int = 1) -> EnterpriseKeys:
    """The card's keys for ``enterprise_id``, from the enterprise SAM master key (16/24/32)."""
    context = iccid_context(iccid) + enterprise_id.to_bytes(4, "big")
    return EnterpriseKeys(
        enterprise_id, version,
        crypto.kdf_counter_cmac(master, LABEL_PURCHASE, context, KEY_LENGTH),
        crypto.kdf_counter_cmac(master, LABEL_TAC, context, KEY_LENGTH),
        crypto.kdf_counter_cmac(master, LABEL_CREDENTIAL, context, KEY_LENGTH),
    )


def derive_transport_key(factory_master: bytes, iccid: str) -> bytes:
    """The card's initial personalisation (transport) key, from the card maker's master."""
    return crypto.kdf_counter_cmac(factory_master, LABEL_TRANSPORT, iccid_context(iccid),
                                   KEY_LENGTH)


def mac(key: bytes, data: bytes, length: int = 4) -> bytes:
    """AES-CMAC truncated to ``length`` octets (4 for MAC1/MAC2/TAC, 8 for the others)."""
    return crypto.cryptographic_checksum(KidCcAlgorithm.AES_CMAC, key, data)[:length]


def session_key(key: bytes, label: bytes, *parts: bytes) -> bytes:
    """A 16-octet key for one transaction or session, bound to ``parts``."""
    return crypto.kdf_counter_cmac(key, label, b"".join(parts), KEY_LENGTH)


def macs_equal(received: bytes, computed: bytes) -> bool:
    return crypto.checksums_equal(received, computed)


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2 ('80' then zeros) to the AES block."""
    data += b"\x80"
    return data + bytes(-len(data) % 16)


def unpad(data: bytes) -> bytes | None:
    """Inverse of :func:`pad`; None when the padding is wrong (tampered or wrong key)."""
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80") or len(data) - len(stripped) >= 16:
        return None
    return stripped[:-1]


def encrypt(key: bytes, data: bytes) -> bytes:
    """AES-128-CBC, zero IV, of ``pad(data)`` (each session key ciphers one message)."""
    return crypto.encrypt(KicAlgorithm.AES_CBC, key, pad(data))


def decrypt(key: bytes, data: bytes) -> bytes | None:
    if not data or len(data) % 16:
        return None
    return unpad(crypto.decrypt(KicAlgorithm.AES_CBC, key, data))
