"""ota.crypto against published vectors (FIPS 81 DES, RFC 4493 AES-CMAC, CRC check values)."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota import crypto
from ota.errors import CipheringError, KeysetError, UndefinedSecurityError
from ota.spi import KicAlgorithm, KidCcAlgorithm, KidRcAlgorithm

RFC4493_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")


def test_crc16_check_value() -> None:
    # CRC-16/X-25 (ISO/IEC 13239 FCS) catalogue check value.
    assert crypto.crc16_x25(b"123456789") == 0x906E
    assert crypto.redundancy_check(KidRcAlgorithm.CRC16, b"123456789") == bytes.fromhex("906e")


def test_crc32_check_value() -> None:
    assert crypto.redundancy_check(KidRcAlgorithm.CRC32, b"123456789") == bytes.fromhex("cbf43926")
    assert crypto.rc_length(KidRcAlgorithm.CRC32) == 4
    assert crypto.rc_length(KidRcAlgorithm.CRC16) == 2


def test_proprietary_rc_is_undefined() -> None:
    with pytest.raises(UndefinedSecurityError):
        crypto.redundancy_check(KidRcAlgorithm.PROPRIETARY, b"")
    with pytest.raises(UndefinedSecurityError):
        crypto.rc_length(KidRcAlgorithm.IMPLICIT)


def test_aes_cmac_rfc4493() -> None:
    cc = crypto.cryptographic_checksum(KidCcAlgorithm.AES_CMAC, RFC4493_KEY, b"")
    assert cc == bytes.fromhex("bb1d6929e9593728")
    message = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    cc = crypto.cryptographic_checksum(KidCcAlgorithm.AES_CMAC, RFC4493_KEY, message)
    assert cc == bytes.fromhex("070a16b46b4d4144")


def test_des_cbc_mac_fips81() -> None:
    # One block: CBC-MAC with a zero IV is the ECB encryption (FIPS 81 "Now is t").
    key = bytes.fromhex("0123456789abcdef")
    cc = crypto.cryptographic_checksum(KidCcAlgorithm.DES_CBC_MAC, key, b"Now is t")
    assert cc == bytes.fromhex("3fa40e8a984d4815")
    assert crypto.encrypt(KicAlgorithm.DES_ECB, key, b"Now is t") == bytes.fromhex(
        "3fa40e8a984d4815")


def test_cbc_mac_pads_with_zeros_only_when_unaligned() -> None:
    key = bytes(range(16))
    short = crypto.cryptographic_checksum(KidCcAlgorithm.TDES_2KEY_CBC_MAC, key, b"abc")
    padded = crypto.cryptographic_checksum(KidCcAlgorithm.TDES_2KEY_CBC_MAC, key,
                                           b"abc" + bytes(5))
    assert short == padded
    aligned = crypto.cryptographic_checksum(KidCcAlgorithm.TDES_2KEY_CBC_MAC, key, bytes(8))
    assert aligned != crypto.cryptographic_checksum(KidCcAlgorithm.TDES_2KEY_CBC_MAC, key,
                                                    bytes(16))


@given(st.binary(min_size=16, max_size=16), st.binary(max_size=64).map(
    lambda b: b + bytes(-len(b) % 8)))
def test_two_key_3des_is_k1_k2_k1(key: bytes, data: bytes) -> None:
    assert crypto.encrypt(KicAlgorithm.TDES_2KEY_CBC, key, data) == crypto.encrypt(
        KicAlgorithm.TDES_3KEY_CBC, key + key[:8], data)


@given(st.sampled_from([(KicAlgorithm.DES_CBC, 8), (KicAlgorithm.DES_ECB, 8),
                        (KicAlgorithm.TDES_2KEY_CBC, 16), (KicAlgorithm.TDES_3KEY_CBC, 24),
                        (KicAlgorithm.AES_CBC, 16), (KicAlgorithm.AES_CBC, 24),
                        (KicAlgorithm.AES_CBC, 32)]), st.binary(max_size=80), st.data())
def test_encrypt_decrypt_round_trip(algo_len: tuple[KicAlgorithm, int], raw: bytes,
                                    data: st.DataObject) -> None:
    algorithm, length = algo_len
    key = data.draw(st.binary(min_size=length, max_size=length))
    plain = raw + bytes(-len(raw) % crypto.block_size(algorithm))
    assert crypto.decrypt(algorithm, key, crypto.encrypt(algorithm, key, plain)) == plain


def test_single_des_cbc_equals_des() -> None:
    key = bytes.fromhex("0123456789abcdef")
    assert crypto.encrypt(KicAlgorithm.DES_CBC, key, b"Now is t") == bytes.fromhex(
        "3fa40e8a984d4815")


def test_unaligned_data_is_a_ciphering_error() -> None:
    with pytest.raises(CipheringError):
        crypto.encrypt(KicAlgorithm.AES_CBC, bytes(16), bytes(15))
    with pytest.raises(CipheringError):
        crypto.decrypt(KicAlgorithm.TDES_2KEY_CBC, bytes(16), bytes(9))


def test_wrong_key_lengths_are_keyset_errors() -> None:
    with pytest.raises(KeysetError):
        crypto.encrypt(KicAlgorithm.AES_CBC, bytes(15), bytes(16))
    with pytest.raises(KeysetError):
        crypto.cryptographic_checksum(KidCcAlgorithm.TDES_3KEY_CBC_MAC, bytes(16), b"")


def test_implicit_and_proprietary_algorithms_are_undefined() -> None:
    with pytest.raises(UndefinedSecurityError):
        crypto.block_size(KicAlgorithm.IMPLICIT)
    with pytest.raises(UndefinedSecurityError):
        crypto.encrypt(KicAlgorithm.PROPRIETARY, bytes(16), bytes(16))
    with pytest.raises(UndefinedSecurityError):
        crypto.cryptographic_checksum(KidCcAlgorithm.PROPRIETARY, bytes(16), b"")


def test_checksums_equal() -> None:
    assert crypto.checksums_equal(b"\x01\x02", b"\x01\x02")
    assert not crypto.checksums_equal(b"\x01\x02", b"\x01\x03")


def test_crc32_is_zlib() -> None:
    assert crypto.redundancy_check(KidRcAlgorithm.CRC32, b"abc") == zlib.crc32(b"abc").to_bytes(
        4, "big")
