"""Conformance checking of one vector case, dispatched to the package that owns the group.

Each owner module exposes ``check_case(case) -> list[str]`` (failure descriptions). Checks that
need more than one package (SMS-DELIVER and SMS-PP DOWNLOAD envelopes around OTA packets) are
added here, so that no codec package imports another one just for testing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Case = dict[str, Any]

GROUP_OWNERS: dict[str, str] = {
    "ota_command": "ota.conformance",
    "ota_response": "ota.conformance",
    "ota_upstream_kat": "ota.conformance",
    "cat_proactive": "stk.conformance",
    "cat_envelope": "stk.conformance",
    "cat_terminal_response": "stk.conformance",
    "sms_tpdu": "smpp.conformance",
}


def check_case(case: Case) -> list[str]:
    group = case.get("group")
    owner = GROUP_OWNERS.get(str(group))
    if owner is None:
        return [f"unknown group {group!r}"]
    checker: Callable[[Case], list[str]] = importlib.import_module(owner).check_case
    failures: list[str] = []
    for check in (checker, *CROSS_CHECKS.get(str(group), ())):
        try:
            failures += check(case)
        except Exception as exc:  # a crash on a vector is a failure to report, not to propagate
            failures.append(f"{check.__module__}: raised {type(exc).__name__}: {exc}")
    return failures


def _smpp_ota_tpdus(case: Case) -> list[str]:
    from smpp.conformance import check_ota_tpdus

    return check_ota_tpdus(case)


def _stk_sms_pp_envelopes(case: Case) -> list[str]:
    from stk.conformance import check_sms_pp_segments

    return check_sms_pp_segments(case)


# The OTA groups also carry the SMS-DELIVER / RP-ACK / SMS-SUBMIT TPDUs and the SMS-PP DOWNLOAD
# envelopes around each packet; those columns belong to smpp and stk.
_OTA_CROSS = (_smpp_ota_tpdus, _stk_sms_pp_envelopes)
CROSS_CHECKS: dict[str, tuple[Callable[[Case], list[str]], ...]] = {
    "ota_command": _OTA_CROSS,
    "ota_response": _OTA_CROSS,
    "ota_upstream_kat": _OTA_CROSS,
}
