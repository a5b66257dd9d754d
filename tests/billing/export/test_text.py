from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing.cdr import Cdr, CdrKind
from billing.errors import LayoutError
from billing.export import make_encoder
from billing.export.base import BufferSink, ExportRun, LayoutKind
from billing.export.text import TextLayout, load_layout
from billing.rating import Rater
from tests.billing import sample

WHEN = datetime(2026, 10, 5, tzinfo=UTC)


def run(layout: str, records: list[Cdr], search_path: tuple[str, ...] = ()) -> bytes:
    encoder = make_encoder(layout, sample.context(), search_path)
    sink = BufferSink()
    ExportRun(Rater(sample.PERIOD, sample.TARIFFS), [(encoder, sink)]).run(records)
    return bytes(sink.data)


def sms(member: str = "M1", reference: str = "") -> Cdr:
    return Cdr(
        "c1",
        CdrKind.ONE_OFF,
        WHEN,
        "ENT001",
        member,
        detail="DEVICE",
        amount_fen=10,
        reference=reference,
    )


def test_csv_is_rfc4180_readable_with_quoting() -> None:
    data = run("csv_v1", [sms(member='A,"B"', reference="x")])
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[1][6] == 'A,"B"'
    assert [r[0] for r in rows] == ["H", "D", "L", "T"]


def test_fixed_width_field_overflow_is_an_error_not_a_truncation() -> None:
    with pytest.raises(LayoutError, match="wider than its field of 24"):
        run("fixed_v1", [sms(reference="R" * 30)])


def test_shipped_layouts_declare_their_kind() -> None:
    assert load_layout("csv_v1").kind is LayoutKind.CSV
    fixed = load_layout("fixed_v1.j2")
    assert (fixed.kind, fixed.record_length, fixed.record_separator) == (
        LayoutKind.FIXED,
        240,
        "\r\n",
    )


def test_a_carrier_layout_is_a_template_in_its_directory(tmp_path: Path) -> None:
    (tmp_path / "pipe_v1.j2").write_text(
        '{% set extension = "txt" %}{% set record_separator = "\\r\\n" %}'
        "{% macro header(h) %}HDR|{{ h.period_compact }}|{{ h.sequence }}{% endmacro %}"
        "{% macro detail(r) %}{{ r.cdr.cdr_id }}|{{ r.units|e4 }}{% endmacro %}"
        "{% macro line(l) %}SUM|{{ l.enterprise_id }}|{{ l.amount_fen }}{% endmacro %}"
        "{% macro trailer(t) %}END|{{ t.records }}|{{ t.amount_fen }}{% endmacro %}",
        encoding="utf-8",
    )
    data = run("pipe_v1", [sms()], (str(tmp_path),))
    assert data.decode().split("\r\n") == [
        "HDR|202610|1",
        "c1|10.0000",
        "SUM|ENT001|10",
        "END|4|10",
        "",
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% macro header(h) %}{% endmacro %}", "no macro detail"),
        ("{% macro header(h) %}", "layout"),
        ('{% set layout_kind = "ber" %}', "layout"),
    ],
)
def test_broken_layouts_are_layout_errors(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "broken.j2").write_text(source, encoding="utf-8")
    with pytest.raises(LayoutError, match=message):
        TextLayout("broken", (str(tmp_path),))


def test_fixed_layout_must_state_its_record_length(tmp_path: Path) -> None:
    macros = "".join(
        f"{{% macro {m}(x) %}}{{% endmacro %}}" for m in ("header", "detail", "line", "trailer")
    )
    (tmp_path / "nolength.j2").write_text(
        '{% set layout_kind = "fixed" %}' + macros, encoding="utf-8"
    )
    with pytest.raises(LayoutError, match="record_length"):
        TextLayout("nolength", (str(tmp_path),))


def test_a_misspelt_field_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "typo.j2").write_text(
        "{% macro header(h) %}H{% endmacro %}{% macro detail(r) %}{{ r.cdr.cdr_idd }}{% endmacro %}"
        "{% macro line(l) %}L{% endmacro %}{% macro trailer(t) %}T{% endmacro %}",
        encoding="utf-8",
    )
    with pytest.raises(LayoutError, match="detail record"):
        run("typo", [sms()], (str(tmp_path),))


def test_missing_layout() -> None:
    with pytest.raises(LayoutError, match="no layout template"):
        TextLayout("csv_v9")


def test_wrong_width_record_is_found_and_named(tmp_path: Path) -> None:
    (tmp_path / "short.j2").write_text(
        '{% set layout_kind = "fixed" %}{% set record_length = 3 %}'
        "{% macro header(h) %}HHH{% endmacro %}{% macro detail(r) %}DD{% endmacro %}"
        "{% macro line(l) %}LLL{% endmacro %}{% macro trailer(t) %}TTT{% endmacro %}",
        encoding="utf-8",
    )
    with pytest.raises(LayoutError, match="detail record is 2 bytes, not 3"):
        run("short", [sms()], (str(tmp_path),))
