"""OTA key sets and per-card key derivation from the enterprise master key (密钥母卡).

A key set is what TS 102 225 5.1.2 / 5.1.3 address through KIc and KID: a ciphering key and a
checksum key, each with a 4-bit key index and an algorithm. Key material never appears in
``repr`` (house rule: never log keys).

Derivation (see ``docs/kdf.md``): every card's keys come from its enterprise's master key and
its ICCID, so the gateway stores one secret per enterprise and the key master card (or a SAM)
can recompute any card's keys offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ota.crypto import KIC_KEY_LENGTHS, KID_KEY_LENGTHS, kdf_counter_cmac
from ota.errors import KeysetError
from ota.spi import Integrity, KicAlgorithm, KidCcAlgorithm, KidRcAlgorithm, key_byte

KDF_LABEL_KIC = b"onecard/ota/kic"
KDF_LABEL_KID = b"onecard/ota/kid"


@dataclass(frozen=True, slots=True)
class OtaKeyset:
    """One KIc/KID key pair with its indices and algorithms."""

    kic_algorithm: KicAlgorithm
    kic_index: int
    kic: bytes = field(repr=False)
    kid_algorithm: KidCcAlgorithm
    kid_index: int
    kid: bytes = field(repr=False)
    # The KID algorithm nibble when SPI selects a redundancy check instead of a CC (5.1.3.2).
    rc_algorithm: KidRcAlgorithm = KidRcAlgorithm.CRC32

    def __post_init__(self) -> None:
        for name, index in (("KIc", self.kic_index), ("KID", self.kid_index)):
            if not 0 <= index <= 0xF:
                raise KeysetError(f"{name} key index {index} does not fit 4 bits")
        _check_length("KIc", self.kic, KIC_KEY_LENGTHS.get(self.kic_algorithm))
        _check_length("KID", self.kid, KID_KEY_LENGTHS.get(self.kid_algorithm))

    @property
    def kic_byte(self) -> int:
        return key_byte(self.kic_index, self.kic_algorithm)

    def kid_byte(self, integrity: Integrity) -> int:
        """KID as sent: the RC table's nibble when SPI selects RC, else the CC table's."""
        algorithm = self.rc_algorithm if integrity is Integrity.RC else self.kid_algorithm
        return key_byte(self.kid_index, algorithm)


def _check_length(name: str, key: bytes, allowed: tuple[int, ...] | None) -> None:
    # IMPLICIT / PROPRIETARY algorithms carry no length rule of ours; keys for them are accepted
    # as opaque bytes and refused later by ota.crypto if ever used.
    if allowed is not None and len(key) not in allowed:
        raise KeysetError(f"{name} key of {len(key)} octets, the algorithm takes {allowed}")


def iccid_context(iccid: str) -> bytes:
    """The ICCID as EF.ICCID stores it (TS 102 221 13.2): BCD, nibbles swapped, F-padded to 10."""
    digits = iccid.strip()
    if not digits.isascii() or not digits.isdigit() or not 18 <= len(digits) <= 20:
        raise KeysetError("an ICCID is 18 to 20 decimal digits")
    digits = digits.ljust(20, "F")
    return bytes(int(digits[i + 1] + digits[i], 16) for i in range(0, 20, 2))


def _key_length(algorithm: KicAlgorithm | KidCcAlgorithm, aes_key_length: int) -> int:
    allowed = (
        KIC_KEY_LENGTHS.get(algorithm)
        if isinstance(algorithm, KicAlgorithm)
        else KID_KEY_LENGTHS.get(algorithm)
    )
    if allowed is None:
        raise KeysetError(f"cannot derive a key for {algorithm.name}")
    if len(allowed) > 1:
        if aes_key_length not in allowed:
            raise KeysetError(f"AES key length {aes_key_length} not in {allowed}")
        return aes_key_length
    return allowed[0]


def derive_card_keyset(
    master_key: bytes,
    iccid: str,
    *,
    kic_algorithm: KicAlgorithm = KicAlgorithm.AES_CBC,
    kid_algorithm: KidCcAlgorithm = KidCcAlgorithm.AES_CMAC,
    key_index: int = 1,
    aes_key_length: int = 16,
    rc_algorithm: KidRcAlgorithm = KidRcAlgorithm.CRC32,
) -> OtaKeyset:
    """Derive one card's OTA key set from the enterprise master key and the card's ICCID.

    KDF: NIST SP 800-108r1 counter mode, PRF = AES-CMAC keyed with ``master_key`` (an AES key of
    16, 24 or 32 octets), counter and length fields 32-bit big-endian, counter before the fixed
    data::

        K(i) = CMAC(master_key, [i]_32 || Label || 0x00 || Context || [L]_32)
        KIc  = first n octets of K(1) || K(2) ...  with Label = b"onecard/ota/kic"
        KID  = same with Label = b"onecard/ota/kid"
        Context = ICCID in EF.ICCID coding (BCD, nibbles swapped, padded with F to 10 octets)
                  || key index (1 octet)
        L = 8 * n, n = key length of the algorithm (8 DES, 16 3DES-2key, 24 3DES-3key,
            ``aes_key_length`` for AES)

    A distinct label per key usage keeps KIc and KID independent; putting L into the input
    makes keys of different lengths independent too; the key index in the context gives each
    key set version of a card its own keys. ``key_index`` is the KIc and KID key index.
    """
    if not 0 <= key_index <= 0xF:
        raise KeysetError(f"key index {key_index} does not fit 4 bits")
    context = iccid_context(iccid) + bytes((key_index,))
    kic_len = _key_length(kic_algorithm, aes_key_length)
    kid_len = _key_length(kid_algorithm, aes_key_length)
    return OtaKeyset(
        kic_algorithm=kic_algorithm,
        kic_index=key_index,
        kic=kdf_counter_cmac(master_key, KDF_LABEL_KIC, context, kic_len),
        kid_algorithm=kid_algorithm,
        kid_index=key_index,
        kid=kdf_counter_cmac(master_key, KDF_LABEL_KID, context, kid_len),
        rc_algorithm=rc_algorithm,
    )
