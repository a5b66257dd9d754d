"""Checks of the ``sms_tpdu`` conformance cases, and of the TPDU columns of the OTA cases.

``check_case(case)`` takes one ``sms_tpdu`` case of tests/data/sim-conformance.json (schema in
tests/data/sim-conformance.SCHEMA.md) and returns failure descriptions (empty: pass). Both
directions are exercised:

- the receiving side decodes ``expected.tpdu`` and must recover every ``expected`` value (kind,
  text, TP-UDL, fill bits, the OTA packet it carries);
- the sending side must rebuild the exact bytes: from the decoded fields, from the input text
  with our own text coder, and, for parts of a long text, from the whole text through
  segmentation.

``check_ota_tpdus(case)`` checks the SMS-DELIVER, SMS-DELIVER-REPORT and SMS-SUBMIT columns of
``ota_command`` / ``ota_response`` / ``ota_upstream_kat`` cases, which the ``ota`` checker
leaves to this package. The ``pysim`` block is diagnostic and never checked here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from smpp.errors import SmppError
from smpp.sms import (
    Direction,
    SmsCommand,
    SmsDeliver,
    SmsDeliverReport,
    SmsStatusReport,
    SmsSubmit,
    SmsSubmitReport,
    Tpdu,
    build_delivers,
    build_submits,
    decode_tpdu,
)
from smpp.sms_dcs import Alphabet
from smpp.sms_fields import Address, TypeOfNumber
from smpp.sms_userdata import UserDataMixin
from smpp.text import Coding, encode_text

Case = dict[str, Any]
GROUPS = ("sms_tpdu",)

# The schema names deliver and submit; the report kinds are accepted for vector files that
# add them (the decoder handles every TPDU of TS 23.040 9.2.2).
_KINDS: dict[str, tuple[Direction, type[Tpdu]]] = {
    "deliver": (Direction.SC_TO_MS, SmsDeliver),
    "submit": (Direction.MS_TO_SC, SmsSubmit),
    "deliver_report": (Direction.MS_TO_SC, SmsDeliverReport),
    "submit_report": (Direction.SC_TO_MS, SmsSubmitReport),
    "status_report": (Direction.SC_TO_MS, SmsStatusReport),
    "command": (Direction.MS_TO_SC, SmsCommand),
}


def check_case(case: Case) -> list[str]:
    """Failure descriptions for one ``sms_tpdu`` case; empty when it passes."""
    expected = case.get("expected") or {}
    kind = expected.get("kind")
    if kind not in _KINDS:
        return [f"expected.kind {kind!r} is not one of {', '.join(_KINDS)}"]
    try:
        raw = bytes.fromhex(expected["tpdu"])
    except (KeyError, TypeError, ValueError) as exc:
        return [f"expected.tpdu is missing or not hex: {exc}"]
    direction, cls = _KINDS[kind]
    try:
        tpdu = decode_tpdu(raw, direction)
    except SmppError as exc:
        return [f"decode: {type(exc).__name__}: {exc}"]
    if not isinstance(tpdu, cls):
        return [f"decoded as {type(tpdu).__name__}, expected {cls.__name__}"]
    failures = _guarded("re-encode", lambda: _check_reencode(tpdu, raw))
    if isinstance(tpdu, UserDataMixin):
        failures += _guarded("expected fields", lambda: _check_expected(tpdu, expected))
    if not isinstance(tpdu, SmsDeliver | SmsSubmit):
        return failures
    fields = (case.get("input") or {}).get("fields") or {}
    failures += _guarded("input fields", lambda: _check_input(tpdu, fields))
    failures += _guarded("build from text", lambda: _check_text_build(tpdu, raw, fields))
    failures += _guarded("segmentation", lambda: _check_segment_build(tpdu, raw, fields))
    return failures


def _guarded(what: str, check: Callable[[], list[str]]) -> list[str]:
    try:
        return check()
    except SmppError as exc:
        return [f"{what}: {type(exc).__name__}: {exc}"]


def _check_reencode(tpdu: Tpdu, raw: bytes) -> list[str]:
    again = tpdu.encode()
    if again != raw:
        return [f"re-encoded TPDU differs: {again.hex()}"]
    return []


def _mismatch(what: str, got: object, want: object) -> list[str]:
    return [] if got == want else [f"{what}: got {got!r}, expected {want!r}"]


def _check_expected(tpdu: UserDataMixin, expected: Case) -> list[str]:
    failures: list[str] = []
    if "text" in expected:
        failures += _mismatch("text", tpdu.text, expected["text"])
    if "udl_septets" in expected:
        if not tpdu.coding.septets:
            failures.append("udl_septets given but TP-DCS does not code septets")
        failures += _mismatch("TP-UDL (septets)", tpdu.udl, expected["udl_septets"])
    if "udl_octets" in expected:
        octets = len(tpdu.user_data) if tpdu.coding.septets else tpdu.udl
        failures += _mismatch("TP-UDL (octets)", octets, expected["udl_octets"])
    if "fill_bits" in expected:
        failures += _mismatch("fill bits", tpdu.fill_bits, expected["fill_bits"])
    if "command_packet" in expected:
        failures += _mismatch("command packet", tpdu.payload.hex(), expected["command_packet"])
    if "response_tp_ud" in expected:
        failures += _mismatch("TP-UD", tpdu.user_data.hex(), expected["response_tp_ud"])
    if "udh_ies" in expected:
        elements = tpdu.udh.elements if tpdu.udh is not None else ()
        ies = [{"iei": ie.iei, "value": ie.data.hex()} for ie in elements]
        failures += _mismatch("UDH IEs", ies, expected["udh_ies"])
    return failures


def _octet_field(value: object) -> object:
    """Input octets are JSON numbers; a hex string is read as well."""
    return int(value, 16) if isinstance(value, str) else value


def _check_address(what: str, address: Address, given: object) -> list[str]:
    """The digits (or name) must match; a leading '+' must come out as international."""
    text = str(given)
    failures = _mismatch(what, address.number, text.removeprefix("+"))
    if text.startswith("+") and address.ton is not TypeOfNumber.INTERNATIONAL:
        failures.append(f"{what}: {text} is international, TON is {address.ton.name}")
    return failures


def _check_input(tpdu: SmsDeliver | SmsSubmit, fields: Case) -> list[str]:
    failures: list[str] = []
    for key in ("pid", "dcs"):
        if key in fields:
            want = _octet_field(fields[key])
            failures += _mismatch(f"TP-{key.upper()}", getattr(tpdu, key), want)
    if "oa" in fields and isinstance(tpdu, SmsDeliver):
        failures += _check_address("TP-OA", tpdu.originator, fields["oa"])
    if "da" in fields and isinstance(tpdu, SmsSubmit):
        failures += _check_address("TP-DA", tpdu.destination, fields["da"])
    return failures


def _text_coding(tpdu: SmsDeliver | SmsSubmit) -> Coding | None:
    if tpdu.coding.compressed:
        return None
    return {Alphabet.GSM7: Coding.GSM7, Alphabet.UCS2: Coding.UCS2}.get(tpdu.coding.alphabet)


def _check_text_build(tpdu: SmsDeliver | SmsSubmit, raw: bytes, fields: Case) -> list[str]:
    """Our text coder must produce the same user data from the input text."""
    coding = _text_coding(tpdu)
    if "text" not in fields or coding is None:
        return []
    rebuilt = dataclasses.replace(tpdu, payload=encode_text(fields["text"], coding))
    encoded = rebuilt.encode()
    return [] if encoded == raw else [f"TPDU built from input text differs: {encoded.hex()}"]


def _check_segment_build(tpdu: SmsDeliver | SmsSubmit, raw: bytes, fields: Case) -> list[str]:
    """A part of a long text must come out of segmenting the whole text."""
    needed = ("full_text", "part", "parts", "concat_ref")
    if any(key not in fields for key in needed):
        return []
    part, parts = int(fields["part"]), int(fields["parts"])
    concat = tpdu.concat
    ref16 = concat.ref16 if concat is not None else False
    coding = _text_coding(tpdu)
    built: tuple[SmsDeliver, ...] | tuple[SmsSubmit, ...]
    if isinstance(tpdu, SmsSubmit):
        built = build_submits(
            fields["full_text"],
            tpdu.destination,
            int(fields["concat_ref"]),
            message_reference=(tpdu.message_reference - (part - 1)) % 256,
            ref16=ref16,
            coding=coding,
            validity=tpdu.validity,
            status_report_request=tpdu.status_report_request,
            pid=tpdu.pid,
        )
    else:
        built = build_delivers(
            fields["full_text"],
            tpdu.originator,
            int(fields["concat_ref"]),
            scts=tpdu.scts,
            ref16=ref16,
            coding=coding,
            pid=tpdu.pid,
            more_messages_waiting=tpdu.more_messages_waiting,
        )
    if len(built) != parts:
        return [f"segmentation made {len(built)} parts, expected {parts}"]
    encoded = built[part - 1].encode()
    if encoded != raw:
        return [f"part {part}/{parts} built from full text differs: {encoded.hex()}"]
    return []


# --- TPDU columns of the OTA groups -----------------------------------------------------------

_SMS_PP = {"pid": 0x7F, "dcs": 0xF6}  # (U)SIM data download, 8-bit class 2 (TS 31.111 7.1)


def check_ota_tpdus(case: Case) -> list[str]:
    """Check every SMS TPDU column of an OTA case (see the module docstring)."""
    expected = case.get("expected") or {}
    failures: list[str] = []
    for index, segment in enumerate(expected.get("sms_segments") or ()):
        if "sms_deliver_tpdu" in segment:
            failures += _check_ota_tpdu(
                f"sms_segments[{index}].sms_deliver_tpdu",
                segment["sms_deliver_tpdu"],
                Direction.SC_TO_MS,
                SmsDeliver,
                segment.get("tp_ud"),
            )
    ud = expected.get("response_tp_ud")
    for column, direction, cls in (
        ("sms_deliver_report_rp_ack_tpdu", Direction.MS_TO_SC, SmsDeliverReport),
        ("sms_submit_tpdu", Direction.MS_TO_SC, SmsSubmit),
    ):
        if expected.get(column):
            failures += _check_ota_tpdu(column, expected[column], direction, cls, ud)
    return failures


def _check_ota_tpdu(
    column: str, hex_tpdu: str, direction: Direction, cls: type, tp_ud: str | None
) -> list[str]:
    try:
        raw = bytes.fromhex(hex_tpdu)
        tpdu = decode_tpdu(raw, direction, rp_error=False)
    except (ValueError, SmppError) as exc:
        return [f"{column}: decode: {type(exc).__name__}: {exc}"]
    if not isinstance(tpdu, cls) or not isinstance(tpdu, SmsDeliver | SmsSubmit | SmsDeliverReport):
        return [f"{column}: decoded as {type(tpdu).__name__}, expected {cls.__name__}"]
    failures = [f"{column}: {f}" for f in _check_reencode(tpdu, raw)]
    for attr, want in _SMS_PP.items():
        failures += [f"{column}: {f}" for f in _mismatch(attr, getattr(tpdu, attr), want)]
    if tp_ud is not None:
        failures += [f"{column}: {f}" for f in _mismatch("TP-UD", tpdu.user_data.hex(), tp_ud)]
    return failures
