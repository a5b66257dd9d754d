"""stk.commands: proactive commands, both directions (TS 102 223 6.6)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stk.commands import (
    DisplayText,
    GetInput,
    OtherCommand,
    ProactiveCommand,
    SelectItem,
    SendShortMessage,
    SetUpMenu,
    command_classes,
    decode_proactive_command,
)
from stk.errors import IeError, MissingIeError, StkError, TlvError, UnsupportedObjectError
from stk.ies import (
    AlphaIdentifier,
    Duration,
    Item,
    ResponseLength,
    TextString,
    UnknownIe,
)
from stk.tags import CommandType, DeviceIdentity, GeneralResult
from tests.stk.conftest import case_hex
from tests.stk.strategies import proactive_commands

VECTORS = case_hex("cat_proactive")


@given(proactive_commands)
def test_round_trip(cmd: ProactiveCommand) -> None:
    encoded = cmd.encode()
    decoded = decode_proactive_command(encoded)
    assert decoded == cmd
    assert decoded.encode() == encoded


@given(proactive_commands)
def test_describe_names_every_object(cmd: ProactiveCommand) -> None:
    lines = cmd.describe()
    assert lines[0].startswith("D0 ")
    assert len(lines) == 1 + len(cmd.ies())
    assert not any("malformed" in line for line in lines)


def test_the_five_commands_are_modelled() -> None:
    assert set(command_classes()) == {
        CommandType.SET_UP_MENU,
        CommandType.SELECT_ITEM,
        CommandType.DISPLAY_TEXT,
        CommandType.GET_INPUT,
        CommandType.SEND_SHORT_MESSAGE,
    }


def test_default_devices() -> None:
    text = TextString("hi")
    assert DisplayText(text=text).destination == DeviceIdentity.DISPLAY
    assert SendShortMessage(tpdu=b"\x01").destination == DeviceIdentity.NETWORK
    menu = SetUpMenu(alpha=AlphaIdentifier("m"), items=(Item(1, "a"),))
    assert (menu.source, menu.destination) == (DeviceIdentity.UICC, DeviceIdentity.TERMINAL)


def test_removal_menu_is_the_vector_of_pub_cat_005() -> None:
    assert SetUpMenu.removal(2).encode().hex() == "d00d81030225008202818285008f00"


def test_qualifier_flags() -> None:
    menu = SetUpMenu(qualifier=0x80, alpha=AlphaIdentifier("m"), items=(Item(1, "a"),))
    assert menu.help_available
    shown = DisplayText(qualifier=0x81, text=TextString("x"))
    assert shown.high_priority and shown.wait_for_user
    pin = GetInput(qualifier=0x04, prompt=TextString("PIN"), response_length=ResponseLength(4, 8))
    assert pin.digits_only and pin.hidden and not pin.ucs2 and not pin.packed
    assert SendShortMessage(qualifier=1, tpdu=b"\x01").packing_required
    assert SelectItem(qualifier=0x80, items=(Item(1, "a"),)).help_available


def test_long_command_uses_the_two_octet_length() -> None:
    items = tuple(Item(i, f"Item number {i}") for i in range(1, 12))
    encoded = SetUpMenu(alpha=AlphaIdentifier("Menu"), items=items).encode()
    assert encoded[:2] == b"\xd0\x81"
    assert encoded[2] == len(encoded) - 3
    assert decode_proactive_command(encoded).encode() == encoded


def test_unmodelled_objects_are_kept_in_order() -> None:
    base = bytes.fromhex("8103042180820281028d0504") + b"Hi!!"
    # an unknown tag 7E (CR clear) and a tone '8E' that DISPLAY TEXT does not define
    extra = bytes.fromhex("7e02abcd8e0101")
    data = bytes((0xD0, len(base + extra))) + base + extra
    cmd = decode_proactive_command(data)
    assert isinstance(cmd, DisplayText)
    assert cmd.extra == (UnknownIe(0x7E, b"\xab\xcd", False), UnknownIe(0x0E, b"\x01", True))
    assert cmd.encode() == data


def test_objects_in_another_order_decode_to_the_same_command() -> None:
    ordered = bytes.fromhex("8103052304820281828d0a04456e7465722050494e91020408")
    shuffled = bytes.fromhex("910204088d0a04456e7465722050494e810305230482028182")
    a = decode_proactive_command(b"\xd0\x19" + ordered)
    b = decode_proactive_command(b"\xd0\x19" + shuffled)
    assert a == b
    assert b.encode() == b"\xd0\x19" + ordered


def test_other_command_types_decode_generically() -> None:
    data = bytes.fromhex("d00e81030120008202818285035a5a5a")
    cmd = decode_proactive_command(data)
    assert isinstance(cmd, OtherCommand)
    assert cmd.command_type == CommandType.PLAY_TONE
    assert cmd.encode() == data
    assert "PLAY TONE" in cmd.describe()[0]
    unknown_type = decode_proactive_command(
        bytes.fromhex("d009810301ee00820281 82".replace(" ", ""))
    )
    assert unknown_type.command_type == 0xEE
    assert "EE" in unknown_type.describe()[0]


@pytest.mark.parametrize(
    ("hex_data", "error", "general"),
    [
        ("d0058202818285", TlvError, GeneralResult.COMMAND_DATA_NOT_UNDERSTOOD),
        ("d00482028182", MissingIeError, GeneralResult.REQUIRED_VALUES_MISSING),  # no details
        ("d005810301210080", TlvError, GeneralResult.COMMAND_DATA_NOT_UNDERSTOOD),
        ("d00581030121 00".replace(" ", ""), MissingIeError, GeneralResult.REQUIRED_VALUES_MISSING),
        ("d009810301210082028102", MissingIeError, GeneralResult.REQUIRED_VALUES_MISSING),
        ("d00d8103012500820281828501418f00", TlvError, GeneralResult.COMMAND_DATA_NOT_UNDERSTOOD),
        ("d00c81030125008202818285014100", TlvError, GeneralResult.COMMAND_DATA_NOT_UNDERSTOOD),
        ("d00c810301250082028182850141", MissingIeError, GeneralResult.REQUIRED_VALUES_MISSING),
        ("d0118103012500820281828501418f008f0101", MissingIeError, 0x36),
        ("d00b8103011300820281838500", MissingIeError, 0x36),
        ("d30100", UnsupportedObjectError, GeneralResult.COMMAND_TYPE_NOT_UNDERSTOOD),
    ],
)
def test_malformed_commands(hex_data: str, error: type[StkError], general: int) -> None:
    with pytest.raises(error) as info:
        decode_proactive_command(bytes.fromhex(hex_data))
    assert info.value.general_result == general


@pytest.mark.parametrize(("case_id", "data"), VECTORS, ids=[v[0] for v in VECTORS])
def test_every_truncation_and_extension_of_a_vector_raises_stk_error(
    case_id: str, data: bytes
) -> None:
    for cut in range(len(data)):
        with pytest.raises(StkError):
            decode_proactive_command(data[:cut])
    for tail in (b"\x00", b"\x90\x00", data):
        with pytest.raises(StkError):
            decode_proactive_command(data + tail)


@given(st.sampled_from([v[1] for v in VECTORS]), st.data())
def test_mutated_vectors_raise_only_stk_errors(data: bytes, draw: st.DataObject) -> None:
    position = draw.draw(st.integers(0, len(data) - 1))
    value = draw.draw(st.integers(0, 0xFF))
    mutated = data[:position] + bytes((value,)) + data[position + 1 :]
    try:
        cmd = decode_proactive_command(mutated)
    except StkError:
        return
    assert cmd.describe()
    assert decode_proactive_command(cmd.encode()) == cmd


@given(st.binary(max_size=300))
def test_random_input_raises_only_stk_errors(data: bytes) -> None:
    for candidate in (data, b"\xd0" + bytes((len(data) & 0x7F,)) + data[:127]):
        with contextlib.suppress(StkError):
            decode_proactive_command(candidate)


def test_duration_and_immediate_response_order_of_pub_cat_011() -> None:
    cmd = DisplayText(number=4, text=TextString("Please wait", 0x04), duration=Duration(5))
    assert cmd.encode().hex() == "d01b8103042100820281028d0c04506c65617365207761697484020105"


def test_out_of_range_fields_fail_at_construction() -> None:
    with pytest.raises(IeError):
        DisplayText(number=256, text=TextString("x"))
    with pytest.raises(IeError):
        SelectItem(items=(Item(1, "a"),), default_item=300)
    with pytest.raises(IeError):
        OtherCommand(type_of_command=0x100)
