"""Fee plans with effective-dated tariffs, and exact money arithmetic below the fen.

Money that is billed is integer fen (分). Prices may be finer than a fen (an SMS segment at
4.5 fen, a service fee prorated by 17/31 of a month), so rating works in *units*: an integer
number of ``1 / UNITS_PER_FEN`` fen, chosen so that every price (at most four decimals of a
fen) and every proration by days (denominator 28, 29, 30 or 31) is an exact integer of units.
Sums of units are exact; rounding to fen happens once, per invoice line, after summing
(``round_to_fen``), never per record.

Rounding rule: 四舍五入 on the exact value, half away from zero (0.5 fen -> 1 fen,
-0.5 fen -> -1 fen, so that an adjustment and the charge it reverses round alike).

A plan keeps all its tariffs; ``FeePlan.tariff_for(period)`` picks the one in force for that
month, so re-rating September after a price change in October still uses September's prices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import IntEnum, StrEnum
from typing import Any

from billing.cdr import OtaOperation, SmsKind
from billing.errors import NoTariff, TariffError
from billing.period import Period

#: Prices are given to 1/10000 fen.
E4_PER_FEN = 10_000
#: lcm(28, 29, 30, 31): a monthly price times days/days_in_month is an integer of units.
DAY_LCM = 377_580
UNITS_PER_E4 = DAY_LCM
UNITS_PER_FEN = E4_PER_FEN * DAY_LCM

#: Seed 5.1.2: 服务费 3-5 元/月/人. A plan outside the band is a typo, not a business decision.
SERVICE_FEE_BAND_FEN = (300, 500)


class ChargeItem(IntEnum):
    """An invoice line's item. The value is the ``chargeItem`` of the BER layout."""

    SERVICE_FEE = 1  # 服务费, per member-month (seed 5.1.2)
    SMS_BILL = 2
    SMS_NOTICE = 3
    SMS_SERVICE = 4
    OTA = 5
    TOPUP = 6  # top-up volume; charged only when the plan sets a top-up fee
    DEVICE = 7  # 设备费 (seed 5.1.1)
    INTEGRATION = 8  # 集成费 (seed 5.1.1)
    ADJUSTMENT = 9  # correction of a closed period (reference: "YYYY-MM/ITEM")


class Proration(StrEnum):
    """How a partial month of service is charged."""

    DAILY = "daily"  # fee x active days / days in the month
    FULL_MONTH = "full_month"  # any active day costs the whole month


def price_units(value: Decimal | int | str, what: str = "price") -> int:
    """Units of a non-negative price given in fen with at most four decimals."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise TariffError(f"{what}: not a number: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise TariffError(f"{what}: must be a finite non-negative amount of fen, got {value}")
    e4 = amount * E4_PER_FEN
    if e4 != e4.to_integral_value():
        raise TariffError(f"{what}: at most four decimals of a fen, got {value}")
    return int(e4) * UNITS_PER_E4


def round_to_fen(units: int) -> int:
    """Units to fen, half away from zero. Called once per invoice line."""
    quotient, remainder = divmod(abs(units), UNITS_PER_FEN)
    rounded = quotient + (2 * remainder >= UNITS_PER_FEN)
    return rounded if units >= 0 else -rounded


def units_to_e4(units: int) -> int:
    """Units to 1/10000 fen, half away from zero: the informative amount of a detail record."""
    quotient, remainder = divmod(abs(units), UNITS_PER_E4)
    rounded = quotient + (2 * remainder >= UNITS_PER_E4)
    return rounded if units >= 0 else -rounded


def format_e4(value_e4: int) -> str:
    """1/10000 fen as a decimal number of fen with four decimals, e.g. ``161.2903``."""
    sign = "-" if value_e4 < 0 else ""
    whole, frac = divmod(abs(value_e4), E4_PER_FEN)
    return f"{sign}{whole}.{frac:04d}"


def _dec(value: Decimal | int | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class Tariff:
    """The prices of a plan from ``effective_from`` until the plan's next tariff.

    Prices are fen (Decimal, up to four decimals). ``topup_percent`` is a percentage of the
    top-up amount with up to two decimals; top-ups cost nothing unless the plan sets a fee.
    """

    effective_from: Period
    service_fee: Decimal
    proration: Proration = Proration.DAILY
    sms_bill: Decimal = Decimal(0)
    sms_notice: Decimal = Decimal(0)
    sms_service: Decimal = Decimal(0)
    ota: Decimal = Decimal(0)
    ota_overrides: tuple[tuple[OtaOperation, Decimal], ...] = ()
    topup_fee: Decimal = Decimal(0)
    topup_percent: Decimal = Decimal(0)
    _units: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        units = {
            name: price_units(getattr(self, name), name)
            for name in ("service_fee", "sms_bill", "sms_notice", "sms_service", "ota", "topup_fee")
        }
        low, high = SERVICE_FEE_BAND_FEN
        if not low * UNITS_PER_FEN <= units["service_fee"] <= high * UNITS_PER_FEN:
            raise TariffError(
                f"service fee {self.service_fee} fen is outside {low}-{high} fen per member-month"
            )
        for operation, price in self.ota_overrides:
            units[f"ota:{OtaOperation(operation).name}"] = price_units(price, operation.name)
        percent = _dec(self.topup_percent)
        if not 0 <= percent <= 100 or percent * 100 != (percent * 100).to_integral_value():
            raise TariffError(f"topup_percent must be 0-100 with two decimals, got {percent}")
        # percent -> basis points -> units per fen of top-up: bp/10000 fen = bp * UNITS_PER_E4.
        units["topup_bp"] = int(percent * 100) * UNITS_PER_E4
        object.__setattr__(self, "_units", units)

    def units(self, name: str) -> int:
        return self._units[name]

    def sms_units(self, kind: SmsKind) -> int:
        return self._units[f"sms_{kind.name.lower()}"]

    def ota_units(self, operation: OtaOperation) -> int:
        return self._units.get(f"ota:{operation.name}", self._units["ota"])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, for the tariff history table and export job snapshots."""
        return {
            "effective_from": str(self.effective_from),
            "service_fee": str(self.service_fee),
            "proration": self.proration.value,
            "sms_bill": str(self.sms_bill),
            "sms_notice": str(self.sms_notice),
            "sms_service": str(self.sms_service),
            "ota": str(self.ota),
            "ota_overrides": {op.name: str(price) for op, price in self.ota_overrides},
            "topup_fee": str(self.topup_fee),
            "topup_percent": str(self.topup_percent),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tariff:
        try:
            overrides = tuple(
                (OtaOperation[name], _dec(price))
                for name, price in dict(data.get("ota_overrides", {})).items()
            )
            return cls(
                effective_from=Period.parse(str(data["effective_from"])),
                service_fee=_dec(data["service_fee"]),
                proration=Proration(data.get("proration", Proration.DAILY.value)),
                sms_bill=_dec(data.get("sms_bill", 0)),
                sms_notice=_dec(data.get("sms_notice", 0)),
                sms_service=_dec(data.get("sms_service", 0)),
                ota=_dec(data.get("ota", 0)),
                ota_overrides=overrides,
                topup_fee=_dec(data.get("topup_fee", 0)),
                topup_percent=_dec(data.get("topup_percent", 0)),
            )
        except (KeyError, ValueError, InvalidOperation, TypeError) as exc:
            raise TariffError(f"malformed tariff: {exc}") from exc


@dataclass(frozen=True)
class FeePlan:
    """An enterprise fee plan and its tariff history, oldest first."""

    code: str
    name: str
    tariffs: tuple[Tariff, ...]

    def __post_init__(self) -> None:
        if not self.tariffs:
            raise TariffError(f"plan {self.code} has no tariff")
        ordered = tuple(sorted(self.tariffs, key=lambda t: t.effective_from))
        starts = [t.effective_from for t in ordered]
        if len(set(starts)) != len(starts):
            raise TariffError(f"plan {self.code} has two tariffs starting the same month")
        object.__setattr__(self, "tariffs", ordered)

    def tariff_for(self, period: Period) -> Tariff:
        """The tariff in force for ``period``: the latest that starts no later than it."""
        found = None
        for tariff in self.tariffs:
            if tariff.effective_from <= period:
                found = tariff
        if found is None:
            raise NoTariff(f"plan {self.code} has no tariff in force for {period}")
        return found

    def with_tariff(self, tariff: Tariff) -> FeePlan:
        """The plan with ``tariff`` added, or replacing the one starting the same month."""
        kept = [t for t in self.tariffs if t.effective_from != tariff.effective_from]
        return FeePlan(self.code, self.name, (*kept, tariff))


def plans_by_code(plans: Iterable[FeePlan]) -> dict[str, FeePlan]:
    return {plan.code: plan for plan in plans}
