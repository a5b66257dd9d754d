"""What every export layout shares: the file's context, its totals, the encoder protocol and
the streaming pipeline that rates once and feeds every layout.

Encoders are sans-I/O: ``begin() -> bytes``, ``feed(chunk) -> bytes``, ``finish(lines) ->
bytes``, then ``header_patch()`` for layouts whose header holds counts only known at the end
(TS 32.297): the writer puts those bytes back at offset 0. Memory is bounded by one chunk of
records plus the invoice lines, whatever the number of records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from itertools import islice
from typing import Protocol, TypeVar

from billing.cdr import Cdr
from billing.period import BILLING_TZ, Period, aware
from billing.rating import InvoiceLine, LineBook, RatedCdr, Rater

CHUNK = 2000
T = TypeVar("T")


class LayoutKind(StrEnum):
    """The three families of export file."""

    CSV = "csv"  # template-driven, delimited
    FIXED = "fixed"  # template-driven, fixed-width
    BER = "ber"  # TS 32.297 CDR file, records in BER


@dataclass(frozen=True, slots=True)
class FileContext:
    """Everything about a file that is fixed before its first record.

    ``opened_at`` and ``closed_at`` come from the export job, never from the clock at write
    time, so that writing the file again gives the same bytes.
    """

    carrier: str
    node_id: str
    period: Period
    sequence: int
    opened_at: datetime
    closed_at: datetime
    node_address: str = "127.0.0.1"
    tz: tzinfo = BILLING_TZ

    def __post_init__(self) -> None:
        aware(self.opened_at)
        aware(self.closed_at)


@dataclass(slots=True)
class FileTotals:
    """Counts and sums of one file, as its trailer (or TS 32.297 header) states them."""

    details: int = 0
    lines: int = 0
    amount_fen: int = 0  # sum of the invoice lines, each rounded once
    value_fen: int = 0  # top-up, one-off and adjustment amounts carried by the records

    def add_lines(self, lines: Sequence[InvoiceLine]) -> None:
        self.lines += len(lines)
        for line in lines:
            self.amount_fen += line.amount_fen
            self.value_fen += line.value_fen


class FileEncoder(Protocol):
    kind: LayoutKind
    extension: str
    totals: FileTotals

    def begin(self) -> bytes: ...

    def feed(self, records: Sequence[RatedCdr]) -> bytes: ...

    def finish(self, lines: Sequence[InvoiceLine]) -> bytes: ...

    def header_patch(self) -> bytes: ...


class Sink(Protocol):
    """Where an encoder's bytes go: a file being written (``billing.files``) or a buffer."""

    def write(self, data: bytes) -> object: ...

    def patch_start(self, data: bytes) -> None: ...


@dataclass
class BufferSink:
    """An in-memory sink, for tests and small exports."""

    data: bytearray = field(default_factory=bytearray)

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def patch_start(self, data: bytes) -> None:
        self.data[: len(data)] = data


def chunks(records: Iterable[T], size: int = CHUNK) -> Iterable[list[T]]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


class ExportRun:
    """Rates a stream of records once and writes it through several encoders at the same time.

    Drive it with ``run(records)``, or, when records arrive in batches from elsewhere (a
    database cursor), with ``begin()``, ``feed(batch)`` for each batch, then ``finish()``.
    """

    def __init__(self, rater: Rater, outputs: Sequence[tuple[FileEncoder, Sink]]) -> None:
        self.rater = rater
        self.outputs = outputs
        self.book = LineBook(rater.period)
        self.done = 0
        self.lines: list[InvoiceLine] = []

    def begin(self) -> None:
        for encoder, sink in self.outputs:
            sink.write(encoder.begin())

    def feed(self, cdrs: Iterable[Cdr]) -> None:
        add, rate = self.book.add, self.rater.rate
        for batch in chunks(cdrs):
            chunk = list(map(rate, batch))
            for rated in chunk:
                add(rated)
            for encoder, sink in self.outputs:
                sink.write(encoder.feed(chunk))
            self.done += len(chunk)

    def finish(self) -> list[InvoiceLine]:
        self.lines = self.book.lines()
        for encoder, sink in self.outputs:
            sink.write(encoder.finish(self.lines))
            patch = encoder.header_patch()
            if patch:
                sink.patch_start(patch)
        return self.lines

    def run(self, cdrs: Iterable[Cdr], progress: ProgressFn | None = None) -> list[InvoiceLine]:
        """``progress`` is called with the number of records done after each chunk."""
        self.begin()
        for batch in chunks(cdrs):
            self.feed(batch)
            if progress is not None:
                progress(self.done)
        return self.finish()


class ProgressFn(Protocol):
    def __call__(self, done: int) -> object: ...
