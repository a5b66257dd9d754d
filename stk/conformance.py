"""Checks one case of groups ``cat_proactive``, ``cat_envelope``, ``cat_terminal_response``.

The schema is ``tests/data/sim-conformance.SCHEMA.md``. Each case is checked both ways:

- encode: the object built from ``input.fields`` encodes to exactly ``expected.hex``;
- decode: ``expected.hex`` decodes to an object equal to it, whose fields (in the vector's
  vocabulary) match ``input.fields``, and which re-encodes to the same octets;
- the APDU forms: ``91xx``, ``80 12 00 00 xx`` and the FETCH response for proactive commands,
  ``80 C2`` / ``80 14`` for envelopes and terminal responses.

Two vector gaps are filled from ``expected.pysim_decoded`` (part of ``expected``, so still the
oracle's answer): the SC address of SEND SHORT MESSAGE and the answer objects of a TERMINAL
RESPONSE (item identifier, text string) are in the hex but not in ``input.fields``.
``check_sms_pp_segments`` checks the SMS-PP DOWNLOAD envelopes inside OTA cases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from stk import apdu
from stk.commands import (
    DisplayText,
    GetInput,
    ProactiveCommand,
    SelectItem,
    SendShortMessage,
    SetUpMenu,
    decode_proactive_command,
)
from stk.dcs import decode_text
from stk.envelopes import MenuSelection, SmsPpDownload, decode_envelope, decode_envelope_apdu
from stk.errors import StkError
from stk.ies import (
    Address,
    AlphaIdentifier,
    CommandDetails,
    DefaultText,
    Duration,
    Item,
    ItemsNextActionIndicator,
    ResponseLength,
    Result,
    TextString,
)
from stk.tags import CommandType, DeviceIdentity, TimeUnit
from stk.terminal_response import TerminalResponse, decode_terminal_response
from stk.text import AlphaCoding

Case = dict[str, Any]
Fields = dict[str, Any]

GROUPS = ("cat_proactive", "cat_envelope", "cat_terminal_response")


def check_case(case: Case) -> list[str]:
    """Failure descriptions for one case (empty: the case passes)."""
    checker = _CHECKERS.get(str(case.get("group")))
    if checker is None:
        return [f"stk.conformance does not check group {case.get('group')!r}"]
    try:
        return checker(case)
    except (StkError, KeyError, TypeError, ValueError) as exc:
        return [f"{type(exc).__name__}: {exc}"]


# --- vector vocabulary -> objects -----------------------------------------------------------


def _device(name: str) -> int:
    return DeviceIdentity[name.upper()]


def _alpha(value: str | dict[str, str]) -> AlphaIdentifier:
    if isinstance(value, str):
        return AlphaIdentifier(value)
    return AlphaIdentifier(value["text"], AlphaCoding(value["coding"]))


def _item(value: dict[str, Any]) -> Item:
    return Item(value["id"], value["text"], AlphaCoding(value["coding"]))


class _Header(TypedDict, total=False):
    number: int
    qualifier: int
    source: int
    destination: int


def _header(f: Fields) -> _Header:
    header = _Header(number=f["command_number"], qualifier=f.get("command_qualifier", 0))
    if "source" in f:
        header["source"] = _device(f["source"])
    if "destination" in f:
        header["destination"] = _device(f["destination"])
    return header


_TON = {"unknown": 0, "international": 1, "national": 2, "network_specific": 3, "short_code": 4}
_NPI = {"unknown": 0, "isdn_e164": 1, "data_x121": 3, "telex_f69": 4, "national": 8, "private": 9}


def _pysim_objects(case: Case) -> dict[str, Any]:
    """The decoded objects pySim listed for the case, by name (last one wins)."""
    decoded = case["expected"]["pysim_decoded"]
    if isinstance(decoded, dict):
        (decoded,) = decoded.values()
    return {name: value for entry in decoded for name, value in entry.items()}


def _pysim_address(case: Case) -> Address | None:
    found = _pysim_objects(case).get("address")
    if found is None:
        return None
    ton_npi = found["ton_npi"]
    number = str(found["call_number"]).rstrip("f")
    return Address(number, _TON[ton_npi["type_of_number"]], _NPI[ton_npi["numbering_plan_id"]])


def _menu(f: Fields, header: _Header) -> SetUpMenu:
    if f.get("remove_menu"):
        return SetUpMenu.removal(f["command_number"])
    actions = f.get("items_next_action_indicator")
    return SetUpMenu(
        **header,
        alpha=_alpha(f["alpha_identifier"]),
        items=tuple(_item(i) for i in f["items"]),
        next_actions=None if actions is None else ItemsNextActionIndicator(tuple(actions)),
    )


def _select(f: Fields, header: _Header) -> SelectItem:
    return SelectItem(
        **header,
        alpha=_alpha(f["alpha_identifier"]) if f.get("alpha_identifier") else None,
        items=tuple(_item(i) for i in f["items"]),
        default_item=f.get("default_item_id"),
    )


def _display(f: Fields, header: _Header) -> DisplayText:
    duration = f.get("duration")
    return DisplayText(
        **header,
        text=TextString(f["text"], f["dcs"]),
        immediate_response=bool(f.get("immediate_response")),
        duration=None if duration is None else Duration(duration[1], TimeUnit(duration[0])),
    )


def _input(f: Fields, header: _Header) -> GetInput:
    default = f.get("default_text")
    return GetInput(
        **header,
        prompt=TextString(f["prompt"], f["dcs"]),
        response_length=ResponseLength(f["response_length"]["min"], f["response_length"]["max"]),
        default_text=None if default is None else DefaultText(default),
    )


def command_from_case(case: Case) -> ProactiveCommand:
    """The proactive command ``input.fields`` describes."""
    f = case["input"]["fields"]
    header = _header(f)
    kind = CommandType[f["type_of_command"].upper()]
    if kind is CommandType.SET_UP_MENU:
        return _menu(f, header)
    if kind is CommandType.SELECT_ITEM:
        return _select(f, header)
    if kind is CommandType.DISPLAY_TEXT:
        return _display(f, header)
    if kind is CommandType.GET_INPUT:
        return _input(f, header)
    if kind is CommandType.SEND_SHORT_MESSAGE:
        alpha = f.get("alpha_identifier")
        return SendShortMessage(
            **header,
            alpha=None if alpha is None else _alpha(alpha),
            address=_pysim_address(case),
            tpdu=bytes.fromhex(f["sms_tpdu"]),
        )
    raise ValueError(f"no builder for type of command {kind.name}")


def response_from_case(case: Case) -> TerminalResponse:
    """The TERMINAL RESPONSE ``input.fields`` (and pySim's answer objects) describe."""
    f = case["input"]["fields"]
    details = f["command_details"]
    extra = _pysim_objects(case)
    text = extra.get("text_string")
    item = extra.get("item_identifier")
    additional = f.get("additional_info")
    return TerminalResponse(
        command=CommandDetails(
            details["command_number"],
            CommandType[details["type_of_command"].upper()],
            details["command_qualifier"],
        ),
        result=Result(f["general_result"], b"" if additional is None else bytes((additional,))),
        source=_device(f["source"]),
        destination=_device(f["destination"]),
        text=None
        if text is None
        else TextString(decode_text(bytes.fromhex(text["text_string"]), text["dcs"]), text["dcs"]),
        item_identifier=None if item is None else item["identifier"],
    )


def envelope_from_case(case: Case) -> MenuSelection:
    f = case["input"]["fields"]
    return MenuSelection(
        source=_device(f["source"]),
        destination=_device(f["destination"]),
        item_identifier=f["item_identifier"],
        help_request=bool(f["help_request"]),
    )


# --- objects -> vector vocabulary -----------------------------------------------------------


def _alpha_fields(alpha: AlphaIdentifier) -> dict[str, str]:
    coding = alpha.coding or AlphaCoding.GSM8
    return {"text": alpha.text, "coding": coding.value}


def _item_fields(item: Item) -> dict[str, Any]:
    coding = item.coding or AlphaCoding.GSM8
    return {"id": item.identifier, "text": item.text, "coding": coding.value}


def command_fields(cmd: ProactiveCommand) -> Fields:
    """The decoded command in the vocabulary of ``input.fields``."""
    f: Fields = {
        "command_number": cmd.number,
        "type_of_command": CommandType(cmd.command_type).name.lower(),
        "command_qualifier": cmd.qualifier,
        "source": DeviceIdentity(cmd.source).name.lower(),
        "destination": DeviceIdentity(cmd.destination).name.lower(),
    }
    if isinstance(cmd, SetUpMenu | SelectItem):
        f["items"] = [_item_fields(i) for i in cmd.items]
        f["items_next_action_indicator"] = (
            None if cmd.next_actions is None else list(cmd.next_actions.actions)
        )
        f["remove_menu"] = not cmd.items
        if cmd.alpha is not None:
            f["alpha_identifier"] = _alpha_fields(cmd.alpha)
    if isinstance(cmd, SelectItem):
        f["default_item_id"] = cmd.default_item
    if isinstance(cmd, DisplayText):
        f |= {"text": cmd.text.text, "dcs": cmd.text.effective_dcs()}
        f["immediate_response"] = cmd.immediate_response
        f["duration"] = None if cmd.duration is None else [cmd.duration.unit, cmd.duration.interval]
    if isinstance(cmd, GetInput):
        f |= {"prompt": cmd.prompt.text, "dcs": cmd.prompt.effective_dcs()}
        length = cmd.response_length
        f["response_length"] = {"min": length.minimum, "max": length.maximum}
        f["default_text"] = None if cmd.default_text is None else cmd.default_text.text
    if isinstance(cmd, SendShortMessage):
        f["sms_tpdu"] = cmd.tpdu.hex()
        if cmd.alpha is not None:
            f["alpha_identifier"] = _alpha_fields(cmd.alpha)
    return f


def response_fields(tr: TerminalResponse) -> Fields:
    return {
        "command_details": {
            "command_number": tr.command.number,
            "type_of_command": CommandType(tr.command.command_type).name.lower(),
            "command_qualifier": tr.command.qualifier,
        },
        "source": DeviceIdentity(tr.source).name.lower(),
        "destination": DeviceIdentity(tr.destination).name.lower(),
        "general_result": tr.result.general,
        "additional_info": tr.result.additional[0] if tr.result.additional else None,
    }


def envelope_fields(env: MenuSelection) -> Fields:
    return {
        "source": DeviceIdentity(env.source).name.lower(),
        "destination": DeviceIdentity(env.destination).name.lower(),
        "item_identifier": env.item_identifier,
        "help_request": env.help_request,
    }


# --- the checks -----------------------------------------------------------------------------


def _compare_fields(expected: Fields, actual: Fields) -> list[str]:
    failures = []
    for key, want in expected.items():
        got = actual.get(key)
        if key == "alpha_identifier" and isinstance(want, str) and isinstance(got, dict):
            got = got["text"]  # the vector gives a bare text when the coding is "shortest"
        if got != want:
            failures.append(f"decode: field {key} is {got!r}, expected {want!r}")
    return failures


def _check_bytes(what: str, got: bytes, want_hex: str) -> list[str]:
    if got.hex() == want_hex.lower():
        return []
    return [f"{what}: got {got.hex()}, expected {want_hex.lower()}"]


def _check_proactive(case: Case) -> list[str]:
    expected = case["expected"]
    want = bytes.fromhex(expected["hex"])
    built = command_from_case(case)
    failures = _check_bytes("encode", built.encode(), expected["hex"])
    decoded = decode_proactive_command(want)
    if decoded != built:
        failures.append(f"decode: {decoded!r} differs from the command built from the fields")
    failures += _compare_fields(case["input"]["fields"], command_fields(decoded))
    failures += _check_bytes("re-encode", decoded.encode(), expected["hex"])
    if "sw_before_fetch" in expected:
        sw = apdu.proactive_pending_sw(len(want)).to_bytes(2, "big")
        failures += _check_bytes("status word", sw, expected["sw_before_fetch"])
        failures += _check_bytes("FETCH", apdu.fetch_apdu(len(want)), expected["fetch_apdu"])
        failures += _check_bytes(
            "FETCH response", apdu.with_status(want), expected["fetch_response"]
        )
    return failures


def _check_envelope(case: Case) -> list[str]:
    expected = case["expected"]
    built = envelope_from_case(case)
    failures = _check_bytes("encode", built.encode(), expected["hex"])
    failures += _check_bytes("APDU", built.to_apdu(), expected["apdu"])
    decoded = decode_envelope(bytes.fromhex(expected["hex"]))
    if decoded != built or not isinstance(decoded, MenuSelection):
        return [*failures, f"decode: {decoded!r} differs from the envelope built from the fields"]
    failures += _compare_fields(case["input"]["fields"], envelope_fields(decoded))
    if decode_envelope_apdu(bytes.fromhex(expected["apdu"])) != decoded:
        failures.append("decode: the APDU form decodes to another envelope")
    return failures


def _check_response(case: Case) -> list[str]:
    expected = case["expected"]
    built = response_from_case(case)
    failures = _check_bytes("encode", built.encode(), expected["hex"])
    failures += _check_bytes("APDU", built.to_apdu(), expected["apdu"])
    decoded = decode_terminal_response(bytes.fromhex(expected["hex"]))
    if decoded != built:
        failures.append(f"decode: {decoded!r} differs from the response built from the fields")
    failures += _compare_fields(case["input"]["fields"], response_fields(decoded))
    failures += _check_bytes("re-encode", decoded.encode(), expected["hex"])
    return failures


_CHECKERS: dict[str, Callable[[Case], list[str]]] = {
    "cat_proactive": _check_proactive,
    "cat_envelope": _check_envelope,
    "cat_terminal_response": _check_response,
}


def check_sms_pp_segments(case: Case) -> list[str]:
    """SMS-PP DOWNLOAD envelopes of an OTA case: decode, compare with the segment's SMS-DELIVER
    TPDU, re-encode, and the ENVELOPE APDU (for ``gateway.conformance`` cross checks)."""
    failures: list[str] = []
    segments = case.get("expected", {}).get("sms_segments") or []
    for n, seg in enumerate(segments, 1):
        try:
            env = decode_envelope(bytes.fromhex(seg["envelope_sms_pp_download"]))
            if not isinstance(env, SmsPpDownload):
                failures.append(f"segment {n}: decoded {type(env).__name__}, not SMS-PP DOWNLOAD")
                continue
            failures += _check_bytes(f"segment {n} TPDU", env.tpdu, seg["sms_deliver_tpdu"])
            failures += _check_bytes(
                f"segment {n} re-encode", env.encode(), seg["envelope_sms_pp_download"]
            )
            failures += _check_bytes(f"segment {n} APDU", env.to_apdu(), seg["envelope_apdu"])
        except (StkError, KeyError, ValueError) as exc:
            failures.append(f"segment {n}: {type(exc).__name__}: {exc}")
    return failures
