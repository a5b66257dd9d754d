"""CSV notices in the standard templates: encodings, headers, and every row's problems named
with its row and column (sans-I/O, ``gateway.bills.csvnotice``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.bills import csvnotice
from gateway.bills.errors import NoticeInvalid
from gateway.bills.render import TemplateKind

PIECE = TemplateKind.PIECE_RATE
PIECE_CSV = ("工号,姓名,项目,数量,单价,金额\n"
             "E001,张三,装配,1200,0.85,1020.00\n"
             "E001,张三,包装,350.5,0.40,140.20\n"
             "E002,李四,装配,800,0.85,\n")


def codes(parsed: csvnotice.ParsedNotice) -> list[tuple[int, str | None, str]]:
    return [(e.row, e.column, e.code) for e in parsed.errors]


def test_piece_rate_rows_in_utf8_and_gbk_alike() -> None:
    for data in (PIECE_CSV.encode("utf-8"), PIECE_CSV.encode("utf-8-sig"),
                 PIECE_CSV.encode("gbk")):
        parsed = csvnotice.parse(PIECE, data)
        assert not parsed.errors and parsed.total_rows == 3
        assert [r.employee_no for r in parsed.rows] == ["E001", "E001", "E002"]
        assert parsed.rows[2].values["amount_fen"] == 68000  # 800 × 0.85
    assert csvnotice.parse(PIECE, PIECE_CSV.encode("gbk")).encoding == "gbk"
    assert csvnotice.parse(PIECE, PIECE_CSV.encode()).encoding == "utf-8"


def test_piece_rate_template_values_group_an_employees_items() -> None:
    parsed = csvnotice.parse(PIECE, PIECE_CSV.encode())
    values = csvnotice.template_values(PIECE, parsed.rows[:2])
    assert values["total_fen"] == 102000 + 14020
    assert [line["quantity"] for line in values["lines"]] == ["1200", "350.5"]


def test_english_headers_fen_columns_full_width_digits_and_thousands() -> None:
    data = ("employee_no,item,quantity,unit_price_fen\n"
            "Ｅ００１,装配,\"1,200\",85\n").encode()
    parsed = csvnotice.parse(PIECE, data)
    assert not parsed.errors
    assert parsed.rows[0].employee_no == "E001"
    assert parsed.rows[0].values["quantity"] == Decimal(1200)
    assert parsed.rows[0].values["amount_fen"] == 102000


def test_every_bad_row_is_reported_with_row_column_and_code() -> None:
    data = ("工号,姓名,项目,数量,单价,金额\n"
            ",张三,装配,10,1.00,\n"           # row 2: no employee number
            "E002,李四,,10,1.00,\n"           # row 3: no item
            "E003,王五,装配,ten,1.00,\n"      # row 4: not a number
            "E004,赵六,装配,10,1.005,\n"      # row 5: three decimals of yuan
            "E005,钱七,装配,10,1.00,11.00\n"  # row 6: 10 × 1.00 is not 11.00
            "E006,孙八,装配,-1,1.00,\n"       # row 7: negative
            "E007,周九,装配,10,,\n"           # row 8: neither price nor amount
            "E008,吴十,装配,10,1.00,10.00,x\n"  # row 9: a cell too many
            "E009,郑一,装配,5,2.00,10.00\n")  # row 10: fine
    parsed = csvnotice.parse(PIECE, data.encode())
    assert codes(parsed) == [
        (2, "工号", "required"), (3, "项目", "required"), (4, "数量", "invalid_number"),
        (5, "单价", "too_precise"), (6, "金额", "mismatch"), (7, "数量", "out_of_range"),
        (8, "金额", "required"), (9, None, "extra_cells")]
    assert [r.row for r in parsed.rows] == [10]
    assert parsed.rejected[6] == "E005"
    assert "10.00, not 11.00" in parsed.errors[4].detail


def test_wages_and_general() -> None:
    wages = ("工号,姓名,应发,扣款,实发,备注\n"
             "E001,张三,8650.00,1234.50,7415.50,含高温补贴\n"
             "E002,李四,5000,,,\n"
             "E003,王五,5000,100,4800,\n"
             "E001,张三,1,0,1,\n")
    parsed = csvnotice.parse(TemplateKind.WAGES, wages.encode())
    assert codes(parsed) == [(4, "实发", "mismatch"), (5, "工号", "duplicate")]
    values = csvnotice.template_values(TemplateKind.WAGES, parsed.rows[1:2])
    assert values == {"gross_fen": 500000, "deductions_fen": 0, "net_fen": 500000, "note": ""}
    general = csvnotice.parse(TemplateKind.GENERAL, "工号,内容\nE001,明天停水\n".encode())
    assert csvnotice.template_values(TemplateKind.GENERAL, general.rows) == {
        "content": "明天停水"}


@pytest.mark.parametrize(("data", "needle"), [
    (b"", "empty"),
    ("工号,项目,数量,单价\n".encode(), "no rows"),
    ("工号,项目,数量,价格\nE1,a,1,1\n".encode(), "unknown column '价格'"),
    ("工号,项目,单价\nE1,a,1\n".encode(), "missing column(s) 数量"),
    ("工号,项目,数量\nE1,a,1\n".encode(), "单价 or 金额"),
    ("工号,员工编号,项目,数量,单价\nE1,E1,a,1,1\n".encode(), "the same column"),
    (b"\xff\xfe\x00\x00\x81", "neither UTF-8 nor GBK"),
])
def test_bad_files_are_refused_as_a_whole(data: bytes, needle: str) -> None:
    with pytest.raises(NoticeInvalid) as caught:
        csvnotice.parse(PIECE, data)
    assert needle in caught.value.detail and caught.value.http_status == 422


def test_too_many_rows() -> None:
    data = "工号,内容\n" + "E1,x\n" * (csvnotice.MAX_ROWS + 1)
    with pytest.raises(NoticeInvalid, match="at most"):
        csvnotice.parse(TemplateKind.GENERAL, data.encode())


def test_errors_beyond_the_listed_ones_are_counted() -> None:
    data = "工号,内容\n" + ",x\n" * (csvnotice.MAX_ERRORS + 5)
    parsed = csvnotice.parse(TemplateKind.GENERAL, data.encode())
    assert len(parsed.errors) == csvnotice.MAX_ERRORS and parsed.more_errors == 5


def test_a_bill_kind_is_not_a_notice_template() -> None:
    with pytest.raises(NoticeInvalid):
        csvnotice.parse(TemplateKind.ATTENDANCE, PIECE_CSV.encode())
