"""File control parameters returned by SELECT and STATUS (ETSI TS 102 221 11.1.1.3).

The FCP template is BER-TLV with single-octet tags and short lengths only, so it is built
with one small helper rather than a general TLV codec.
"""

from __future__ import annotations

from collections.abc import Iterable

from sim_emulator.filesystem import Df, Ef, EfStructure

# TS 102 221 11.1.1.4.9: life cycle status '05' = operational state, activated.
_LCSI_ACTIVATED = 0x05
# TS 102 221 11.1.1.4.3: file descriptor byte of a DF or ADF, data coding byte '21'.
_DF_DESCRIPTOR = 0x78
_DATA_CODING = 0x21


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV with a 1-octet tag (ISO/IEC 7816-4 5.2.2.1, short or '81' length)."""
    if len(value) < 0x80:
        return bytes((tag, len(value))) + value
    if len(value) <= 0xFF:
        return bytes((tag, 0x81, len(value))) + value
    return bytes((tag, 0x82)) + len(value).to_bytes(2, "big") + value


def _compact_security(read_ref: int, update_ref: int) -> bytes:
    # ISO 7816-4 Table 20 / TS 102 221 9.2.4: AM byte b2 = UPDATE, b1 = READ; the SC bytes
    # follow in the order of the AM bits from b7 down to b1.
    return bytes((0x03, update_ref, read_ref))


def ef_fcp(ef: Ef) -> bytes:
    """FCP of an EF (TS 102 221 11.1.1.3.2)."""
    if ef.structure is EfStructure.TRANSPARENT:
        descriptor = bytes((ef.structure.descriptor, _DATA_CODING))
    else:
        descriptor = bytes(
            (ef.structure.descriptor, _DATA_CODING, 0x00, ef.record_length, len(ef.records))
        )
    parts = [
        tlv(0x82, descriptor),
        tlv(0x83, ef.fid.to_bytes(2, "big")),
        tlv(0x8A, bytes((_LCSI_ACTIVATED,))),
        tlv(0x8C, _compact_security(ef.read.key_reference, ef.update.key_reference)),
        tlv(0x80, ef.size.to_bytes(2, "big")),
        # 11.1.1.4.8: '88' with no value means the EF has no short file identifier.
        tlv(0x88, bytes((ef.sfi << 3,)) if ef.sfi is not None else b""),
    ]
    return tlv(0x62, b"".join(parts))


def pin_status_template(pins: Iterable[tuple[int, bool]]) -> bytes:
    """PIN status template DO, tag 'C6' (TS 102 221 9.5.2): PS_DO, then each key reference.

    ``pins`` lists (key reference, enabled); PS_DO has one bit per reference, b8 first.
    """
    refs = list(pins)
    ps_do = 0
    for i, (_, enabled) in enumerate(refs):
        if enabled:
            ps_do |= 0x80 >> i
    body = tlv(0x90, bytes((ps_do,)))
    for ref, _ in refs:
        # '95 01 08': usage qualifier "user authentication, knowledge based" for each PIN.
        body += tlv(0x95, b"\x08") + tlv(0x83, bytes((ref,)))
    return tlv(0xC6, body)


def df_fcp(df: Df, pins: Iterable[tuple[int, bool]], total_size: int) -> bytes:
    """FCP of the MF, a DF or an ADF (TS 102 221 11.1.1.3.1)."""
    parts = [tlv(0x82, bytes((_DF_DESCRIPTOR, _DATA_CODING))), tlv(0x83, df.fid.to_bytes(2, "big"))]
    if df.aid is not None:
        parts.append(tlv(0x84, df.aid))
    parts += [
        # 11.1.1.4.6.1: proprietary info, UICC characteristics '71' (clock stop allowed).
        tlv(0xA5, tlv(0x80, b"\x71")),
        tlv(0x8A, bytes((_LCSI_ACTIVATED,))),
        tlv(0x8C, b"\x00"),
        pin_status_template(pins),
        tlv(0x81, total_size.to_bytes(2, "big")),
    ]
    return tlv(0x62, b"".join(parts))
