"""Golden files: the sample month exported in every shipped layout, byte for byte.

Regenerate after an intended layout change with ``UPDATE_GOLDEN=1 pytest tests/billing``, and
review the diff: these files are what a carrier's billing system parses.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from billing.export import DEFAULT_LAYOUTS, make_encoder
from billing.export.base import BufferSink, ExportRun
from billing.period import Period
from billing.rating import Rater, member_months
from tests.billing import sample

GOLDEN = Path(__file__).parent.parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


EXTENSIONS = {"csv_v1": "csv", "fixed_v1": "dat", "ber": "ber"}


def export(layout: str, period: Period = sample.PERIOD, with_records: bool = True) -> bytes:
    records = member_months(sample.membership_events(), period) + sample.usage()
    rater = Rater(period, sample.TARIFFS)
    encoder = make_encoder(layout, sample.context())
    sink = BufferSink()
    ExportRun(rater, [(encoder, sink)]).run(records if with_records else [])
    return bytes(sink.data)


def check(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_bytes(data)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert data == path.read_bytes(), f"{name} differs from its golden file"


@pytest.mark.parametrize("layout", DEFAULT_LAYOUTS)
def test_month_matches_golden_file(layout: str) -> None:
    check(f"month_{layout}.{EXTENSIONS[layout]}", export(layout))


@pytest.mark.parametrize("layout", DEFAULT_LAYOUTS)
def test_empty_period_still_has_header_and_zero_trailer(layout: str) -> None:
    check(f"empty_{layout}.{EXTENSIONS[layout]}", export(layout, with_records=False))


def test_golden_csv_states_its_totals_in_the_trailer() -> None:
    lines = (GOLDEN / "month_csv_v1.csv").read_text(encoding="utf-8").splitlines()
    details = [r for r in lines if r.startswith("D,")]
    invoice = [r for r in lines if r.startswith("L,")]
    trailer = lines[-1].split(",")
    assert trailer[:4] == ["T", str(len(details)), str(len(invoice)), str(len(lines))]
    assert int(trailer[4]) == sum(int(r.split(",")[6]) for r in invoice)
    assert trailer[6:] == ["2026-10", "1"]


def test_golden_fixed_width_records_are_all_240_bytes() -> None:
    data = (GOLDEN / "month_fixed_v1.dat").read_bytes()
    records = data.split(b"\r\n")
    assert records[-1] == b""
    assert {len(r) for r in records[:-1]} == {240}
