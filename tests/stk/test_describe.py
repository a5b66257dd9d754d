"""stk.describe: recognising any CAT object or APDU for ``onecard decode``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stk.commands import SetUpMenu
from stk.describe import decode_any, describe
from stk.envelopes import MenuSelection
from stk.errors import StkError, UnsupportedObjectError
from stk.terminal_profile import TerminalProfile
from stk.terminal_response import TerminalResponse
from tests.stk.conftest import load_cases

CASES = load_cases("cat_proactive", "cat_envelope", "cat_terminal_response")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_every_vector_and_its_apdu_form_is_described(case: dict[str, Any]) -> None:
    expected = case["expected"]
    forms = [expected["hex"], expected.get("apdu"), expected.get("fetch_response")]
    for form in filter(None, forms):
        lines = describe(bytes.fromhex(form))
        assert len(lines) >= 3
        assert not any("malformed" in line or "not decoded" in line for line in lines)


def test_kinds() -> None:
    assert isinstance(decode_any(bytes.fromhex("d00d81030225008202818285008f00")), SetUpMenu)
    assert isinstance(decode_any(bytes.fromhex("d30782020181900102")), MenuSelection)
    assert isinstance(decode_any(bytes.fromhex("810301250082028281830100")), TerminalResponse)
    assert isinstance(decode_any(bytes.fromhex("8010000002ff1f")), TerminalProfile)
    assert decode_any(bytes.fromhex("801200001b")) == 0x1B
    assert describe(bytes.fromhex("801200001b")) == [
        "80 12 00 00 1B  FETCH APDU",
        "  fetch 27 octets",
    ]


def test_menu_description() -> None:
    lines = describe(
        bytes.fromhex(
            "d02f8103012500820281828507804e005361901a8f0a0181060891b0bbb0bdc18f070282024e0a80818f06038095e87981"
        )
    )
    assert lines[0] == "D0 2F  Proactive command: SET UP MENU (25)"
    assert lines[3] == "  85 07  Alpha identifier: '一卡通' (UCS2 '80')"
    assert lines[4] == "  8F 0A  Item: 1: 'Баланс' (UCS2 '81')"
    assert lines[5] == "  8F 07  Item: 2: '上下' (UCS2 '82')"


@pytest.mark.parametrize("data", ["", "42", "d0"])
def test_unrecognised_or_broken(data: str) -> None:
    with pytest.raises(StkError):
        describe(bytes.fromhex(data))
    if data in ("", "42"):
        with pytest.raises(UnsupportedObjectError):
            decode_any(bytes.fromhex(data))


@given(st.binary(max_size=200))
def test_random_input_raises_only_stk_errors(data: bytes) -> None:
    try:
        lines = describe(data)
    except StkError:
        return
    assert lines
