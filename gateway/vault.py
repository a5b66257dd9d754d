"""Encryption at rest of the secrets the gateway keeps: card OTA keys, enterprise key-master
(密钥母卡) roots and terminal HMAC keys. This is the only gateway module that encrypts.

AES-256-GCM (NIST SP 800-38D) under a master key from the settings. A sealed blob is::

    version (1 byte, 0x01) | key id (6 bytes) | nonce (12 bytes, random) | ciphertext || tag (16)

The key id names the master key that sealed the blob, so that old blobs stay readable while a
new key is rolled in (the first key of ``Settings.master_keys`` seals, every listed key opens).
The associated data binds each blob to its row (e.g. ``card-keys:8986...``): a ciphertext copied
onto another card does not open there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import GatewayError

_VERSION = 0x01
_KEY_ID_BYTES = 6
_NONCE_BYTES = 12
_HEADER = 1 + _KEY_ID_BYTES + _NONCE_BYTES
_TAG_BYTES = 16


class SecretUnreadable(GatewayError):
    """A sealed secret does not open: wrong master key, tampering, or a truncated value."""

    code = "secret_unreadable"


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"onecard master key id" + key).digest()[:_KEY_ID_BYTES]


class Vault:
    def __init__(self, master_keys: Sequence[bytes]) -> None:
        if not master_keys:
            raise ValueError("at least one master key")
        self._sealing_id = _key_id(master_keys[0])
        self._ciphers = {_key_id(key): AESGCM(key) for key in master_keys}

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        body = self._ciphers[self._sealing_id].encrypt(nonce, plaintext, _aad(context))
        return bytes([_VERSION]) + self._sealing_id + nonce + body

    def open(self, blob: bytes, context: str) -> bytes:
        if len(blob) < _HEADER + _TAG_BYTES or blob[0] != _VERSION:
            raise SecretUnreadable(f"sealed secret for {context} is malformed")
        cipher = self._ciphers.get(blob[1 : 1 + _KEY_ID_BYTES])
        if cipher is None:
            raise SecretUnreadable(f"sealed secret for {context} uses an unknown master key")
        nonce = blob[1 + _KEY_ID_BYTES : _HEADER]
        try:
            return cipher.decrypt(nonce, blob[_HEADER:], _aad(context))
        except InvalidTag as exc:
            raise SecretUnreadable(f"sealed secret for {context} fails authentication") from exc

    def is_current(self, blob: bytes) -> bool:
        """False when the blob was sealed under an older master key and should be re-sealed."""
        return blob[1 : 1 + _KEY_ID_BYTES] == self._sealing_id


def _aad(context: str) -> bytes:
    return b"onecard/v1/" + context.encode()
