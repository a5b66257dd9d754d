"""Shared constants and Hypothesis strategies for the SMS TPDU tests."""

from __future__ import annotations

import datetime as dt
import json
import pathlib

from hypothesis import strategies as st

from smpp.sms_dcs import DataCodingScheme
from smpp.sms_fields import (
    AbsoluteValidity,
    Address,
    EnhancedValidity,
    NumberingPlan,
    RelativeValidity,
    TypeOfNumber,
)
from smpp.udh import InformationElement, Udh
from stk.text import GSM7_BASIC, GSM7_EXTENSION, gsm7_length

VECTORS = pathlib.Path(__file__).parents[1] / "data" / "sim-conformance.json"
SMS_CASES = [
    c for c in json.loads(VECTORS.read_text(encoding="utf-8"))["cases"] if c["group"] == "sms_tpdu"
]
CST = dt.timezone(dt.timedelta(hours=8))
SCTS = dt.datetime(2026, 2, 14, 14, 0, 0, tzinfo=CST)
GSM_CHARS = [c for i, c in enumerate(GSM7_BASIC) if i != 0x1B] + list(GSM7_EXTENSION)


digits = st.text(alphabet="0123456789*#abc", max_size=20)
numeric_address = st.builds(
    Address,
    digits,
    st.sampled_from([t for t in TypeOfNumber if t is not TypeOfNumber.ALPHANUMERIC]),
    st.sampled_from(list(NumberingPlan)),
)
alpha_address = st.builds(
    Address,
    st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=11).filter(
        lambda t: gsm7_length(t) <= 11
    ),
    st.just(TypeOfNumber.ALPHANUMERIC),
    st.sampled_from(list(NumberingPlan)),
)
addresses = st.one_of(numeric_address, alpha_address)
zones = st.integers(-79, 79).map(lambda q: dt.timezone(dt.timedelta(minutes=15 * q)))
times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=zones
).map(lambda t: t.replace(microsecond=0))
validities = st.one_of(
    st.none(),
    st.builds(RelativeValidity, st.integers(0, 255)),
    st.builds(AbsoluteValidity, times),
    st.builds(EnhancedValidity, st.binary(min_size=7, max_size=7)),
)
information_elements = st.builds(InformationElement, st.integers(0, 255), st.binary(max_size=8))
headers = st.one_of(
    st.none(), st.lists(information_elements, max_size=3).map(lambda ies: Udh(tuple(ies)))
)


@st.composite
def user_data(draw: st.DrawFn, dcs_values: st.SearchStrategy[int]) -> tuple[int, Udh | None, bytes]:
    dcs = draw(dcs_values)
    udh = draw(headers)
    scheme = DataCodingScheme(dcs)
    header = len(udh) if udh is not None else 0
    if scheme.septets:
        room = 160 - (header * 8 + 6) // 7
        payload = draw(st.binary(max_size=room).map(lambda b: bytes(x & 0x7F for x in b)))
    else:
        payload = draw(st.binary(max_size=140 - header))
    return dcs, udh, payload
