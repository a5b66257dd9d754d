"""A card's OTA key set (KIc, KID: ETSI TS 102 225 5.1.2-5.1.3) as the gateway stores it.

Keys are derived from the enterprise's key master card root and the ICCID by
``ota.keys.derive_card_keyset`` (the same derivation a key master card or SAM performs), or, for
cards personalised elsewhere, given at registration. Either way they are kept sealed by
``gateway.vault`` under the context ``card-keys:<ICCID>``; ``unseal`` is how the OTA job engine
gets them back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.errors import ValidationError
from gateway.vault import Vault
from ota.errors import KeysetError
from ota.keys import OtaKeyset, derive_card_keyset
from ota.spi import KicAlgorithm, KidCcAlgorithm, KidRcAlgorithm

SOURCE_DERIVED = "derived"
SOURCE_PROVIDED = "provided"


def _context(iccid: str) -> str:
    return f"card-keys:{iccid}"


def derive(root_key: bytes, iccid: str) -> OtaKeyset:
    try:
        return derive_card_keyset(root_key, iccid)
    except KeysetError as exc:
        raise ValidationError("iccid", f"no key set can be derived: {exc.detail}") from exc


def _enum(kind: type[Any], value: Any, field: str) -> Any:
    try:
        return kind[str(value)]
    except KeyError:
        names = ", ".join(m.name for m in kind)
        raise ValidationError(field, f"{value!r} is not one of {names}") from None


def _hex(value: Any, field: str) -> bytes:
    try:
        return bytes.fromhex(str(value))
    except ValueError:
        raise ValidationError(field, "expected hex") from None


def from_json(obj: Mapping[str, Any], field: str = "keys") -> OtaKeyset:
    """A key set given at registration, e.g. ``{"kic": "...", "kid": "..."}`` (AES by default)."""
    index = obj.get("key_index", 1)
    try:
        return OtaKeyset(
            kic_algorithm=_enum(KicAlgorithm, obj.get("kic_algorithm", "AES_CBC"),
                                f"{field}.kic_algorithm"),
            kic_index=index,
            kic=_hex(obj.get("kic"), f"{field}.kic"),
            kid_algorithm=_enum(KidCcAlgorithm, obj.get("kid_algorithm", "AES_CMAC"),
                                f"{field}.kid_algorithm"),
            kid_index=obj.get("kid_index", index),
            kid=_hex(obj.get("kid"), f"{field}.kid"),
            rc_algorithm=_enum(KidRcAlgorithm, obj.get("rc_algorithm", "CRC32"),
                               f"{field}.rc_algorithm"),
        )
    except KeysetError as exc:
        raise ValidationError(field, exc.detail) from exc


def _to_json(keys: OtaKeyset) -> dict[str, Any]:
    return {
        "kic_algorithm": keys.kic_algorithm.name, "kic_index": keys.kic_index,
        "kic": keys.kic.hex(), "kid_algorithm": keys.kid_algorithm.name,
        "kid_index": keys.kid_index, "kid": keys.kid.hex(),
        "rc_algorithm": keys.rc_algorithm.name,
    }


def seal(vault: Vault, iccid: str, keys: OtaKeyset) -> bytes:
    return vault.seal(json.dumps(_to_json(keys)).encode(), _context(iccid))


def unseal(vault: Vault, iccid: str, blob: bytes) -> OtaKeyset:
    data = json.loads(vault.open(blob, _context(iccid)))
    return from_json(data)


def describe(keys: OtaKeyset) -> dict[str, Any]:
    """What may be shown about a key set: algorithms and indices, never key material."""
    return {"kic_algorithm": keys.kic_algorithm.name, "kic_index": keys.kic_index,
            "kid_algorithm": keys.kid_algorithm.name, "kid_index": keys.kid_index}
