"""The card's answer to reset (ISO/IEC 7816-3 clause 8, ETSI TS 102 221 clause 6.3).

    3B        TS: direct convention
    9F        T0: TA1 and TD1 follow, 15 historical bytes
    96        TA1: Fi = 512, Di = 32 (TS 102 221 6.3.1: at least Fi/Di 512/32 for a UICC)
    80        TD1: TD2 follows, T=0
    81        TD2: TD3 follows, T=1
    1F        TD3: TA4 follows, T=15 (global interface bytes)
    C7        TA4: clock stop allowed, class A, B and C supply voltages (TS 102 221 6.3.3)
    80 ...    historical bytes in compact-TLV (ISO 7816-4 8.1.1): card service data 31 E0,
              card capabilities 73 FE 21 1B, pre-issuing data 64 "ONEC", status 82 90 00
    TCK       XOR of T0 .. the last historical byte (present because T=1/T=15 are indicated)
"""

from __future__ import annotations

from functools import reduce

_BODY = bytes.fromhex("9F9680811FC7" "8031E073FE211B644F4E4543829000")


def _tck(body: bytes) -> int:
    return reduce(lambda a, b: a ^ b, body, 0)


ATR = b"\x3b" + _BODY + bytes((_tck(_BODY),))
