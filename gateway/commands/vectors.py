"""``onecard vectors FILE``: run every case of a SIM conformance vector file.

The file follows ``tests/data/sim-conformance.SCHEMA.md``. Each group is checked by the package
that owns the structure (``ota``, ``stk``, ``smpp``); ``gateway.conformance`` adds the checks that
cross packages (an OTA segment inside an SMS-DELIVER inside an SMS-PP DOWNLOAD envelope).
Prints one line per failure and a final line ``N passed, M failed``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from gateway.conformance import check_case


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=pathlib.Path, help="vector file (JSON)")
    parser.add_argument("--group", action="append", help="only these groups (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print passing cases too")


def run(args: argparse.Namespace) -> int:
    try:
        document = json.loads(args.file.read_text(encoding="utf-8"))
        cases = document["cases"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot read vector file {args.file}: {exc}", file=sys.stderr)
        return 2
    passed = failed = 0
    for case in cases:
        if args.group and case.get("group") not in args.group:
            continue
        failures = check_case(case)
        if failures:
            failed += 1
            for failure in failures:
                print(f"FAIL {case.get('id', '?')} [{case.get('group', '?')}]: {failure}")
        else:
            passed += 1
            if args.verbose:
                print(f"ok   {case.get('id', '?')}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
