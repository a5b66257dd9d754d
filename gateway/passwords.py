"""Member service passwords (服务密码): scrypt hashes (RFC 7914) through ``hashlib``.

Service passwords are short (six digits), so the hash alone cannot protect them against an
offline search; what protects them online is the attempt counter and lock-out kept on the member
(``gateway.services.members.verify_service_password``). The hash keeps them out of plain sight.

Format: ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``, so parameters can be raised later
without invalidating stored hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

_LOG2_N = 14
_R = 8
_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=1 << log2_n, r=r, p=p, dklen=_HASH_BYTES,
        maxmem=256 * 1024 * 1024,
    )


def hash_password(password: str) -> str:
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, _LOG2_N, _R, _P)
    b64 = base64.b64encode
    return f"scrypt${_LOG2_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)
