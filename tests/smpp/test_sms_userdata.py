"""smpp.sms_userdata: TP-UDL and TP-UD with UDH and fill bits (TS 23.040 9.2.3.16, 9.2.3.24),
and the text a payload carries."""

from __future__ import annotations

import pytest

from smpp.sms import (
    SmsDeliver,
    SmsSubmit,
)
from smpp.sms_errors import SmsFormatError, UnsupportedCodingError
from smpp.sms_fields import (
    Address,
)
from smpp.udh import Concat, InformationElement, Udh, concat_ie
from tests.smpp.sms_strategies import (
    SCTS,
    SMS_CASES,
)


def test_compressed_user_data_is_refused_clearly() -> None:
    deliver = SmsDeliver(Address("10658888"), SCTS, dcs=0x20, payload=b"\xff\x00\x81")
    assert deliver.udl == 3  # octets, not septets (TS 23.040 9.2.3.16)
    decoded = SmsDeliver.decode(deliver.encode())
    assert decoded.payload == b"\xff\x00\x81"
    with pytest.raises(UnsupportedCodingError, match="compressed"):
        _ = decoded.text


def test_eight_bit_and_national_shift_have_no_text() -> None:
    with pytest.raises(UnsupportedCodingError):
        _ = SmsDeliver(Address("1"), SCTS, dcs=0xF6, payload=b"\x01").text
    shift = Udh((InformationElement(0x25, b"\x01"),))
    with pytest.raises(UnsupportedCodingError, match="national language"):
        _ = SmsDeliver(Address("1"), SCTS, udh=shift, payload=b"\x01").text


def test_reserved_dcs_reads_as_gsm7() -> None:
    assert SmsDeliver(Address("1"), SCTS, dcs=0x8C, payload=b"Hi").text == "Hi"


# --- user data: 7-bit with UDH and fill bits ------------------------------------------------


@pytest.mark.parametrize(
    ("udh", "fill"),
    [
        (Udh(()), 6),  # UDHL only: 8 bits, padded to 2 septets
        (Udh((concat_ie(1, 2, 1),)), 1),  # 6 octets: 48 bits + 1 = 7 septets
        (Udh((concat_ie(1, 2, 1, ref16=True),)), 0),  # 7 octets: exactly 8 septets
        (Udh((InformationElement(0x70),)), 4),  # 3 octets: 24 bits + 4 = 4 septets
    ],
)
def test_fill_bits(udh: Udh, fill: int) -> None:
    deliver = SmsDeliver(Address("1"), SCTS, udh=udh, payload=b"Hello")
    assert deliver.fill_bits == fill
    assert deliver.udl == (len(udh) * 8 + fill) // 7 + 5
    again = SmsDeliver.decode(deliver.encode())
    assert again == deliver and again.text == "Hello"


def test_vector_008_fill_bit_in_detail() -> None:
    case = next(c for c in SMS_CASES if c["id"] == "pub-sms-008")
    tpdu = SmsDeliver.decode(bytes.fromhex(case["expected"]["tpdu"]))
    assert tpdu.fill_bits == 1 and tpdu.udl == 34
    assert tpdu.concat == Concat(0x12, 1, 1)


def test_user_data_limits_on_encode() -> None:
    SmsSubmit(Address("1"), payload=b"a" * 160).encode()
    with pytest.raises(SmsFormatError):
        SmsSubmit(Address("1"), payload=b"a" * 161).encode()
    SmsSubmit(Address("1"), dcs=0x04, payload=bytes(140)).encode()
    with pytest.raises(SmsFormatError):
        SmsSubmit(Address("1"), dcs=0x04, payload=bytes(141)).encode()
    with pytest.raises(SmsFormatError):
        SmsSubmit(Address("1"), payload=b"\x80").encode()
    udh = Udh((concat_ie(1, 2, 1),))
    SmsSubmit(Address("1"), udh=udh, payload=b"a" * 153).encode()
    with pytest.raises(SmsFormatError):
        SmsSubmit(Address("1"), udh=udh, payload=b"a" * 154).encode()
