"""smpp.sms_dcs: TP-DCS coding groups, alphabets and message classes (TS 23.038 clause 4)."""

from __future__ import annotations

import pytest

from smpp.sms_dcs import Alphabet, CodingGroup, DataCodingScheme, IndicationType, MessageClass
from smpp.sms_errors import SmsFormatError

# --- DCS (TS 23.038 4) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "alphabet", "message_class", "group", "septets"),
    [
        (0x00, Alphabet.GSM7, None, CodingGroup.GENERAL, True),
        (0x04, Alphabet.DATA_8BIT, None, CodingGroup.GENERAL, False),
        (0x08, Alphabet.UCS2, None, CodingGroup.GENERAL, False),
        (0x10, Alphabet.GSM7, MessageClass.CLASS_0, CodingGroup.GENERAL, True),
        (0x18, Alphabet.UCS2, MessageClass.CLASS_0, CodingGroup.GENERAL, False),
        (0x20, Alphabet.GSM7, None, CodingGroup.GENERAL, False),  # compressed: octets
        (0x48, Alphabet.UCS2, None, CodingGroup.AUTO_DELETION, False),
        (0x0C, Alphabet.GSM7, None, CodingGroup.GENERAL, True),  # reserved alphabet
        (0x80, Alphabet.GSM7, None, CodingGroup.RESERVED, True),
        (0xC8, Alphabet.GSM7, None, CodingGroup.MWI_DISCARD, True),
        (0xD1, Alphabet.GSM7, None, CodingGroup.MWI_STORE, True),
        (0xE2, Alphabet.UCS2, None, CodingGroup.MWI_STORE_UCS2, False),
        (0xF0, Alphabet.GSM7, MessageClass.CLASS_0, CodingGroup.DATA_CODING_CLASS, True),
        (0xF6, Alphabet.DATA_8BIT, MessageClass.CLASS_2, CodingGroup.DATA_CODING_CLASS, False),
    ],
)
def test_dcs_table(
    value: int,
    alphabet: Alphabet,
    message_class: MessageClass | None,
    group: CodingGroup,
    septets: bool,
) -> None:
    dcs = DataCodingScheme(value)
    assert (dcs.alphabet, dcs.message_class, dcs.group, dcs.septets) == (
        alphabet,
        message_class,
        group,
        septets,
    )
    assert dcs.describe()


def test_dcs_details() -> None:
    assert DataCodingScheme(0x20).compressed
    assert DataCodingScheme(0x0C).reserved and DataCodingScheme(0xF8).reserved
    assert not DataCodingScheme(0xF6).reserved
    assert DataCodingScheme(0xC8).indication == (True, IndicationType.VOICEMAIL)
    assert DataCodingScheme(0xD2).indication == (False, IndicationType.EMAIL)
    assert DataCodingScheme(0x00).indication is None
    assert DataCodingScheme(0xF6).describe() == (
        "8-bit data, class 2 (SIM specific), data coding / message class"
    )
    assert DataCodingScheme.for_alphabet(Alphabet.UCS2).value == 0x08
    assert DataCodingScheme.for_alphabet(Alphabet.DATA_8BIT, MessageClass.CLASS_2).value == 0x16
    with pytest.raises(SmsFormatError):
        DataCodingScheme(256)
