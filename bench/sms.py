"""SMS text and TPDU throughput on one core.

Prints one line per figure, then one JSON line with all of them. Run:
``.venv/bin/python bench/sms.py [--seconds S]``. Figures (operations per second):

* ``split_bill_ucs2``: a 186-character Chinese bill split into UCS2 segments (3 parts).
* ``split_gsm7_escapes``: a 600-septet GSM text with escapes split (4 parts, 510 characters).
* ``count_bill_ucs2`` / ``count_gsm7_escapes``: the same texts counted without building parts.
* ``tpdu_build_bill``: the bill built into SMS-DELIVERs and encoded (all parts).
* ``tpdu_decode_deliver``: one concatenated UCS2 SMS-DELIVER decoded, text included.
* ``reassemble_bill``: the bill's three parts added to a reassembler until complete.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pathlib
import sys
import time
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from smpp.sms import Direction, SmsDeliver, build_delivers, decode_tpdu
from smpp.text import Reassembler, count_segments, split_text
from smpp.udh import Concat

BILL = (
    "【一卡通】尊敬的用户：您本月考勤22天，迟到1次；食堂消费合计356.20元，"
    "超市消费88.00元，账户余额128.50元。"
) * 3
GSM_TEXT = ("Balance {CNY} 128.50 [ok] ~ " * 22)[:510]
SCTS = dt.datetime(2026, 2, 14, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second: best of three timed runs of about ``seconds / 3`` each."""
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            operation()
        if time.perf_counter() - start >= 0.02:
            break
        batch *= 2
    best = 0.0
    for _ in range(3):
        runs = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            for _ in range(batch):
                operation()
            runs += batch
        best = max(best, runs / (time.perf_counter() - start))
    return best


def _reassemble(parts: list[tuple[Concat, bytes]]) -> None:
    reassembler = Reassembler(ttl=60)
    for concat, payload in parts:
        reassembler.add("8613912345678", "10658888", concat, payload, now=0.0)


def _decode_text(raw: bytes) -> str:
    tpdu = decode_tpdu(raw, Direction.SC_TO_MS)
    assert isinstance(tpdu, SmsDeliver)
    return tpdu.text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per figure")
    args = parser.parse_args()
    delivers = build_delivers(BILL, "10658888", 7, scts=SCTS)
    raw = delivers[0].encode()
    parts = [(d.concat, d.payload) for d in delivers if d.concat is not None]
    assert len(delivers) == 3 and len(split_text(GSM_TEXT, reference=1)) == 4
    assert isinstance(decode_tpdu(raw, Direction.SC_TO_MS), SmsDeliver)
    figures = {
        "split_bill_ucs2": lambda: split_text(BILL, reference=7),
        "split_gsm7_escapes": lambda: split_text(GSM_TEXT, reference=7),
        "count_bill_ucs2": lambda: count_segments(BILL),
        "count_gsm7_escapes": lambda: count_segments(GSM_TEXT),
        "tpdu_build_bill": lambda: [
            d.encode() for d in build_delivers(BILL, "10658888", 7, scts=SCTS)
        ],
        "tpdu_decode_deliver": lambda: _decode_text(raw),
        "reassemble_bill": lambda: _reassemble(parts),
    }
    results: dict[str, float] = {}
    for name, operation in figures.items():
        results[name] = round(rate(operation, args.seconds), 1)
        print(f"{name}: {results[name]:.0f} ops/s", flush=True)
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
