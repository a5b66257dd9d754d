"""Sealing secrets at rest with AES-256-GCM."""

from __future__ import annotations

import os

import pytest

from gateway.vault import SecretUnreadable, Vault


def test_round_trip_and_randomised_nonces() -> None:
    vault = Vault([os.urandom(32)])
    one = vault.seal(b"secret", "card-keys:1")
    two = vault.seal(b"secret", "card-keys:1")
    assert one != two and b"secret" not in one
    assert vault.open(one, "card-keys:1") == b"secret"
    assert vault.is_current(one)


def test_a_blob_only_opens_in_its_own_context() -> None:
    vault = Vault([os.urandom(32)])
    blob = vault.seal(b"k", "card-keys:A")
    with pytest.raises(SecretUnreadable, match="authentication"):
        vault.open(blob, "card-keys:B")


@pytest.mark.parametrize("mangle", [
    lambda b: b[:-1] + bytes([b[-1] ^ 1]),
    lambda b: b[:10],
    lambda b: b"\x02" + b[1:],
    lambda b: b"",
])
def test_tampering_is_detected(mangle: object) -> None:
    vault = Vault([os.urandom(32)])
    blob = vault.seal(b"k", "x")
    with pytest.raises(SecretUnreadable):
        vault.open(mangle(blob), "x")  # type: ignore[operator]


def test_key_rotation_keeps_old_blobs_readable() -> None:
    old, new = os.urandom(32), os.urandom(32)
    blob = Vault([old]).seal(b"k", "x")
    rotated = Vault([new, old])
    assert rotated.open(blob, "x") == b"k" and not rotated.is_current(blob)
    with pytest.raises(SecretUnreadable, match="unknown master key"):
        Vault([new]).open(blob, "x")
