"""Enterprise notices from CSV files in the standard templates (seed 四 备注 3: 建议企业按标准化
模版提供计件、工资数据). ``docs/notices.md`` documents the templates for enterprises.

- ``piece_rate`` 计件工资: 工号, [姓名], 项目, 数量, 单价 and/or 金额 (yuan; or 单价(分) /
  金额(分) in fen). Several rows per employee (one per item); one SMS per employee.
- ``wages`` 工资条: 工号, [姓名], 应发, [扣款], [实发], [备注]. One row per employee.
- ``general`` 通知: 工号, [姓名], 内容. One row per employee.

Headers may also be written in English (employee_no, name, item, quantity, unit_price, amount,
gross, deductions, net, note, content). Files are UTF-8 (with or without BOM) or GBK/GB18030,
as Excel writes "CSV" on a Chinese Windows. Every row is checked and every problem reported
with its row (the header is row 1, as a spreadsheet shows it), its column as the file names it,
a code and a reason; nothing is sent from here. Whether the employees exist is the service's
check (``gateway.bills.notices``): this module needs no database.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from gateway.bills.errors import NoticeInvalid
from gateway.bills.render import NOTICE_KINDS, TemplateKind

MAX_ROWS = 20_000
MAX_ERRORS = 1000  # reported; a file with more is reported as having more
MAX_YUAN = Decimal(10_000_000)
MAX_QUANTITY = Decimal(1_000_000)

# canonical column -> names accepted in a header (NFKC-normalised, case-insensitive)
ALIASES: dict[str, tuple[str, ...]] = {
    "employee_no": ("工号", "员工编号", "员工号", "employee_no"),
    "name": ("姓名", "name"),
    "item": ("项目", "工序", "品名", "item"),
    "quantity": ("数量", "件数", "quantity"),
    "unit_price": ("单价", "单价(元)", "unit_price"),
    "unit_price_fen": ("单价(分)", "unit_price_fen"),
    "amount": ("金额", "金额(元)", "amount"),
    "amount_fen": ("金额(分)", "amount_fen"),
    "gross": ("应发", "应发工资", "gross"),
    "deductions": ("扣款", "扣除", "deductions"),
    "net": ("实发", "实发工资", "net"),
    "note": ("备注", "note"),
    "content": ("内容", "通知内容", "content"),
}
COLUMNS: dict[TemplateKind, tuple[tuple[str, ...], tuple[str, ...]]] = {  # required, optional
    TemplateKind.PIECE_RATE: (("employee_no", "item", "quantity"),
                              ("name", "unit_price", "unit_price_fen", "amount", "amount_fen")),
    TemplateKind.WAGES: (("employee_no", "gross"), ("name", "deductions", "net", "note")),
    TemplateKind.GENERAL: (("employee_no", "content"), ("name",)),
}
_TEXTS = frozenset({"name", "item", "note", "content"})
LIMITS = {"employee_no": 32, "name": 64, "item": 20, "note": 40, "content": 300}
_LOOKUP = {unicodedata.normalize("NFKC", alias).lower().replace(" ", ""): column
           for column, aliases in ALIASES.items() for alias in aliases}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str | None  # as the file's header writes it
    code: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code,
                "detail": self.detail}


@dataclass(frozen=True, slots=True)
class NoticeRow:
    row: int
    employee_no: str
    name: str | None
    values: Mapping[str, Any]


@dataclass(frozen=True)
class ParsedNotice:
    kind: TemplateKind
    encoding: str
    header: tuple[str, ...]
    total_rows: int
    rows: tuple[NoticeRow, ...]
    errors: tuple[RowError, ...]
    more_errors: int = 0  # beyond MAX_ERRORS, not listed
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical -> as written
    rejected: Mapping[int, str] = field(default_factory=dict)  # bad row -> its employee number


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (BOM or not) first, then GB18030 (a superset of GBK)."""
    if not data.strip():
        raise NoticeInvalid("the file is empty")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise NoticeInvalid(f"the file is neither UTF-8 nor GBK (byte {exc.start})") from exc


def parse(kind: TemplateKind, data: bytes) -> ParsedNotice:
    if kind not in NOTICE_KINDS:
        raise NoticeInvalid(f"{kind.value} is not a notice template")
    text, encoding = decode(data)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise NoticeInvalid(f"not a CSV file: {exc}") from exc
    records = [r for r in records if any(cell.strip() for cell in r)]
    if len(records) < 2:
        raise NoticeInvalid("the file has a header and no rows")
    if len(records) - 1 > MAX_ROWS:
        raise NoticeInvalid(f"at most {MAX_ROWS} rows per file")
    header = tuple(cell.strip() for cell in records[0])
    columns = _columns(kind, header)
    errors: list[RowError] = []
    rows: list[NoticeRow] = []
    rejected: dict[int, str] = {}
    seen: dict[str, int] = {}
    for index, record in enumerate(records[1:], start=2):
        row, row_errors = _row(kind, index, header, columns, record)
        if row is not None and kind is not TemplateKind.PIECE_RATE:
            first = seen.setdefault(row.employee_no, index)
            if first != index:
                row_errors.append(RowError(index, columns["employee_no"], "duplicate",
                                           f"employee {row.employee_no} is already on row "
                                           f"{first}"))
        errors += row_errors
        if row is not None and not row_errors:
            rows.append(row)
        elif row is not None:
            rejected[index] = row.employee_no
    listed = errors[:MAX_ERRORS]
    return ParsedNotice(kind, encoding, header, len(records) - 1, tuple(rows), tuple(listed),
                        len(errors) - len(listed), columns, rejected)


def _columns(kind: TemplateKind, header: Sequence[str]) -> dict[str, str]:
    """canonical column -> the header cell naming it; refuses unknown, doubled or missing."""
    required, optional = COLUMNS[kind]
    found: dict[str, str] = {}
    for cell in header:
        column = _LOOKUP.get(unicodedata.normalize("NFKC", cell).lower().replace(" ", ""))
        if column is None or column not in required + optional:
            allowed = "、".join(ALIASES[c][0] for c in required + optional)
            raise NoticeInvalid(f"header: unknown column {cell!r} for {kind.value} "
                                f"(columns: {allowed})", column=cell)
        if column in found:
            raise NoticeInvalid(f"header: {cell!r} and {found[column]!r} are the same column",
                                column=cell)
        found[column] = cell
    missing = [ALIASES[c][0] for c in required if c not in found]
    if kind is TemplateKind.PIECE_RATE and not {"unit_price", "unit_price_fen", "amount",
                                                "amount_fen"} & set(found):
        missing.append("单价 or 金额")
    if missing:
        raise NoticeInvalid(f"header: missing column(s) {', '.join(missing)}")
    return found


def _cells(header: Sequence[str], columns: Mapping[str, str],
           record: Sequence[str]) -> Iterator[tuple[str, str]]:
    by_cell = {cell: column for column, cell in columns.items()}
    for position, cell in enumerate(header):
        value = record[position] if position < len(record) else ""
        column = by_cell[cell]
        # Numbers and employee numbers typed full-width ("１２０") are read as ASCII; texts
        # keep their Chinese punctuation (NFKC would turn "，" into ",").
        if column in _TEXTS:
            yield column, value.strip().strip("\u3000")
        else:
            yield column, unicodedata.normalize("NFKC", value).strip()


def _row(kind: TemplateKind, index: int, header: Sequence[str], columns: Mapping[str, str],
         record: Sequence[str]) -> tuple[NoticeRow | None, list[RowError]]:
    errors: list[RowError] = []
    if len(record) > len(header) and any(c.strip() for c in record[len(header):]):
        errors.append(RowError(index, None, "extra_cells",
                               f"{len(record)} cells, the header has {len(header)}"))
    raw = dict(_cells(header, columns, record))
    values: dict[str, Any] = {}
    for column, value in raw.items():
        try:
            values[column] = _value(column, value)
        except ValueError as exc:
            code, _, detail = str(exc).partition(":")
            errors.append(RowError(index, columns[column], code, detail.strip()))
    for column in COLUMNS[kind][0]:
        if column in values and values[column] in (None, ""):
            errors.append(RowError(index, columns[column], "required", "empty"))
    if not errors:
        errors += _check(kind, index, columns, values)
    employee = values.get("employee_no")
    if not employee:
        return None, errors
    return NoticeRow(index, employee, values.get("name") or None, values), errors


def _value(column: str, value: str) -> Any:
    if column in LIMITS:
        if len(value) > LIMITS[column]:
            raise ValueError(f"too_long: {len(value)} characters, at most {LIMITS[column]}")
        return value
    if not value:
        return None
    if column == "quantity":
        return _decimal(value, MAX_QUANTITY, places=2, positive=True)
    if column.endswith("_fen"):
        number = _decimal(value, MAX_YUAN * 100, places=0)
        return int(number)
    return int(_decimal(value, MAX_YUAN, places=2) * 100)  # yuan -> fen


def _decimal(value: str, limit: Decimal, *, places: int, positive: bool = False) -> Decimal:
    cleaned = value.replace(",", "").lstrip("¥￥").strip()
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"invalid_number: {value!r} is not a number") from None
    if not number.is_finite() or number < 0 or (positive and number == 0) or number > limit:
        bound = "above 0" if positive else "0 or more"
        raise ValueError(f"out_of_range: {value!r}: {bound}, at most {limit}")
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(f"too_precise: {value!r}: at most {places} decimal places")
    return number


def _check(kind: TemplateKind, index: int, columns: Mapping[str, str],
           values: dict[str, Any]) -> list[RowError]:
    """Cross-column rules; fills the derived values (amount_fen, net...)."""
    if kind is TemplateKind.PIECE_RATE:
        return _check_piece(index, columns, values)
    if kind is TemplateKind.WAGES:
        gross, deductions = values["gross"], values.get("deductions") or 0
        values["deductions"] = deductions
        net = gross - deductions
        if values.get("net") is not None and values["net"] != net:
            return [RowError(index, columns["net"], "mismatch",
                             f"应发 - 扣款 = {_yuan(net)}, not {_yuan(values['net'])}")]
        if net < 0:
            return [RowError(index, columns.get("deductions"), "mismatch",
                             "扣款 is more than 应发")]
        values["net"] = net
    return []


def _check_piece(index: int, columns: Mapping[str, str],
                 values: dict[str, Any]) -> list[RowError]:
    price = values.get("unit_price_fen", values.get("unit_price"))
    amount = values.get("amount_fen", values.get("amount"))
    if price is None and amount is None:
        where = columns.get("amount") or columns.get("amount_fen") or columns.get("unit_price")
        return [RowError(index, where or columns.get("unit_price_fen"), "required",
                         "单价 or 金额 is needed")]
    if price is not None:
        expected = int((values["quantity"] * price).quantize(Decimal(1), ROUND_HALF_UP))
        if amount is not None and amount != expected:
            where = columns.get("amount") or columns.get("amount_fen")
            return [RowError(index, where, "mismatch",
                             f"数量 × 单价 = {_yuan(expected)}, not {_yuan(amount)}")]
        amount = expected
    values["unit_price_fen"], values["amount_fen"] = price, amount
    return []


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def quantity_text(quantity: Decimal) -> str:
    """1200 -> "1200", 350.50 -> "350.5": as a member reads it."""
    text = format(quantity.normalize(), "f")
    return text


def template_values(kind: TemplateKind, rows: Sequence[NoticeRow]) -> dict[str, Any]:
    """The template variables of one employee's rows (several for piece rates)."""
    if kind is TemplateKind.PIECE_RATE:
        lines = [{"item": r.values["item"], "quantity": quantity_text(r.values["quantity"]),
                  "unit_price_fen": r.values["unit_price_fen"],
                  "amount_fen": r.values["amount_fen"]} for r in rows]
        return {"lines": lines, "total_fen": sum(line["amount_fen"] for line in lines)}
    values = rows[0].values
    if kind is TemplateKind.WAGES:
        return {"gross_fen": values["gross"], "deductions_fen": values["deductions"],
                "net_fen": values["net"], "note": values.get("note") or ""}
    return {"content": values["content"]}
