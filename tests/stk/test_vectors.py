"""Every case of cat_proactive, cat_envelope and cat_terminal_response through stk.conformance."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stk.conformance import GROUPS, check_case, check_sms_pp_segments
from tests.stk.conftest import load_cases

CASES = load_cases(*GROUPS)
OTA_CASES = [
    c for c in load_cases("ota_command", "ota_upstream_kat") if c["expected"].get("sms_segments")
]


def test_all_cat_groups_are_present() -> None:
    counts = {g: sum(c["group"] == g for c in CASES) for g in GROUPS}
    assert counts == {"cat_proactive": 16, "cat_envelope": 2, "cat_terminal_response": 10}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_case_passes(case: dict[str, Any]) -> None:
    assert check_case(case) == []


@pytest.mark.parametrize("case", OTA_CASES, ids=lambda c: c["id"])
def test_sms_pp_download_envelopes_of_ota_cases(case: dict[str, Any]) -> None:
    assert check_sms_pp_segments(case) == []


def _tampered(case: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(case)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("case_id", "path", "value", "needle"),
    [
        ("pub-cat-001", ("input", "fields", "command_number"), 9, "encode"),
        ("pub-cat-004", ("input", "fields", "items", 1, "coding"), "ucs2_80", "encode"),
        (
            "pub-cat-010",
            ("expected", "hex"),
            "d0188103042180820281028d0b00c3b09c0c62bfc7eb3219ab",
            "Error",
        ),
        ("pub-cat-012", ("expected", "fetch_apdu"), "801200001c", "FETCH"),
        ("pub-cat-017", ("expected", "apdu"), "80c2000009d30782020181900103", "APDU"),
        ("pub-cat-026", ("input", "fields", "additional_info"), 2, "encode"),
        ("pub-cat-021", ("group",), "cat_unknown", "does not check"),
    ],
)
def test_check_case_reports_failures(
    case_id: str, path: tuple[Any, ...], value: Any, needle: str
) -> None:
    case = next(c for c in CASES if c["id"] == case_id)
    failures = check_case(_tampered(case, path, value))
    assert failures
    assert any(needle in f for f in failures), failures
