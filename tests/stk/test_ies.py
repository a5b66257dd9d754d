"""stk.ies / stk.ie_base: simple TLV data objects, registry per container (TS 102 223 8)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stk import ies
from stk.errors import IeError, MissingIeError, StkError, TextCodingError
from stk.ie_base import IeBag, describe_tlvs, ie_class_for, registered_classes
from stk.ies import (
    UNSUPPORTED,
    Address,
    AlphaIdentifier,
    CommandDetails,
    DefaultText,
    Duration,
    GadShapes,
    Ie,
    ImpuList,
    Item,
    ItemIdentifier,
    Result,
    TextString,
    UnknownIe,
    decode_ie,
)
from stk.tags import BerTag, CommandType, Tag
from stk.text import AlphaCoding
from stk.tlv import Ctlv
from tests.stk.strategies import addresses, alpha_identifiers, items, text_strings

ALL_CLASSES = sorted(
    {c for classes in registered_classes().values() for c in classes}, key=lambda c: c.__name__
)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_examples_decode_compare_and_re_encode(cls: type[Ie]) -> None:
    assert cls.EXAMPLES, f"{cls.__name__} has no EXAMPLES"
    for value_hex, obj in cls.EXAMPLES:
        value = bytes.fromhex(value_hex)
        assert cls.decode_value(value) == obj
        assert obj.encode_value() == value
        assert decode_ie(obj.to_ctlv(), (cls.SCOPES or (None,))[0]) == obj
        assert obj.summary()


def test_every_tag_has_one_class_per_container_or_is_unsupported() -> None:
    claimed = registered_classes()
    for tag in Tag:
        classes = claimed.get(int(tag), [])
        assert bool(classes) != (tag in UNSUPPORTED), tag
        generic = [c for c in classes if not c.SCOPES]
        assert len(generic) <= 1, (tag, generic)
        # A class valid in every container leaves no room for a scoped second meaning.
        assert not (generic and len(classes) > 1), (tag, classes)
        scopes = [s for c in classes for s in c.SCOPES]
        assert len(scopes) == len(set(scopes)), (tag, classes)


def test_tag_77_means_different_objects_in_different_containers() -> None:
    assert ie_class_for(0x77, BerTag.GEOGRAPHICAL_LOCATION_REPORTING) is GadShapes
    assert ie_class_for(0x77, BerTag.EVENT_DOWNLOAD) is ImpuList
    assert ie_class_for(0x77, CommandType.SET_UP_MENU) is None
    assert ie_class_for(0x77, None) is None
    assert Tag.IMPU_LIST is Tag.GAD_SHAPES  # an alias: one value, the container decides
    assert int(Tag.IMPU_LIST) == 0x77
    tlv = Ctlv(0x77, b"\x01\x02")
    assert decode_ie(tlv, BerTag.EVENT_DOWNLOAD) == ImpuList(b"\x01\x02")
    assert decode_ie(tlv, BerTag.GEOGRAPHICAL_LOCATION_REPORTING) == GadShapes(b"\x01\x02")
    assert decode_ie(tlv, CommandType.DISPLAY_TEXT) == UnknownIe(0x77, b"\x01\x02", True)


def test_generic_objects_are_found_in_every_container() -> None:
    for scope in (None, CommandType.GET_INPUT, BerTag.MENU_SELECTION):
        assert ie_class_for(Tag.TEXT_STRING, scope) is TextString


def test_a_second_class_for_a_claimed_tag_fails_at_definition() -> None:
    with pytest.raises(TypeError, match="claimed by both"):

        @dataclasses.dataclass(frozen=True)
        class Duplicate(ies.OctetsIe, tag=Tag.SMS_TPDU):
            NAME = "duplicate"


def test_unknown_objects_are_kept_verbatim_with_their_cr_flag() -> None:
    tlv = Ctlv(0x19, b"\x05", cr=False)
    ie = decode_ie(tlv, CommandType.SET_UP_MENU)
    assert isinstance(ie, UnknownIe)
    assert ie.to_ctlv() == tlv
    assert "event list" in ie.name
    assert "may be ignored" in ie.summary()
    assert UnknownIe(0x7E, b"").name == "unknown data object"


@pytest.mark.parametrize(
    ("cls", "value"),
    [
        (CommandDetails, "0125"),
        (CommandDetails, "01250000"),
        (ies.DeviceIdentities, "81"),
        (Result, ""),
        (Duration, "0100"),  # interval 0 is reserved
        (Duration, "0705"),  # time unit 07 is reserved
        (ItemIdentifier, ""),
        (ies.ResponseLength, "01"),
        (ies.HelpRequest, "00"),
        (ies.IconIdentifier, "00"),
        (ies.ItemIconIdentifierList, ""),
        (ies.TextAttribute, "000102"),
        (Address, ""),
        (Address, "91f121"),  # filler before the last nibble
        (Address, "91e1"),  # expansion digit
        (ies.FrameIdentifier, "0102"),
    ],
)
def test_malformed_values_raise_ie_error(cls: type[Ie], value: str) -> None:
    with pytest.raises(IeError):
        cls.decode_value(bytes.fromhex(value))


@pytest.mark.parametrize(
    ("cls", "value"),
    [(TextString, "0e41"), (TextString, "084e"), (AlphaIdentifier, "81050841"), (Item, "018000")],
)
def test_undecodable_text_raises_text_coding_error(cls: type[Ie], value: str) -> None:
    with pytest.raises(TextCodingError):
        cls.decode_value(bytes.fromhex(value))


def test_out_of_range_fields_raise_ie_error() -> None:
    with pytest.raises(IeError):
        CommandDetails(256, 0x21)
    with pytest.raises(IeError):
        ItemIdentifier(-1)
    with pytest.raises(IeError):
        Address("12a")
    with pytest.raises(IeError):
        TextString("x", 0x100)
    with pytest.raises(TextCodingError):
        AlphaIdentifier("余额", AlphaCoding.GSM8).encode_value()
    with pytest.raises(TextCodingError):
        TextString("余额", 0x04).encode_value()


def test_decode_ie_names_the_object_in_errors() -> None:
    with pytest.raises(IeError, match=r"Command details \(TS 102 223 8.6\)"):
        decode_ie(Ctlv(0x01, b"\x01"), None)


def test_text_equality_ignores_the_coding_but_encoding_keeps_it() -> None:
    a = AlphaIdentifier("上下", AlphaCoding.UCS2_80)
    b = AlphaIdentifier("上下", AlphaCoding.UCS2_82)
    assert a == b
    assert a.encode_value() != b.encode_value()
    assert TextString("1234", 0x04) == TextString("1234")
    assert TextString("1234").encode_value().hex() == "0431323334"


def test_null_objects() -> None:
    assert AlphaIdentifier().encode() == bytes.fromhex("8500")
    assert Item(None).encode() == bytes.fromhex("8f00")
    assert TextString().encode() == bytes.fromhex("8d00")
    assert TextString("", 0x04).encode() == bytes.fromhex("8d0104")
    assert DefaultText.decode_value(b"") == DefaultText()


@given(alpha_identifiers())
def test_alpha_round_trip(alpha: AlphaIdentifier) -> None:
    assert AlphaIdentifier.decode_value(alpha.encode_value()) == alpha


@given(items())
def test_item_round_trip(item: Item) -> None:
    assert Item.decode_value(item.encode_value()) == item


@given(text_strings())
def test_text_string_round_trip(text: Ie) -> None:
    assert TextString.decode_value(text.encode_value()) == text


@given(addresses)
def test_address_round_trip(address: Address) -> None:
    assert Address.decode_value(address.encode_value()) == address


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@given(value=st.binary(max_size=40))
def test_random_values_raise_only_stk_errors(cls: type[Ie], value: bytes) -> None:
    try:
        obj = cls.decode_value(value)
    except StkError:
        return
    assert obj.summary()
    assert cls.decode_value(obj.encode_value()) == obj


def test_ie_bag_takes_by_exact_class() -> None:
    bag = IeBag([TextString("a"), DefaultText("b"), ItemIdentifier(1), ItemIdentifier(2)])
    assert bag.take(DefaultText) == DefaultText("b")
    assert bag.take_all(ItemIdentifier) == (ItemIdentifier(1), ItemIdentifier(2))
    assert bag.take(DefaultText) is None
    with pytest.raises(MissingIeError, match="Result"):
        bag.require(Result, "TEST")
    assert bag.rest() == (TextString("a"),)


def test_describe_tlvs_reports_malformed_objects_instead_of_raising() -> None:
    lines = describe_tlvs([Ctlv(0x01, b"\x01"), Ctlv(0x10, b"\x02")], None)
    assert lines[0].startswith("  81 01  malformed:")
    assert lines[1] == "  90 01  Item identifier: item 2"
