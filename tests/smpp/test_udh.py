"""smpp.udh: user data header IEs and concatenation (TS 23.040 9.2.3.24)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smpp.errors import UdhError
from smpp.udh import Concat, Iei, InformationElement, Udh, concat_ie


def test_ota_first_segment_header() -> None:
    # TS 31.115 4.2 with concatenation: the CPI goes in the first part only.
    udh = Udh((concat_ie(0x2A, 3, 1), InformationElement(Iei.CPI)))
    assert udh.encode().hex() == "0700032a03017000"
    assert len(udh) == 8


def test_decode_splits_header_and_payload() -> None:
    udh, rest = Udh.decode(bytes.fromhex("06080401020302") + b"text")
    assert rest == b"text"
    assert udh.concat == Concat(0x0102, 3, 2, ref16=True)


def test_out_of_range_concat_is_ignored() -> None:
    # Part 0 or part > total: the IE is ignored, not trusted (TS 23.040 9.2.3.24.1).
    assert Udh.decode(bytes.fromhex("050003010300"))[0].concat is None
    assert Udh.decode(bytes.fromhex("050003010204"))[0].concat is None
    # ... and a later valid one is still found: IE order is not fixed.
    udh, _ = Udh.decode(bytes.fromhex("0c000301030070000003070201"))
    assert udh.concat == Concat(7, 2, 1) and udh.has(Iei.CPI)


@pytest.mark.parametrize("raw", ["", "05", "0500", "050003", "03000501"])
def test_truncated_headers_raise_udh_error(raw: str) -> None:
    with pytest.raises(UdhError):
        Udh.decode(bytes.fromhex(raw))


def test_concat_ie_validates_ranges() -> None:
    with pytest.raises(UdhError):
        concat_ie(256, 2, 1)
    with pytest.raises(UdhError):
        concat_ie(1, 2, 3)


@given(
    st.lists(
        st.tuples(st.integers(0, 255), st.binary(max_size=20)).map(
            lambda t: InformationElement(*t)
        ),
        max_size=8,
    ),
    st.binary(max_size=30),
)
def test_round_trip(elements: list[InformationElement], payload: bytes) -> None:
    udh = Udh(tuple(elements))
    encoded = udh.encode()
    assert len(encoded) == len(udh)
    assert Udh.decode(encoded + payload) == (udh, payload)


@given(st.binary(max_size=64))
def test_random_input_raises_only_udh_error(raw: bytes) -> None:
    with contextlib.suppress(UdhError):
        Udh.decode(raw)
