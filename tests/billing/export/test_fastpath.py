"""The fast path renders exactly what jinja2 renders, and steps aside when it cannot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.errors import LayoutError
from billing.export.asn1_records import TimestampCoder, timestamp
from billing.export.base import BufferSink, ExportRun
from billing.export.text import TemplateEncoder, TextLayout, load_layout
from billing.rating import Rater, member_months
from tests.billing import sample

MACROS = (
    "{% macro header(h) %}H{% endmacro %}{% macro line(l) %}L{% endmacro %}"
    "{% macro trailer(t) %}T{% endmacro %}"
)


def records() -> list[object]:
    rater = Rater(sample.PERIOD, sample.TARIFFS)
    cdrs = member_months(sample.membership_events(), sample.PERIOD) + sample.usage()
    return list(rater.rate_all(cdrs))


@pytest.mark.parametrize("name", ["csv_v1", "fixed_v1"])
def test_shipped_layouts_take_the_fast_path_and_match_jinja(name: str) -> None:
    layout = load_layout(name)
    assert layout.detail_fast is not None
    for rated in records():
        assert layout.detail_fast(rated) == str(layout.detail(rated))


def write(tmp_path: Path, source: str) -> TextLayout:
    (tmp_path / "t.j2").write_text(source + MACROS, encoding="utf-8")
    return TextLayout("t", (str(tmp_path),))


@pytest.mark.parametrize(
    "body",
    [
        "{% if r.units %}x{% endif %}",  # control flow
        "{{ r.cdr.cdr_id[0] }}",  # subscript
        "{{ r.quantity + 1 }}",  # arithmetic
        "{{ r.cdr.cdr_id|truncate(r.quantity) }}",  # a filter argument that is not constant
        "{{ r.cdr.detail|default('-') }}{{ unknown }}",  # a name that is not the argument
    ],
)
def test_anything_else_stays_with_jinja(tmp_path: Path, body: str) -> None:
    layout = write(tmp_path, "{% macro detail(r) %}" + body + "{% endmacro %}")
    assert layout.detail_fast is None


def test_literal_text_with_braces_quotes_and_controls(tmp_path: Path) -> None:
    layout = write(
        tmp_path, '{% macro detail(r) %}{{ "{" }}"\\\t{}{{ r.quantity }}\u00e9{% endmacro %}'
    )
    assert layout.detail_fast is not None
    rated = records()[0]
    assert layout.detail_fast(rated) == str(layout.detail(rated))


def test_fixed_width_overflow_falls_back_to_jinja_for_the_error(tmp_path: Path) -> None:
    # The format spec would silently widen the record; the length check catches it and
    # jinja2's fw filter names the field.
    (tmp_path / "w.j2").write_text(
        '{% set layout_kind = "fixed" %}{% set record_length = 4 %}'
        "{% macro detail(r) %}{{ r.cdr.member_id|fw(4) }}{% endmacro %}"
        "{% macro header(h) %}HHHH{% endmacro %}{% macro line(l) %}LLLL{% endmacro %}"
        "{% macro trailer(t) %}TTTT{% endmacro %}",
        encoding="utf-8",
    )
    layout = TextLayout("w", (str(tmp_path),))
    assert layout.detail_fast is not None
    encoder = TemplateEncoder(layout, sample.context())
    rated = [r for r in records() if r.cdr.member_id][:1]  # type: ignore[attr-defined]
    assert encoder.feed(rated) == b"M001\n"
    first = rated[0]
    long = [first._replace(cdr=first.cdr._replace(member_id="M00001"))]  # type: ignore[attr-defined]
    with pytest.raises(LayoutError, match="wider than its field of 4"):
        encoder.feed(long)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    )
)
def test_cached_timestamps_equal_the_plain_encoding(moment: datetime) -> None:
    cst = timezone(timedelta(hours=8))
    assert TimestampCoder(cst)(moment) == timestamp(moment, cst)
    west = timezone(-timedelta(hours=4, minutes=30))
    assert TimestampCoder(west)(moment) == timestamp(moment, west)


def test_export_run_fed_in_batches_equals_one_run() -> None:
    rater = Rater(sample.PERIOD, sample.TARIFFS)
    cdrs = member_months(sample.membership_events(), sample.PERIOD) + sample.usage()
    whole, parts = BufferSink(), BufferSink()
    ExportRun(rater, [(load_layout_encoder(), whole)]).run(cdrs)
    run = ExportRun(rater, [(load_layout_encoder(), parts)])
    run.begin()
    for i in range(0, len(cdrs), 4):
        run.feed(cdrs[i : i + 4])
    run.finish()
    assert whole.data == parts.data and run.done == len(cdrs)


def load_layout_encoder() -> TemplateEncoder:
    return TemplateEncoder(load_layout("csv_v1"), sample.context())
