"""ota.keys: key sets and the per-card KDF (docs/kdf.md)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

from ota.errors import KeysetError
from ota.keys import (
    KDF_LABEL_KIC,
    KDF_LABEL_KID,
    OtaKeyset,
    derive_card_keyset,
    iccid_context,
)
from ota.spi import Integrity, KicAlgorithm, KidCcAlgorithm, KidRcAlgorithm

MASTER = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
ICCID = "89860012345678901234"


def _reference_kdf(key: bytes, label: bytes, context: bytes, length: int) -> bytes:
    # SP 800-108r1 counter mode written out by hand, as an independent check of ota.crypto.
    out = b""
    i = 1
    while len(out) < length:
        mac = CMAC(algorithms.AES(key))
        fixed = label + b"\x00" + context + (8 * length).to_bytes(4, "big")
        mac.update(i.to_bytes(4, "big") + fixed)
        out += mac.finalize()
        i += 1
    return out[:length]


def test_iccid_context_is_ef_iccid_coding() -> None:
    assert iccid_context(ICCID) == bytes.fromhex("98680021436587092143")
    assert iccid_context("8986001234567890123") == bytes.fromhex("986800214365870921f3")


@pytest.mark.parametrize("bad", ["", "1234", "8986001234567890123x", "898600123456789012345",
                                 "٨٩٨٦٠٠١٢٣٤٥٦٧٨٩٠١٢٣٤"])
def test_bad_iccid(bad: str) -> None:
    with pytest.raises(KeysetError):
        iccid_context(bad)


def test_defaults_and_golden_values() -> None:
    ks = derive_card_keyset(MASTER, ICCID)
    assert (ks.kic_algorithm, ks.kid_algorithm) == (KicAlgorithm.AES_CBC, KidCcAlgorithm.AES_CMAC)
    assert (ks.kic_index, ks.kid_index, len(ks.kic), len(ks.kid)) == (1, 1, 16, 16)
    # Golden values, also printed in docs/kdf.md.
    assert ks.kic.hex() == "8ce69529947b6d33458ec138b4b3dcd5"
    assert ks.kid.hex() == "5321609bbdc6df85a1d660fa1d2e099a"
    rotated = derive_card_keyset(MASTER, ICCID, key_index=2)
    assert rotated.kic.hex() == "66acd2c8a76ffc9685e1c39024ba6925"
    assert rotated.kid.hex() == "d621ce8715ec782c4dde47897e8bbb75"


@pytest.mark.parametrize(("kic", "kid", "aes", "kic_len", "kid_len"), [
    (KicAlgorithm.AES_CBC, KidCcAlgorithm.AES_CMAC, 32, 32, 32),
    (KicAlgorithm.AES_CBC, KidCcAlgorithm.AES_CMAC, 24, 24, 24),
    (KicAlgorithm.TDES_2KEY_CBC, KidCcAlgorithm.TDES_2KEY_CBC_MAC, 16, 16, 16),
    (KicAlgorithm.TDES_3KEY_CBC, KidCcAlgorithm.TDES_3KEY_CBC_MAC, 16, 24, 24),
    (KicAlgorithm.DES_CBC, KidCcAlgorithm.DES_CBC_MAC, 16, 8, 8),
])
def test_derivation_matches_reference(kic: KicAlgorithm, kid: KidCcAlgorithm, aes: int,
                                      kic_len: int, kid_len: int) -> None:
    ks = derive_card_keyset(MASTER, ICCID, kic_algorithm=kic, kid_algorithm=kid, key_index=5,
                            aes_key_length=aes)
    context = iccid_context(ICCID) + b"\x05"
    assert ks.kic == _reference_kdf(MASTER, KDF_LABEL_KIC, context, kic_len)
    assert ks.kid == _reference_kdf(MASTER, KDF_LABEL_KID, context, kid_len)
    assert ks.kic_index == ks.kid_index == 5


def test_golden_two_key_3des() -> None:
    ks = derive_card_keyset(bytes(range(32)), "8986001234567890123",
                            kic_algorithm=KicAlgorithm.TDES_2KEY_CBC,
                            kid_algorithm=KidCcAlgorithm.TDES_2KEY_CBC_MAC, key_index=3)
    assert ks.kic.hex() == "04fb0da5b5901c99db46e70741ec1c61"
    assert ks.kid.hex() == "42d959e8ba11122174b8dcff9a1811a7"


def test_keys_differ_per_card_and_per_usage() -> None:
    a = derive_card_keyset(MASTER, ICCID)
    b = derive_card_keyset(MASTER, "89860012345678901235")
    assert a.kic != b.kic and a.kid != b.kid and a.kic != a.kid


def test_bad_master_key_and_lengths() -> None:
    with pytest.raises(KeysetError):
        derive_card_keyset(bytes(10), ICCID)
    with pytest.raises(KeysetError):
        derive_card_keyset(MASTER, ICCID, aes_key_length=20)
    with pytest.raises(KeysetError):
        derive_card_keyset(MASTER, ICCID, kic_algorithm=KicAlgorithm.IMPLICIT)
    with pytest.raises(KeysetError):
        derive_card_keyset(MASTER, ICCID, key_index=16)


def test_repr_never_shows_keys() -> None:
    ks = derive_card_keyset(MASTER, ICCID)
    assert ks.kic.hex() not in repr(ks) and ks.kid.hex() not in repr(ks)
    assert "kic=" not in repr(ks)


def test_keyset_validation_and_bytes() -> None:
    ks = OtaKeyset(KicAlgorithm.TDES_2KEY_CBC, 3, bytes(16), KidCcAlgorithm.AES_CMAC, 2, bytes(16),
                   KidRcAlgorithm.CRC16)
    assert ks.kic_byte == 0x35
    assert ks.kid_byte(Integrity.CC) == 0x22
    assert ks.kid_byte(Integrity.RC) == 0x21
    with pytest.raises(KeysetError):
        OtaKeyset(KicAlgorithm.AES_CBC, 1, bytes(8), KidCcAlgorithm.AES_CMAC, 1, bytes(16))
    with pytest.raises(KeysetError):
        OtaKeyset(KicAlgorithm.AES_CBC, 16, bytes(16), KidCcAlgorithm.AES_CMAC, 1, bytes(16))
