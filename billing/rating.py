"""Rating: usage records priced with the tariff of their month, summed into invoice lines.

Pure functions over ``Cdr`` values; nothing here reads a clock, a file or a database.

- ``member_months`` derives the service-fee records of a month from membership events: one
  record per member (not per card: a replaced card keeps one member-month), whose quantity is
  the number of local days on which the member was in service at any moment.
- ``Rater`` prices one record in exact units (``billing.tariffs``); ``LineBook`` sums rated
  records per (enterprise, charge item, reference) and rounds each sum to fen once.
- ``adjustments`` compares a re-rating of a closed month with what was already billed for it
  and writes the difference as ADJUSTMENT records whose ids depend only on that difference, so
  running it twice never charges twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import NamedTuple

from billing.cdr import (
    BILLABLE_KINDS,
    MEMBERSHIP_KINDS,
    Cdr,
    CdrKind,
    OneOffItem,
    OtaOperation,
    SmsKind,
    make_cdr_id,
)
from billing.errors import RatingError
from billing.period import BILLING_TZ, Period, local_date
from billing.tariffs import UNITS_PER_FEN, ChargeItem, Proration, Tariff, round_to_fen

_TICK = timedelta(microseconds=1)

# ----------------------------------------------------------------------------- member-months


def member_months(events: Iterable[Cdr], period: Period, tz: tzinfo = BILLING_TZ) -> list[Cdr]:
    """MEMBER_MONTH records of ``period`` from the membership events up to its end.

    Events after the period are ignored; events before it tell who was still in service when
    it began. A START while in service and an END while out of service are ignored, so a
    duplicated event cannot open a second member-month.
    """
    by_member: dict[tuple[str, str], list[Cdr]] = defaultdict(list)
    end = period.end(tz)
    for event in events:
        if event.kind in MEMBERSHIP_KINDS and event.occurred_at < end:
            by_member[(event.enterprise_id, event.member_id)].append(event)
    records = []
    for (enterprise_id, member_id), member_events in sorted(by_member.items()):
        # At one instant an END comes before a START: deregistering and re-enrolling at the
        # same moment (a writer's way to swap cards) keeps the service open.
        member_events.sort(key=lambda e: (e.occurred_at, e.kind != CdrKind.SERVICE_END, e.cdr_id))
        days, msisdn, iccid = _active_days(member_events, period, tz)
        if days:
            records.append(
                Cdr(
                    cdr_id=make_cdr_id(CdrKind.MEMBER_MONTH, enterprise_id, member_id, str(period)),
                    kind=CdrKind.MEMBER_MONTH,
                    occurred_at=period.start(tz),
                    enterprise_id=enterprise_id,
                    member_id=member_id,
                    msisdn=msisdn,
                    iccid=iccid,
                    quantity=days,
                )
            )
    return records


def _active_days(events: list[Cdr], period: Period, tz: tzinfo) -> tuple[int, str, str]:
    """Days of ``period`` with service at any moment, and the member's last card in it."""
    start, end = period.start(tz), period.end(tz)
    since: datetime | None = None
    days: set[int] = set()
    msisdn = iccid = ""
    for event in events:
        if event.kind is CdrKind.SERVICE_END:
            if since is not None:
                days |= _days_between(since, event.occurred_at, start, end, tz)
                since = None
            continue
        if event.kind is CdrKind.SERVICE_START and since is None:
            since = event.occurred_at
        # The card in the member-month is the last one seen before the month ends.
        msisdn, iccid = event.msisdn or msisdn, event.iccid or iccid
    if since is not None:
        days |= _days_between(since, end, start, end, tz)
    return len(days), msisdn, iccid


def _days_between(
    since: datetime, until: datetime, start: datetime, end: datetime, tz: tzinfo
) -> set[int]:
    """Day numbers of the month touched by the half-open interval ``[since, until)``."""
    lo, hi = max(since, start), min(until, end)
    if hi <= lo:
        return set()
    first, last = local_date(lo, tz), local_date(hi - _TICK, tz)
    return set(range(first.day, last.day + 1))


# ----------------------------------------------------------------------------- rating


class RatedCdr(NamedTuple):
    """A record with its price. ``units`` is exact (``billing.tariffs``); never rounded here.

    ``quantity / quantity_base * unit_units`` is the amount for MEMBER_MONTH, SMS and OTA;
    TOPUP adds the percentage fee on ``value_fen``; for ONE_OFF and ADJUSTMENT the unit price
    is the record's amount.
    """

    cdr: Cdr
    item: ChargeItem
    quantity: int
    quantity_base: int
    unit_units: int
    units: int
    value_fen: int
    reference: str


_SMS_ITEMS = {
    SmsKind.BILL: ChargeItem.SMS_BILL,
    SmsKind.NOTICE: ChargeItem.SMS_NOTICE,
    SmsKind.SERVICE: ChargeItem.SMS_SERVICE,
}
_ONE_OFF_ITEMS = {
    OneOffItem.DEVICE: ChargeItem.DEVICE,
    OneOffItem.INTEGRATION: ChargeItem.INTEGRATION,
}


class Rater:
    """Prices records of one period with each enterprise's tariff for that period."""

    def __init__(self, period: Period, tariffs: Mapping[str, Tariff]) -> None:
        self.period = period
        self._tariffs = dict(tariffs)
        # Per-unit prices of SMS and OTA records, the bulk of a month, looked up by
        # (kind, detail) in one step; one table per distinct tariff, shared by enterprises.
        tables: dict[int, dict[tuple[CdrKind, str], tuple[ChargeItem, int]]] = {}
        self._unit_prices = {
            enterprise: tables.setdefault(id(tariff), _unit_price_table(tariff))
            for enterprise, tariff in self._tariffs.items()
        }
        self._by_kind: dict[CdrKind, Callable[[Cdr, Tariff], RatedCdr]] = {
            CdrKind.MEMBER_MONTH: self._member_month,
            CdrKind.SMS: self._unknown_detail,
            CdrKind.OTA: self._unknown_detail,
            CdrKind.TOPUP: self._topup,
            CdrKind.ONE_OFF: self._one_off,
            CdrKind.ADJUSTMENT: self._adjustment,
        }

    def rate(self, cdr: Cdr) -> RatedCdr:
        prices = self._unit_prices.get(cdr.enterprise_id)
        if prices is None:
            raise RatingError(f"enterprise {cdr.enterprise_id} has no fee plan for {self.period}")
        unit = prices.get((cdr.kind, cdr.detail))
        if unit is not None:
            quantity = cdr.quantity
            return RatedCdr(cdr, unit[0], quantity, 1, unit[1], unit[1] * quantity, 0, "")
        price = self._by_kind.get(cdr.kind)
        if price is None:
            raise RatingError(f"{cdr.kind.name} records are not billable (cdr {cdr.cdr_id})")
        return price(cdr, self._tariffs[cdr.enterprise_id])

    def rate_all(self, cdrs: Iterable[Cdr]) -> Iterator[RatedCdr]:
        rate = self.rate
        for cdr in cdrs:
            yield rate(cdr)

    def _member_month(self, cdr: Cdr, tariff: Tariff) -> RatedCdr:
        fee = tariff.units("service_fee")
        days = self.period.days
        if cdr.quantity > days:
            raise RatingError(f"member-month {cdr.cdr_id} has {cdr.quantity} days in {self.period}")
        if tariff.proration is Proration.FULL_MONTH:
            base, units = cdr.quantity, fee if cdr.quantity else 0
        else:
            # Exact: UNITS_PER_FEN is a multiple of every month length (tariffs.DAY_LCM).
            base, units = days, fee * cdr.quantity // days
        return RatedCdr(cdr, ChargeItem.SERVICE_FEE, cdr.quantity, base, fee, units, 0, "")

    def _unknown_detail(self, cdr: Cdr, tariff: Tariff) -> RatedCdr:
        raise RatingError(f"{cdr.kind.name} record {cdr.cdr_id} has unknown detail {cdr.detail!r}")

    def _topup(self, cdr: Cdr, tariff: Tariff) -> RatedCdr:
        fee = tariff.units("topup_fee")
        units = fee * cdr.quantity + tariff.units("topup_bp") * cdr.amount_fen
        return RatedCdr(cdr, ChargeItem.TOPUP, cdr.quantity, 1, fee, units, cdr.amount_fen, "")

    def _one_off(self, cdr: Cdr, tariff: Tariff) -> RatedCdr:
        units = cdr.amount_fen * UNITS_PER_FEN
        item = _ONE_OFF_ITEMS[OneOffItem[cdr.detail]]
        return RatedCdr(cdr, item, cdr.quantity, 1, units, units, cdr.amount_fen, cdr.reference)

    def _adjustment(self, cdr: Cdr, tariff: Tariff) -> RatedCdr:
        if cdr.detail not in ChargeItem.__members__:
            raise RatingError(f"adjustment {cdr.cdr_id} names no charge item: {cdr.detail!r}")
        units = cdr.amount_fen * UNITS_PER_FEN
        return RatedCdr(
            cdr, ChargeItem.ADJUSTMENT, cdr.quantity, 1, units, units, cdr.amount_fen, cdr.reference
        )


def _unit_price_table(tariff: Tariff) -> dict[tuple[CdrKind, str], tuple[ChargeItem, int]]:
    table = {
        (CdrKind.SMS, kind.name): (_SMS_ITEMS[kind], tariff.sms_units(kind)) for kind in SmsKind
    }
    for operation in OtaOperation:
        table[(CdrKind.OTA, operation.name)] = (ChargeItem.OTA, tariff.ota_units(operation))
    return table


# ----------------------------------------------------------------------------- invoice lines


class LineKey(NamedTuple):
    enterprise_id: str
    item: ChargeItem
    reference: str


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """The sum of an enterprise's records of one charge item, rounded to fen once."""

    period: Period
    enterprise_id: str
    item: ChargeItem
    reference: str
    records: int
    quantity: int
    units: int
    value_fen: int

    @property
    def amount_fen(self) -> int:
        return round_to_fen(self.units)

    @property
    def key(self) -> LineKey:
        return LineKey(self.enterprise_id, self.item, self.reference)


class LineBook:
    """Accumulates rated records into invoice lines; memory grows with lines, not records."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self._sums: dict[tuple[str, ChargeItem, str], list[int]] = {}

    def add(self, rated: RatedCdr) -> None:
        key = (rated.cdr.enterprise_id, rated.item, rated.reference)
        sums = self._sums.get(key)
        if sums is None:
            sums = self._sums[key] = [0, 0, 0, 0]
        sums[0] += 1
        sums[1] += rated.quantity
        sums[2] += rated.units
        sums[3] += rated.value_fen

    def lines(self) -> list[InvoiceLine]:
        """The lines, ordered by enterprise, item and reference (a stable file order)."""
        return [InvoiceLine(self.period, *key, *sums) for key, sums in sorted(self._sums.items())]


def rate_lines(rater: Rater, cdrs: Iterable[Cdr]) -> list[InvoiceLine]:
    book = LineBook(rater.period)
    for rated in rater.rate_all(cdr for cdr in cdrs if cdr.kind in BILLABLE_KINDS):
        book.add(rated)
    return book.lines()


# ----------------------------------------------------------------------------- re-rating


def adjustment_reference(period: Period, item: ChargeItem) -> str:
    return f"{period}/{item.name}"


def adjustments(
    period: Period,
    rerated: Iterable[InvoiceLine],
    billed: Mapping[tuple[str, ChargeItem], int],
    at: datetime,
) -> list[Cdr]:
    """ADJUSTMENT records that bring what was billed for ``period`` to the re-rated amounts.

    ``billed`` maps (enterprise, item) to the fen already billed for the period: the exported
    lines plus earlier adjustments. Adjustment lines themselves are never re-rated. A record's
    id depends on the period, the line and both amounts, so a repeated run before the first
    one's records are stored yields the same ids, and a run after it finds nothing to adjust.
    """
    target: dict[tuple[str, ChargeItem], int] = defaultdict(int)
    for line in rerated:
        if line.item is not ChargeItem.ADJUSTMENT:
            target[(line.enterprise_id, line.item)] += line.amount_fen
    records = []
    for enterprise_id, item in sorted(set(target) | set(billed)):
        want, have = target.get((enterprise_id, item), 0), billed.get((enterprise_id, item), 0)
        if want == have:
            continue
        reference = adjustment_reference(period, item)
        records.append(
            Cdr(
                cdr_id=make_cdr_id(CdrKind.ADJUSTMENT, enterprise_id, reference, want, have),
                kind=CdrKind.ADJUSTMENT,
                occurred_at=at,
                enterprise_id=enterprise_id,
                detail=item.name,
                amount_fen=want - have,
                reference=reference,
            )
        )
    return records
