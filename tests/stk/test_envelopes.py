"""stk.envelopes: MENU SELECTION, SMS-PP DOWNLOAD and other envelopes (TS 102 223 7)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stk.envelopes import (
    MenuSelection,
    OtherEnvelope,
    SmsPpDownload,
    decode_envelope,
    decode_envelope_apdu,
    envelope_classes,
)
from stk.errors import (
    ClassNotSupportedError,
    IeError,
    InstructionNotSupportedError,
    MissingIeError,
    StkError,
    UnsupportedObjectError,
    WrongLengthError,
)
from stk.ies import Address, ImpuList, UnknownIe
from stk.tags import BerTag, DeviceIdentity
from tests.stk.conftest import case_hex, load_cases
from tests.stk.strategies import addresses

OTA_ENVELOPES = [
    bytes.fromhex(seg["envelope_sms_pp_download"])
    for case in load_cases("ota_command")
    for seg in case["expected"].get("sms_segments") or []
]
VECTORS = [
    *case_hex("cat_envelope"),
    ("ota", OTA_ENVELOPES[0]),
    ("ota-long", max(OTA_ENVELOPES, key=len)),
]

SC = Address("8613800100500")


def test_modelled_envelopes() -> None:
    assert set(envelope_classes()) == {BerTag.MENU_SELECTION, BerTag.SMS_PP_DOWNLOAD}


def test_menu_selection_vectors() -> None:
    assert MenuSelection(item_identifier=2).encode().hex() == "d30782020181900102"
    with_help = MenuSelection(item_identifier=4, help_request=True)
    assert with_help.to_apdu().hex() == "80c200000bd309820201819001049500"
    assert decode_envelope_apdu(with_help.to_apdu()) == with_help


def test_sms_pp_download_layout() -> None:
    env = SmsPpDownload(address=SC, tpdu=bytes.fromhex("4008810156888800"))
    assert env.encode().hex() == "d11882028381860891683108100005f08b084008810156888800"
    assert (env.source, env.destination) == (DeviceIdentity.NETWORK, DeviceIdentity.UICC)
    assert decode_envelope(env.encode()) == env
    assert decode_envelope(SmsPpDownload(tpdu=b"\x40").encode()) == SmsPpDownload(tpdu=b"\x40")


def test_every_ota_segment_envelope_decodes_and_re_encodes() -> None:
    assert len(OTA_ENVELOPES) > 40
    for data in OTA_ENVELOPES:
        env = decode_envelope(data)
        assert isinstance(env, SmsPpDownload)
        assert env.address == SC
        assert env.tpdu[0] & 0x03 == 0  # SMS-DELIVER
        assert env.encode() == data
    assert max(len(d) for d in OTA_ENVELOPES) > 130  # '81 xx' length form covered


@given(addresses, st.binary(min_size=1, max_size=170))
def test_sms_pp_round_trip(address: Address, tpdu: bytes) -> None:
    env = SmsPpDownload(address=address, tpdu=tpdu)
    assert decode_envelope(env.encode()) == env
    assert decode_envelope_apdu(env.to_apdu()) == env


@given(st.integers(0, 0xFF), st.booleans())
def test_menu_selection_round_trip(item: int, help_request: bool) -> None:
    env = MenuSelection(item_identifier=item, help_request=help_request)
    assert decode_envelope(env.encode()) == env


def test_other_envelopes_keep_their_objects_in_their_own_scope() -> None:
    data = bytes.fromhex("d60b99011782028281f702aabb")
    env = decode_envelope(data)
    assert isinstance(env, OtherEnvelope)
    assert env.tag == BerTag.EVENT_DOWNLOAD
    assert env.extra[0] == UnknownIe(0x19, b"\x17", True)
    assert env.extra[2] == ImpuList(b"\xaa\xbb")
    assert (env.source, env.destination) == (DeviceIdentity.TERMINAL, DeviceIdentity.UICC)
    assert env.encode() == data
    assert "EVENT DOWNLOAD" in env.describe()[0]
    no_devices = decode_envelope(bytes.fromhex("d703a40101"))
    assert no_devices.encode() == bytes.fromhex("d703a40101")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("d0038101ff", UnsupportedObjectError),
        ("d80100", UnsupportedObjectError),
        ("d303900102", MissingIeError),  # no device identities
        ("d30482020181", MissingIeError),  # no item identifier
        ("d10482028381", MissingIeError),  # no TPDU
    ],
)
def test_malformed_envelopes(data: str, error: type[StkError]) -> None:
    with pytest.raises(error):
        decode_envelope(bytes.fromhex(data))


@pytest.mark.parametrize(
    ("apdu", "error"),
    [
        ("80c20000", WrongLengthError),
        ("00c2000003d30100", ClassNotSupportedError),
        ("8014000003d30100", InstructionNotSupportedError),
        ("80c2000004d30100", WrongLengthError),
        ("80c20000", WrongLengthError),
    ],
)
def test_malformed_envelope_apdus(apdu: str, error: type[StkError]) -> None:
    with pytest.raises(error):
        decode_envelope_apdu(bytes.fromhex(apdu))


def test_trailing_le_is_tolerated() -> None:
    apdu = bytes.fromhex("80c2000009d3078202018190010200")
    assert decode_envelope_apdu(apdu) == MenuSelection(item_identifier=2)


@pytest.mark.parametrize(("case_id", "data"), VECTORS, ids=[v[0] for v in VECTORS])
def test_truncated_and_extended_envelopes_raise_stk_error(case_id: str, data: bytes) -> None:
    for cut in range(len(data)):
        with pytest.raises(StkError):
            decode_envelope(data[:cut])
    with pytest.raises(StkError):
        decode_envelope(data + b"\x00")


@given(st.binary(max_size=300))
def test_random_input_raises_only_stk_errors(data: bytes) -> None:
    for decode in (decode_envelope, decode_envelope_apdu):
        with contextlib.suppress(StkError):
            decode(data)


@given(st.sampled_from([v[1] for v in VECTORS]), st.data())
def test_mutated_envelopes_raise_only_stk_errors(data: bytes, draw: st.DataObject) -> None:
    position = draw.draw(st.integers(0, len(data) - 1))
    mutated = data[:position] + bytes((draw.draw(st.integers(0, 0xFF)),)) + data[position + 1 :]
    try:
        env = decode_envelope(mutated)
    except StkError:
        return
    assert env.describe()


def test_known_objects_are_re_encoded_with_their_class_cr_flag() -> None:
    # Decoding is semantic: a known object sent without CR comes back with CR set, as the
    # vectors and TS 102 223 tables encode it; unknown objects keep their flag (see above).
    env = decode_envelope(bytes.fromhex("d30702020181100102"))
    assert env == MenuSelection(item_identifier=2)
    assert env.encode().hex() == "d30782020181900102"


def test_out_of_range_fields_fail_at_construction() -> None:
    with pytest.raises(IeError):
        MenuSelection(item_identifier=256)
    with pytest.raises(IeError):
        SmsPpDownload(source=-1, tpdu=b"\x00")
