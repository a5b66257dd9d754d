"""The issuing desk's personalisation protocol (洗卡), both roles. Sans-I/O.

The desk proves it knows the card's transport key, opens a session, then writes ciphered and
MACed data: the enterprise keys its terminals use with this card (ICCID-bound, see
``sim_emulator.cardkeys``), optionally the card's OTA key set derived from the enterprise's
OTA master (``ota.keys.derive_card_keyset``), and the purse settings. Modelled on
GlobalPlatform SCP03 (mutual authentication from two challenges, then C-ENC and C-MAC with a
command counter), reduced to what the desk needs, with AES-CMAC throughout::

    SELECT one-card applet    00 A4 04 00 08 F04F4E4543415244
    GET CHALLENGE             00 84 00 00 08                        -> RC (8)
    EXTERNAL AUTHENTICATE     80 82 00 00 10 RT(8) | HC(8)          -> CC(8)
        HC = CMAC(KT, "host" | RC | RT)[:8]     CC = CMAC(KT, "card" | RT | RC)[:8]
        S  = KDF(KT, "onecard/issuing", RC | RT)
    PUT KEY                   84 D8 00 00 Lc  E | M
    PUT DATA                  84 DA 00 00 Lc  E | M
    INSTALL / STORE DATA / SET STATUS / DELETE of ``ota.onecard_apdu``, CLA 84, data E | M
        n  = command counter, 1 for the first command after EXTERNAL AUTHENTICATE
        E  = AES-CBC(KDF(S, "enc", n), pad(TLVs));  M = CMAC(KDF(S, "mac", n), header | n | E)[:8]

TLVs (one-octet tags, BER lengths): PUT KEY ``C9`` enterprise id (4), ``C0`` key version (1),
``D1`` purchase key, ``D2`` TAC key, ``D3`` credential key, and optionally ``D5`` KIc
(algorithm, index, key) and ``D6`` KID (algorithm, index, key). PUT DATA ``C5`` per-purchase
limit (4, fen), ``C6`` daily limit (4, fen), ``C7`` application information (up to 30 octets).
The sub-application commands of the OTA path (install, personalise, lock, delete) are accepted
in the same wrapping, so a desk can issue a card without the network; CREDIT is not: value
enters a purse only over the air. The transport key blocks after 10 failed authentications
('6983'); each failure answers '63Cx' with the tries left.
"""

from __future__ import annotations

from dataclasses import dataclass

from ota.remote import ber_tlv
from sim_emulator.cardkeys import (
    LABEL_ISSUING,
    EnterpriseKeys,
    decrypt,
    encrypt,
    mac,
    macs_equal,
    session_key,
)
from sim_emulator.errors import SecurityNotSatisfied, WrongLength

INS_EXTERNAL_AUTHENTICATE = 0x82
INS_PUT_KEY = 0xD8
INS_PUT_DATA = 0xDA
CLA_SECURED = 0x84
CHALLENGE_LENGTH = 8
CRYPTOGRAM_LENGTH = 8
MAX_TRANSPORT_TRIES = 10


def host_cryptogram(transport_key: bytes, card_challenge: bytes, host_challenge: bytes) -> bytes:
    return mac(transport_key, b"host" + card_challenge + host_challenge, CRYPTOGRAM_LENGTH)


def card_cryptogram(transport_key: bytes, card_challenge: bytes, host_challenge: bytes) -> bytes:
    return mac(transport_key, b"card" + host_challenge + card_challenge, CRYPTOGRAM_LENGTH)


@dataclass
class Session:
    """An open personalisation session: the session key and the command counter."""

    key: bytes
    counter: int = 0

    @classmethod
    def open(cls, transport_key: bytes, card_challenge: bytes, host_challenge: bytes) -> Session:
        return cls(session_key(transport_key, LABEL_ISSUING, card_challenge, host_challenge))

    def _keys(self, counter: int) -> tuple[bytes, bytes]:
        n = counter.to_bytes(2, "big")
        return session_key(self.key, b"enc", n), session_key(self.key, b"mac", n)

    def wrap(self, ins: int, p1: int, p2: int, plain: bytes) -> bytes:
        """Desk role: the secured command APDU carrying ``plain``."""
        self.counter += 1
        enc_key, mac_key = self._keys(self.counter)
        body = encrypt(enc_key, plain)
        header = bytes((CLA_SECURED, ins, p1, p2))
        tag = mac(mac_key, header + self.counter.to_bytes(2, "big") + body, 8)
        data = body + tag
        if len(data) > 255:
            raise WrongLength("personalisation data does not fit one short APDU")
        return header + bytes((len(data),)) + data

    def unwrap(self, cla: int, ins: int, p1: int, p2: int, data: bytes) -> bytes:
        """Card role: check the MAC and decipher; raise '6982' on any mismatch."""
        if cla != CLA_SECURED or len(data) < 16 + 8:
            raise SecurityNotSatisfied("personalisation commands are ciphered and MACed (CLA 84)")
        counter = self.counter + 1
        enc_key, mac_key = self._keys(counter)
        body, tag = data[:-8], data[-8:]
        header = bytes((cla, ins, p1, p2))
        if not macs_equal(tag, mac(mac_key, header + counter.to_bytes(2, "big") + body, 8)):
            raise SecurityNotSatisfied("personalisation MAC does not verify")
        plain = decrypt(enc_key, body)
        if plain is None:
            raise SecurityNotSatisfied("personalisation data does not decipher")
        self.counter = counter
        return plain


def put_key_data(keys: EnterpriseKeys, ota_kic: tuple[int, int, bytes] | None = None,
                 ota_kid: tuple[int, int, bytes] | None = None) -> bytes:
    """PUT KEY plaintext: enterprise keys, and optionally the OTA KIc / KID (alg, index, key)."""
    data = (ber_tlv(0xC9, keys.enterprise_id.to_bytes(4, "big"))
            + ber_tlv(0xC0, bytes((keys.version,)))
            + ber_tlv(0xD1, keys.purchase) + ber_tlv(0xD2, keys.tac)
            + ber_tlv(0xD3, keys.credential))
    for tag, entry in ((0xD5, ota_kic), (0xD6, ota_kid)):
        if entry is not None:
            algorithm, index, key = entry
            data += ber_tlv(tag, bytes((algorithm, index)) + key)
    return data


def put_data(per_purchase_limit: int | None = None, daily_limit: int | None = None,
               app_info: bytes | None = None) -> bytes:
    data = b""
    if per_purchase_limit is not None:
        data += ber_tlv(0xC5, per_purchase_limit.to_bytes(4, "big"))
    if daily_limit is not None:
        data += ber_tlv(0xC6, daily_limit.to_bytes(4, "big"))
    if app_info is not None:
        data += ber_tlv(0xC7, app_info)
    return data
