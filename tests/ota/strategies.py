"""Key sets and Hypothesis strategies shared by the ota tests."""

from __future__ import annotations

from hypothesis import strategies as st

from ota.keys import OtaKeyset
from ota.spi import (
    CounterMode,
    Integrity,
    KicAlgorithm,
    KidCcAlgorithm,
    KidRcAlgorithm,
    PorRequest,
    PorTransport,
    Spi,
)

KIC_LENGTHS = {
    KicAlgorithm.DES_CBC: (8,),
    KicAlgorithm.DES_ECB: (8,),
    KicAlgorithm.TDES_2KEY_CBC: (16,),
    KicAlgorithm.TDES_3KEY_CBC: (24,),
    KicAlgorithm.AES_CBC: (16, 24, 32),
}
KID_LENGTHS = {
    KidCcAlgorithm.DES_CBC_MAC: (8,),
    KidCcAlgorithm.TDES_2KEY_CBC_MAC: (16,),
    KidCcAlgorithm.TDES_3KEY_CBC_MAC: (24,),
    KidCcAlgorithm.AES_CMAC: (16, 24, 32),
}


def keyset(kic: KicAlgorithm = KicAlgorithm.AES_CBC, kid: KidCcAlgorithm = KidCcAlgorithm.AES_CMAC,
           index: int = 1, length: int | None = None,
           rc: KidRcAlgorithm = KidRcAlgorithm.CRC32) -> OtaKeyset:
    kic_len = length if length and length in KIC_LENGTHS[kic] else KIC_LENGTHS[kic][0]
    kid_len = length if length and length in KID_LENGTHS[kid] else KID_LENGTHS[kid][0]
    return OtaKeyset(kic, index, bytes(range(1, kic_len + 1)), kid, index,
                     bytes(range(0x41, 0x41 + kid_len)), rc)


@st.composite
def keysets(draw: st.DrawFn) -> OtaKeyset:
    kic = draw(st.sampled_from(sorted(KIC_LENGTHS)))
    kid = draw(st.sampled_from(sorted(KID_LENGTHS)))
    kic_len = draw(st.sampled_from(KIC_LENGTHS[kic]))
    kic_key = draw(st.binary(min_size=kic_len, max_size=kic_len))
    kid_len = draw(st.sampled_from(KID_LENGTHS[kid]))
    kid_key = draw(st.binary(min_size=kid_len, max_size=kid_len))
    return OtaKeyset(kic, draw(st.integers(0, 15)), kic_key, kid, draw(st.integers(0, 15)),
                     kid_key, draw(st.sampled_from([KidRcAlgorithm.CRC16, KidRcAlgorithm.CRC32])))


# SPIs the sending side can build: every field except DS (no signature algorithm is defined).
spis = st.builds(
    Spi,
    counter=st.sampled_from(CounterMode),
    ciphering=st.booleans(),
    integrity=st.sampled_from([Integrity.NONE, Integrity.RC, Integrity.CC]),
    por=st.sampled_from(PorRequest),
    por_integrity=st.sampled_from([Integrity.NONE, Integrity.RC, Integrity.CC]),
    por_ciphering=st.booleans(),
    por_transport=st.sampled_from(PorTransport),
)
