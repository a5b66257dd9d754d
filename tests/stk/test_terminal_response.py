"""stk.terminal_response: TERMINAL RESPONSE in both roles (TS 102 223 6.8)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stk.commands import DisplayText, GetInput, SelectItem
from stk.errors import IeError, MissingIeError, StkError, TlvError
from stk.ies import CommandDetails, Duration, Item, ResponseLength, Result, TextString, UnknownIe
from stk.tags import CommandType, DeviceIdentity, GeneralResult, TerminalProblem
from stk.terminal_response import (
    TerminalResponse,
    decode_terminal_response,
    decode_terminal_response_apdu,
)
from tests.stk.conftest import case_hex
from tests.stk.strategies import octet, text_strings

VECTORS = case_hex("cat_terminal_response")


def test_answer_copies_the_command_details() -> None:
    cmd = SelectItem(number=3, items=(Item(1, "a"), Item(2, "b")))
    tr = TerminalResponse.answer(cmd, item_identifier=2)
    assert tr.encode().hex() == "810303240082028281830100900102"
    assert tr.answers(cmd)
    assert not tr.answers(SelectItem(number=4, items=cmd.items))


def test_busy_screen_vector() -> None:
    cmd = DisplayText(number=4, qualifier=0x81, text=TextString("x"))
    busy = bytes((TerminalProblem.SCREEN_BUSY,))
    tr = TerminalResponse.answer(cmd, GeneralResult.TERMINAL_UNABLE_TO_PROCESS, busy)
    assert tr.to_apdu().hex() == "801400000d81030421818202828183022001"
    assert decode_terminal_response_apdu(tr.to_apdu()) == tr
    assert "screen busy" in tr.describe()[3]
    assert not tr.result.performed


@pytest.mark.parametrize(
    ("qualifier", "text", "expected"),
    [
        (0x04, "1234", "8d050431323334"),  # digits, unpacked
        (0x03, "一百", "8d05084e00767e"),  # UCS2 alphabet
        (0x09, "12345678", "8d080031d98c56b3dd70"),  # packed SMS format
    ],
)
def test_input_answer_codes_the_text_as_the_qualifier_asks(
    qualifier: int, text: str, expected: str
) -> None:
    cmd = GetInput(
        number=5, qualifier=qualifier, prompt=TextString("?"), response_length=ResponseLength(1, 9)
    )
    tr = TerminalResponse.input_answer(cmd, text)
    assert tr.encode().hex().endswith(expected)
    assert decode_terminal_response(tr.encode()).text == TextString(text)


@given(
    octet,
    st.sampled_from(list(CommandType)),
    octet,
    st.sampled_from(list(GeneralResult)),
    st.binary(max_size=3),
    st.none() | text_strings(),
    st.none() | octet,
    st.none() | st.builds(Duration, st.integers(1, 0xFF)),
)
def test_round_trip(
    number: int,
    kind: CommandType,
    qualifier: int,
    general: GeneralResult,
    additional: bytes,
    text: TextString | None,
    item: int | None,
    duration: Duration | None,
) -> None:
    tr = TerminalResponse(
        command=CommandDetails(number, kind, qualifier),
        result=Result(general, additional),
        text=text,
        item_identifier=item,
        duration=duration,
    )
    assert decode_terminal_response(tr.encode()) == tr
    assert decode_terminal_response_apdu(tr.to_apdu()) == tr


def test_other_objects_are_kept() -> None:
    data = bytes.fromhex("810301260082028281830100") + bytes.fromhex("9303aabbcc")
    tr = decode_terminal_response(data)
    assert tr.extra == (UnknownIe(0x13, b"\xaa\xbb\xcc"),)
    assert tr.encode() == data
    assert (tr.source, tr.destination) == (DeviceIdentity.TERMINAL, DeviceIdentity.UICC)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("82028281830100", MissingIeError),
        ("8103012100830100", MissingIeError),
        ("81030121008202828183", TlvError),
        ("8103012100820282818300", Exception),
        ("810301210082028281", MissingIeError),
    ],
)
def test_malformed_responses(data: str, error: type[Exception]) -> None:
    with pytest.raises(StkError):
        decode_terminal_response(bytes.fromhex(data))
    with pytest.raises(error):
        decode_terminal_response(bytes.fromhex(data))


@pytest.mark.parametrize(("case_id", "data"), VECTORS, ids=[v[0] for v in VECTORS])
def test_truncations_raise_stk_error_or_drop_whole_objects(case_id: str, data: bytes) -> None:
    # A bare TLV list cut at an object boundary is a shorter valid list; anywhere else the
    # decoder must fail with our error.
    for cut in range(len(data)):
        try:
            tr = decode_terminal_response(data[:cut])
        except StkError:
            continue
        assert data.startswith(tr.encode())
    with pytest.raises(StkError):
        decode_terminal_response(data + b"\x00")


@given(st.binary(max_size=200))
def test_random_input_raises_only_stk_errors(data: bytes) -> None:
    for decode in (decode_terminal_response, decode_terminal_response_apdu):
        with contextlib.suppress(StkError):
            decode(data)


def test_out_of_range_item_fails_at_construction() -> None:
    with pytest.raises(IeError):
        TerminalResponse(command=CommandDetails(1, 0x24), result=Result(0), item_identifier=256)
