"""Block ciphers, checksums and the KDF used by SCP80. The only module importing ``cryptography``.

TS 102 225 5.1.2 / 5.1.3 and the conventions every implementation agrees on (pySim, real cards;
see tests/data/sim-conformance.FINDINGS.md):

* Ciphering: CBC with an all-zero IV. The caller pads with zero octets to the block size (8 for
  DES and triple DES, 16 for AES) and counts the padding in PCNTR.
* Cryptographic checksum, DES family: CBC-MAC with a zero IV over the input zero-padded to a
  multiple of 8 (no padding when already aligned; that padding is never transmitted); the CC is
  the last cipher block.
* Cryptographic checksum, AES: CMAC (NIST SP 800-38B) truncated to its first 8 octets.
* Redundancy check: CRC32 as ISO 3309 / ITU-T V.42 (the zlib CRC), 4 octets big-endian;
  CRC16 as ISO/IEC 13239 (polynomial 0x1021 reflected, initial value FFFF, final one's
  complement: "CRC-16/X-25"), 2 octets big-endian like the CRC32.

Recent ``cryptography`` keeps triple DES only under ``hazmat.decrepit`` and deprecates keys
shorter than 24 octets, so keys are always expanded to three-key form here: a 2-key key K1K2
becomes K1K2K1, a single DES key K becomes KKK (triple DES with K1 = K2 = K3 is single DES).
"""

from __future__ import annotations

import functools
import hmac
import zlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode

from ota.errors import CipheringError, KeysetError, UndefinedSecurityError
from ota.spi import KicAlgorithm, KidCcAlgorithm, KidRcAlgorithm

CC_LENGTH = 8

_ZERO_IV = {8: bytes(8), 16: bytes(16)}

# Key lengths each algorithm accepts (octets). AES takes its length from the key (5.1.2 NOTE:
# AES-128/192/256 share the one KIc/KID value).
KIC_KEY_LENGTHS: dict[KicAlgorithm, tuple[int, ...]] = {
    KicAlgorithm.DES_CBC: (8,),
    KicAlgorithm.DES_ECB: (8,),
    KicAlgorithm.TDES_2KEY_CBC: (16,),
    KicAlgorithm.TDES_3KEY_CBC: (24,),
    KicAlgorithm.AES_CBC: (16, 24, 32),
}
KID_KEY_LENGTHS: dict[KidCcAlgorithm, tuple[int, ...]] = {
    KidCcAlgorithm.DES_CBC_MAC: (8,),
    KidCcAlgorithm.TDES_2KEY_CBC_MAC: (16,),
    KidCcAlgorithm.TDES_3KEY_CBC_MAC: (24,),
    KidCcAlgorithm.AES_CMAC: (16, 24, 32),
}


def _des3_key(key: bytes) -> bytes:
    if len(key) == 8:
        return key * 3
    if len(key) == 16:
        return key + key[:8]
    if len(key) == 24:
        return key
    raise KeysetError(f"a DES key is 8, 16 or 24 octets, not {len(key)}")


def block_size(algorithm: KicAlgorithm) -> int:
    """Cipher block size in octets, i.e. what ciphered data is padded to."""
    if algorithm is KicAlgorithm.AES_CBC:
        return 16
    if algorithm in KIC_KEY_LENGTHS:
        return 8
    raise UndefinedSecurityError(f"no ciphering algorithm for KIc {algorithm.name}")


# Building a Cipher object costs more than ciphering a short packet (argument checks in
# ``cryptography``), and one card's keys are used again and again, so the objects are cached.
# A Cipher holds no per-message state: each call still gets a fresh encryptor or decryptor.
# The cache is bounded; it keeps keys in memory no longer than the key sets that hold them do.
@functools.lru_cache(maxsize=1024)
def _cipher(algorithm: KicAlgorithm, key: bytes) -> Cipher[modes.CBC] | Cipher[modes.ECB]:
    allowed = KIC_KEY_LENGTHS.get(algorithm)
    if allowed is None:
        raise UndefinedSecurityError(f"no ciphering algorithm for KIc {algorithm.name}")
    if len(key) not in allowed:
        raise KeysetError(f"{algorithm.name} takes a key of {allowed} octets, not {len(key)}")
    if algorithm is KicAlgorithm.AES_CBC:
        return Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV[16]))
    if algorithm is KicAlgorithm.DES_ECB:
        return Cipher(TripleDES(_des3_key(key)), modes.ECB())
    return Cipher(TripleDES(_des3_key(key)), modes.CBC(_ZERO_IV[8]))


def encrypt(algorithm: KicAlgorithm, key: bytes, data: bytes) -> bytes:
    """Cipher ``data`` (already padded to the block size) with a zero IV."""
    if len(data) % block_size(algorithm):
        raise CipheringError(f"{len(data)} octets are not whole {algorithm.name} blocks")
    enc = _cipher(algorithm, key).encryptor()
    return enc.update(data) + enc.finalize()


def decrypt(algorithm: KicAlgorithm, key: bytes, data: bytes) -> bytes:
    if len(data) % block_size(algorithm):
        raise CipheringError(f"{len(data)} ciphered octets are not whole blocks")
    dec = _cipher(algorithm, key).decryptor()
    return dec.update(data) + dec.finalize()


def cryptographic_checksum(algorithm: KidCcAlgorithm, key: bytes, data: bytes) -> bytes:
    """The 8-octet CC over ``data`` (TS 102 225 5.1.3.1)."""
    allowed = KID_KEY_LENGTHS.get(algorithm)
    if allowed is None:
        raise UndefinedSecurityError(f"no checksum algorithm for KID {algorithm.name}")
    if len(key) not in allowed:
        raise KeysetError(f"{algorithm.name} takes a key of {allowed} octets, not {len(key)}")
    if algorithm is KidCcAlgorithm.AES_CMAC:
        mac = _cmac_base(key).copy()
        mac.update(data)
        return mac.finalize()[:CC_LENGTH]
    if len(data) % 8:
        data = data + bytes(8 - len(data) % 8)
    enc = _cbc_mac_cipher(key).encryptor()
    return (enc.update(data) + enc.finalize())[-CC_LENGTH:]


@functools.lru_cache(maxsize=1024)
def _cmac_base(key: bytes) -> CMAC:
    # Never updated nor finalized: each checksum works on a copy (a third of the set-up cost).
    return CMAC(algorithms.AES(key))


@functools.lru_cache(maxsize=1024)
def _cbc_mac_cipher(key: bytes) -> Cipher[modes.CBC]:
    return Cipher(TripleDES(_des3_key(key)), modes.CBC(_ZERO_IV[8]))


def crc16_x25(data: bytes) -> int:
    """CRC-16 of ISO/IEC 13239 (HDLC / X.25 FCS): check value of b"123456789" is 0x906E."""
    crc = 0xFFFF
    for octet in data:
        crc ^= octet
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def redundancy_check(algorithm: KidRcAlgorithm, data: bytes) -> bytes:
    """The RC over ``data`` (TS 102 225 5.1.3.2)."""
    if algorithm is KidRcAlgorithm.CRC32:
        return zlib.crc32(data).to_bytes(4, "big")
    if algorithm is KidRcAlgorithm.CRC16:
        return crc16_x25(data).to_bytes(2, "big")
    raise UndefinedSecurityError(f"no redundancy check algorithm for KID {algorithm.name}")


def rc_length(algorithm: KidRcAlgorithm) -> int:
    if algorithm is KidRcAlgorithm.CRC32:
        return 4
    if algorithm is KidRcAlgorithm.CRC16:
        return 2
    raise UndefinedSecurityError(f"no redundancy check algorithm for KID {algorithm.name}")


def checksums_equal(received: bytes, computed: bytes) -> bool:
    """Constant-time comparison, so a forger learns nothing from response timing."""
    return hmac.compare_digest(received, computed)


def kdf_counter_cmac(master_key: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """NIST SP 800-108r1 KDF in counter mode with AES-CMAC as the PRF.

    Fixed input per iteration i (from 1): ``[i]_32 || label || 0x00 || context || [L]_32``,
    with L the output length in bits; output = the first ``length`` octets of K(1) || K(2) ....
    """
    if len(master_key) not in (16, 24, 32):
        raise KeysetError(f"the master key is an AES key of 16, 24 or 32 octets, not "
                          f"{len(master_key)}")
    try:
        kdf = KBKDFCMAC(
            algorithm=algorithms.AES,
            mode=Mode.CounterMode,
            length=length,
            rlen=4,
            llen=4,
            location=CounterLocation.BeforeFixed,
            label=label,
            context=context,
            fixed=None,
        )
        return kdf.derive(master_key)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeysetError(f"key derivation failed: {exc}") from exc
