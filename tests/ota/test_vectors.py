"""Every case of the OTA groups of tests/data/sim-conformance.json, through ota.conformance."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from ota.conformance import GROUPS, check_case

VECTORS = pathlib.Path(__file__).parents[1] / "data" / "sim-conformance.json"


def _cases() -> list[dict[str, Any]]:
    document = json.loads(VECTORS.read_text(encoding="utf-8"))
    return [case for case in document["cases"] if case["group"] in GROUPS]


CASES = _cases()


def test_every_ota_group_is_present() -> None:
    document = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert len(CASES) == sum(document["counts"][group] for group in GROUPS)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case(case: dict[str, Any]) -> None:
    assert check_case(case) == []


def test_a_wrong_expectation_is_reported() -> None:
    case = json.loads(json.dumps(CASES[0]))
    packet = case["expected"]["command_packet"]
    case["expected"]["command_packet"] = packet[:-2] + ("00" if packet[-2:] != "00" else "01")
    failures = check_case(case)
    assert any(f.startswith("command_packet") for f in failures)


def test_other_groups_are_refused() -> None:
    assert check_case({"id": "x", "group": "cat_proactive"})
