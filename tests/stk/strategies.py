"""Hypothesis strategies for stk objects, shared by the tests of this package."""

from __future__ import annotations

from hypothesis import strategies as st

from stk.commands import DisplayText, GetInput, SelectItem, SendShortMessage, SetUpMenu
from stk.ies import (
    Address,
    AlphaIdentifier,
    DefaultText,
    Duration,
    IconIdentifier,
    Item,
    ItemsNextActionIndicator,
    ResponseLength,
    TextString,
)
from stk.tags import TimeUnit
from stk.text import GSM7_BASIC, GSM7_EXTENSION, AlphaCoding

GSM_CHARS = [c for i, c in enumerate(GSM7_BASIC) if i != 0x1B] + list(GSM7_EXTENSION)
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=40)
# Any character UTF-16 can carry (no lone surrogates).
# U+FFFF is left out: trailing FFFF units are padding in the UCS2 80 form (TS 102 221 A).
any_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\uffff"),
    max_size=30,
)
octet = st.integers(0, 0xFF)

alpha_codings = st.sampled_from([None, *AlphaCoding])


@st.composite
def alpha_identifiers(draw: st.DrawFn) -> AlphaIdentifier:
    text = draw(st.one_of(gsm_text, any_text))
    return AlphaIdentifier(text, None)


@st.composite
def items(draw: st.DrawFn) -> Item:
    text = draw(st.one_of(gsm_text, any_text))
    return Item(draw(st.integers(1, 0xFF)), text)


@st.composite
def text_strings(
    draw: st.DrawFn, cls: type[TextString] | type[DefaultText] = TextString
) -> TextString | DefaultText:
    text = draw(st.one_of(gsm_text, any_text))
    return cls(text)


addresses = st.builds(
    Address,
    st.text(alphabet="0123456789*#p?", max_size=20),
    st.integers(0, 7),
    st.integers(0, 15),
)
durations = st.builds(Duration, st.integers(1, 0xFF), st.sampled_from(list(TimeUnit)))
icons = st.builds(IconIdentifier, octet, st.booleans())


@st.composite
def set_up_menus(draw: st.DrawFn) -> SetUpMenu:
    menu_items = tuple(draw(st.lists(items(), min_size=1, max_size=6)))
    actions = draw(st.none() | st.lists(octet, min_size=len(menu_items), max_size=len(menu_items)))
    return SetUpMenu(
        number=draw(octet),
        qualifier=draw(octet),
        alpha=draw(alpha_identifiers()),
        items=menu_items,
        next_actions=None if actions is None else ItemsNextActionIndicator(tuple(actions)),
        icon=draw(st.none() | icons),
    )


@st.composite
def select_items(draw: st.DrawFn) -> SelectItem:
    return SelectItem(
        number=draw(octet),
        qualifier=draw(octet),
        alpha=draw(st.none() | alpha_identifiers()),
        items=tuple(draw(st.lists(items(), min_size=1, max_size=6))),
        default_item=draw(st.none() | octet),
    )


@st.composite
def display_texts(draw: st.DrawFn) -> DisplayText:
    text = draw(text_strings())
    assert isinstance(text, TextString)
    return DisplayText(
        number=draw(octet),
        qualifier=draw(octet),
        text=text,
        icon=draw(st.none() | icons),
        immediate_response=draw(st.booleans()),
        duration=draw(st.none() | durations),
    )


@st.composite
def get_inputs(draw: st.DrawFn) -> GetInput:
    prompt = draw(text_strings())
    default = draw(st.none() | text_strings(DefaultText))
    assert isinstance(prompt, TextString)
    assert default is None or isinstance(default, DefaultText)
    return GetInput(
        number=draw(octet),
        qualifier=draw(octet),
        prompt=prompt,
        response_length=ResponseLength(draw(octet), draw(octet)),
        default_text=default,
        duration=draw(st.none() | durations),
    )


@st.composite
def send_short_messages(draw: st.DrawFn) -> SendShortMessage:
    return SendShortMessage(
        number=draw(octet),
        qualifier=draw(octet),
        alpha=draw(st.none() | alpha_identifiers()),
        address=draw(st.none() | addresses),
        tpdu=draw(st.binary(min_size=1, max_size=120)),
    )


proactive_commands = st.one_of(
    set_up_menus(), select_items(), display_texts(), get_inputs(), send_short_messages()
)
