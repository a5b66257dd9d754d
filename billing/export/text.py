"""Delimited and fixed-width export files whose layout is a jinja2 template.

A layout is configuration: a template file (shipped ones live in ``templates/``; a carrier's
own go in a directory named in its configuration) that defines four macros, each rendering
one record without its terminator, and a few variables:

    {% set layout_kind = "csv" %}           csv | fixed
    {% set extension = "csv" %}
    {% set record_separator = "\\n" %}
    {% set record_length = 220 %}           fixed only: bytes per record, checked
    {% macro header(h) %}...{% endmacro %}  h: FileHeaderView
    {% macro detail(r) %}...{% endmacro %}  r: billing.rating.RatedCdr
    {% macro line(l) %}...{% endmacro %}    l: billing.rating.InvoiceLine
    {% macro trailer(t) %}...{% endmacro %} t: FileTrailerView

Filters: ``csv`` (RFC 4180 quoting), ``ts`` (local time YYYYMMDDhhmmss), ``e4`` (units as fen
with four decimals), ``e4i`` (units as an integer of 1/10000 fen), ``fw(width, align)``
(pad to a width, refuse overflow), ``zn(width)`` (zero-padded signed integer, refuse
overflow). Widths count UTF-8 bytes. Records are UTF-8.

Detail records are rendered a chunk at a time by one compiled loop around the ``detail``
macro: the template is compiled once per layout, never per record.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import jinja2

from billing.errors import LayoutError
from billing.export.base import FileContext, FileTotals, LayoutKind
from billing.export.fastpath import compile_macro
from billing.rating import InvoiceLine, RatedCdr
from billing.tariffs import format_e4, units_to_e4

_CSV_SPECIAL = frozenset(',"\r\n')


def _csv(value: object) -> str:
    text = value if value.__class__ is str else str(value)
    if _CSV_SPECIAL.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


def _byte_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _fw(value: object, width: int, align: str = "<", fill: str = " ") -> str:
    text = str(value)
    size = _byte_len(text)
    if size > width:
        raise LayoutError(f"value {text!r} is {size} bytes, wider than its field of {width}")
    pad = fill * (width - size)
    return text + pad if align == "<" else pad + text


def _zn(value: int, width: int) -> str:
    text = f"-{-value:0{width - 1}d}" if value < 0 else f"{value:0{width}d}"
    if len(text) > width:
        raise LayoutError(f"number {value} does not fit in {width} digits")
    return text


_E4_CACHE: dict[int, str] = {}
_CACHE_LIMIT = 4096


def _e4(units: int) -> str:
    # Prices and most amounts repeat (every SMS of a kind costs the same): remember a bounded
    # number of them, so memory stays flat however many records go through.
    text = _E4_CACHE.get(units)
    if text is None:
        text = format_e4(units_to_e4(units))
        if len(_E4_CACHE) < _CACHE_LIMIT:
            _E4_CACHE[units] = text
    return text


def _fw_spec(args: list[object]) -> tuple[str, str] | None:
    width, align, fill = [*args, "<", " "][:3]
    if not isinstance(width, int) or align not in ("<", ">") or fill != " ":
        return None
    return "!s", f"{align}{width}"


def _zn_spec(args: list[object]) -> tuple[str, str] | None:
    (width,) = args or [None]
    return ("", f"0{width}d") if isinstance(width, int) and len(args) == 1 else None


# In fixed-width layouts the record length check catches what a format spec gets wrong
# (overflow, multi-byte text), so fw and zn may become format specs (``fastpath.Inline``).
_FIXED_INLINE: dict[Any, Any] = {_fw: _fw_spec, _zn: _zn_spec}


def _make_ts(tz: tzinfo) -> Any:
    """The ``ts`` filter: local YYYYMMDDhhmmss in ``tz``."""
    fixed = tz.utcoffset(None)
    if fixed is None:  # a zone with daylight saving: convert every time

        def ts_zone(moment: datetime) -> str:
            local = moment.astimezone(tz)
            return (
                f"{local.year:04d}{local.month:02d}{local.day:02d}"
                f"{local.hour:02d}{local.minute:02d}{local.second:02d}"
            )

        return ts_zone
    offset = int(fixed.total_seconds())
    days: dict[int, str] = {}

    def ts(moment: datetime) -> str:
        # A fixed offset (China Standard Time): epoch arithmetic and a cache of day prefixes
        # are three times cheaper than astimezone() plus six formatted fields.
        day, second = divmod(int(moment.timestamp()) + offset, 86400)
        prefix = days.get(day)
        if prefix is None:
            prefix = (date(1970, 1, 1) + timedelta(days=day)).strftime("%Y%m%d")
            if len(days) < _CACHE_LIMIT:
                days[day] = prefix
        hour, rest = divmod(second, 3600)
        return f"{prefix}{hour:02d}{rest // 60:02d}{rest % 60:02d}"

    return ts


@functools.lru_cache(maxsize=16)
def _environment(search_path: tuple[str, ...], tz: tzinfo) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(list(search_path))]
    loaders.append(jinja2.PackageLoader("billing.export", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=False,  # records are data files, not HTML
        undefined=jinja2.StrictUndefined,  # a misspelt field is an error, not an empty column
        keep_trailing_newline=False,
    )
    env.filters.update(csv=_csv, fw=_fw, zn=_zn, e4=_e4, e4i=units_to_e4, ts=_make_ts(tz))
    return env


def _macro(module: object, name: str) -> Any:
    found = getattr(module, name, None)
    if not callable(found):
        raise LayoutError(f"layout template defines no macro {name}()")
    return found


@dataclass(frozen=True, slots=True)
class FileHeaderView:
    layout: str
    carrier: str
    node_id: str
    period: str
    period_compact: str
    sequence: int
    opened_at: datetime
    closed_at: datetime


@dataclass(frozen=True, slots=True)
class FileTrailerView:
    details: int
    lines: int
    records: int  # every record of the file, header and trailer included
    amount_fen: int
    value_fen: int
    period: str
    period_compact: str
    sequence: int


class TextLayout:
    """A compiled layout template."""

    def __init__(self, name: str, search_path: Sequence[str | Path] = (), tz: tzinfo | None = None):
        from billing.period import BILLING_TZ

        env = _environment(tuple(str(p) for p in search_path), tz or BILLING_TZ)
        try:
            template = env.get_template(name if name.endswith(".j2") else f"{name}.j2")
            module = template.make_module()
            self.kind = LayoutKind(getattr(module, "layout_kind", "csv"))
            self.extension = str(getattr(module, "extension", self.kind.value))
            self.record_separator = str(getattr(module, "record_separator", "\n"))
            self.record_length = int(getattr(module, "record_length", 0))
            self.header, self.detail, self.line, self.trailer = (
                _macro(module, macro) for macro in ("header", "detail", "line", "trailer")
            )
        except jinja2.TemplateNotFound as exc:
            raise LayoutError(f"no layout template {exc.name!r}") from exc
        except (jinja2.TemplateError, AttributeError, ValueError) as exc:
            raise LayoutError(f"layout {name}: {exc}") from exc
        if self.kind is LayoutKind.FIXED and self.record_length <= 0:
            raise LayoutError(f"fixed-width layout {name} must set record_length")
        if self.kind is LayoutKind.BER:
            raise LayoutError(f"layout {name}: BER files are not template layouts")
        self.name = name.removesuffix(".j2")
        # The detail macro runs once per record: compiled to plain Python when it is flat.
        inline = _FIXED_INLINE if self.kind is LayoutKind.FIXED else {}
        self.detail_fast = compile_macro(env, template.name or name, "detail", inline)
        loop = "{% for r in rows %}{{ detail(r) }}{{ sep }}{% endfor %}"
        self._chunk = env.from_string(loop, globals={"detail": self.detail})
        self._sep = self.record_separator


@functools.lru_cache(maxsize=32)
def load_layout(
    name: str, search_path: tuple[str, ...] = (), tz: tzinfo | None = None
) -> TextLayout:
    """A compiled layout, cached: a carrier's export compiles each template once."""
    return TextLayout(name, search_path, tz)


class TemplateEncoder:
    """Streams one file of a ``TextLayout``; counts and sums go to the trailer."""

    def __init__(self, layout: TextLayout, context: FileContext) -> None:
        self.layout = layout
        self.kind = layout.kind
        self.extension = layout.extension
        self.context = context
        self.totals = FileTotals()
        self._sep_bytes = len(layout.record_separator.encode())

    def begin(self) -> bytes:
        ctx = self.context
        view = FileHeaderView(
            self.layout.name,
            ctx.carrier,
            ctx.node_id,
            str(ctx.period),
            f"{ctx.period.year:04d}{ctx.period.month:02d}",
            ctx.sequence,
            ctx.opened_at,
            ctx.closed_at,
        )
        return self._one("header", self.layout.header, view)

    def feed(self, records: Sequence[RatedCdr]) -> bytes:
        if not records:
            return b""
        width = self.layout.record_length
        expected = len(records) * (width + self._sep_bytes)
        data = self._fast(records)
        if data is None or (width and len(data) != expected):
            # jinja2 renders what the fast path could not, or raises the filter's own error.
            data = self._slow(records).encode()
        if width and len(data) != expected:
            for rated in records:  # find the record that broke the width, for the message
                self._one("detail", self.layout.detail, rated)
        self.totals.details += len(records)
        return data

    def _fast(self, records: Sequence[RatedCdr]) -> bytes | None:
        fast, sep = self.layout.detail_fast, self.layout._sep
        if fast is None:
            return None
        try:
            return (sep.join(map(fast, records)) + sep).encode()
        except (AttributeError, TypeError, ValueError, LayoutError):
            return None

    def _slow(self, records: Sequence[RatedCdr]) -> str:
        try:
            text: str = self.layout._chunk.render(rows=records, sep=self.layout._sep)
        except (jinja2.TemplateError, AttributeError, TypeError, ValueError) as exc:
            raise LayoutError(f"layout {self.layout.name}, detail record: {exc}") from exc
        return text

    def finish(self, lines: Sequence[InvoiceLine]) -> bytes:
        parts = [self._one("line", self.layout.line, line) for line in lines]
        self.totals.add_lines(lines)
        totals, ctx = self.totals, self.context
        view = FileTrailerView(
            totals.details,
            totals.lines,
            totals.details + totals.lines + 2,
            totals.amount_fen,
            totals.value_fen,
            str(ctx.period),
            f"{ctx.period.year:04d}{ctx.period.month:02d}",
            ctx.sequence,
        )
        parts.append(self._one("trailer", self.layout.trailer, view))
        return b"".join(parts)

    def header_patch(self) -> bytes:
        return b""

    def _one(self, what: str, macro: Any, value: object) -> bytes:
        try:
            text = str(macro(value))
        except LayoutError:
            raise
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            raise LayoutError(f"layout {self.layout.name}, {what} record: {exc}") from exc
        data = text.encode()
        width = self.layout.record_length
        if width and len(data) != width:
            raise LayoutError(
                f"layout {self.layout.name}: {what} record is {len(data)} bytes, not {width}"
            )
        return data + self.layout.record_separator.encode()
