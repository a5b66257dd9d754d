"""Billing configuration use cases: carriers, fee plans with their tariff history, accounts,
and one-off charges (seed 5.1.1: devices and integration, at once or in instalments).

Each runs in its own transaction of the gateway's unit of work (``Deps.uow()``) and returns
a JSON-ready view. Upserts are idempotent: sending the same configuration twice changes
nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from billing import recorder
from billing.cdr import OneOffItem
from billing.errors import ExportError, NotFound, TariffError
from billing.export import BER_LAYOUT, DEFAULT_LAYOUTS
from billing.export.text import load_layout
from billing.export.ts32297 import node_address_octets
from billing.files import DEFAULT_NAME_PATTERN, file_name
from billing.models import AccountRow, CarrierRow, PlanRow, TariffRow
from billing.period import Period
from billing.repository import BillingRepo
from billing.tariffs import Tariff
from gateway.services.base import Deps

View = dict[str, Any]


@dataclass(frozen=True)
class CarrierIn:
    code: str
    name: str
    node_id: str
    node_address: str = "127.0.0.1"
    layouts: tuple[str, ...] = DEFAULT_LAYOUTS
    name_pattern: str = DEFAULT_NAME_PATTERN
    template_dir: str | None = None

    def check(self) -> None:
        """Refuse a configuration whose files could not be written, before any export."""
        node_address_octets(self.node_address)
        if not self.layouts or len(set(self.layouts)) != len(self.layouts):
            raise ExportError("a carrier needs distinct layouts")
        search = (self.template_dir,) if self.template_dir else ()
        names = set()
        for layout in self.layouts:
            ext = "ber" if layout == BER_LAYOUT else load_layout(layout, search).extension
            names.add(
                file_name(
                    self.name_pattern,
                    node=self.node_id,
                    carrier=self.code,
                    period=Period(2026, 1),
                    sequence=1,
                    opened_at=Period(2026, 2).start(),
                    extension=ext,
                )
            )
        if len(names) != len(self.layouts):
            raise ExportError(
                "two layouts would get the same file name; add {ext} or a "
                "distinct extension to the name pattern"
            )


def carrier_view(row: CarrierRow) -> View:
    return {
        "code": row.code,
        "name": row.name,
        "node_id": row.node_id,
        "node_address": row.node_address,
        "layouts": list(row.layouts),
        "name_pattern": row.name_pattern,
        "template_dir": row.template_dir,
    }


async def put_carrier(deps: Deps, cmd: CarrierIn) -> View:
    cmd.check()
    async with deps.uow() as uow:
        repo, now = BillingRepo(uow.session), uow.clock()
        row = await repo.carrier(cmd.code, for_update=True)
        if row is None:
            row = CarrierRow(code=cmd.code, created_at=now)
            repo.add(row)
        row.name, row.node_id, row.node_address = cmd.name, cmd.node_id, cmd.node_address
        row.layouts, row.name_pattern = list(cmd.layouts), cmd.name_pattern
        row.template_dir, row.updated_at = cmd.template_dir, now
        await uow.commit()
        return carrier_view(row)


async def list_carriers(deps: Deps) -> list[View]:
    async with deps.uow(readonly=True) as uow:
        return [carrier_view(row) for row in await BillingRepo(uow.session).carriers()]


async def put_plan(deps: Deps, code: str, name: str, tariffs: Sequence[Tariff]) -> View:
    """Create or update a plan; each tariff is added, or replaces the one of the same month.

    Tariffs of other months are kept: history is never rewritten by omission.
    """
    if not tariffs:
        raise TariffError("a plan needs at least one tariff")
    async with deps.uow() as uow:
        repo, now = BillingRepo(uow.session), uow.clock()
        plan = await repo.plan_row(code)
        if plan is None:
            repo.add(PlanRow(code=code, name=name, created_at=now))
        else:
            plan.name = name
        existing = {row.effective_from: row for row in await repo.tariff_rows([code])}
        for tariff in tariffs:
            row = existing.get(str(tariff.effective_from))
            if row is None:
                repo.add(
                    TariffRow(
                        plan_code=code,
                        effective_from=str(tariff.effective_from),
                        prices=tariff.to_dict(),
                        created_at=now,
                        updated_at=now,
                    )
                )
            elif row.prices != tariff.to_dict():
                row.prices, row.updated_at = tariff.to_dict(), now
        await uow.flush()
        view = await _plan_view(repo, code)
        await uow.commit()
        return view


async def get_plan(deps: Deps, code: str) -> View:
    async with deps.uow(readonly=True) as uow:
        return await _plan_view(BillingRepo(uow.session), code)


async def _plan_view(repo: BillingRepo, code: str) -> View:
    plan = (await repo.plans([code])).get(code)
    if plan is None:
        raise NotFound(f"no fee plan {code}")
    return {"code": plan.code, "name": plan.name, "tariffs": [t.to_dict() for t in plan.tariffs]}


async def put_account(
    deps: Deps, enterprise_id: int, carrier_code: str, plan_code: str, group_account: str = ""
) -> View:
    async with deps.uow() as uow:
        repo, now = BillingRepo(uow.session), uow.clock()
        if await repo.enterprise_code(enterprise_id) is None:
            raise NotFound(f"no enterprise {enterprise_id}")
        if await repo.carrier(carrier_code) is None:
            raise NotFound(f"no carrier {carrier_code}")
        if await repo.plan_row(plan_code) is None:
            raise NotFound(f"no fee plan {plan_code}")
        row = await repo.account(enterprise_id)
        if row is None:
            row = AccountRow(enterprise_id=enterprise_id, created_at=now)
            repo.add(row)
        row.carrier_code, row.plan_code = carrier_code, plan_code
        row.group_account, row.updated_at = group_account, now
        await uow.commit()
        return {
            "enterprise_id": enterprise_id,
            "carrier": carrier_code,
            "plan": plan_code,
            "group_account": group_account,
        }


async def charge_one_off(deps: Deps, enterprise_id: int, item: OneOffItem, amount_fen: int,
                         order_ref: str, first: Period, instalments: int = 1) -> View:
    """Record a one-off charge; the same order again records nothing new (stable ids)."""
    records = recorder.one_off(enterprise_id, item, amount_fen, order_ref, first, instalments)
    async with deps.uow() as uow:
        if await BillingRepo(uow.session).enterprise_code(enterprise_id) is None:
            raise NotFound(f"no enterprise {enterprise_id}")
        added = await recorder.record(uow.session, *records, now=uow.clock())
        await uow.commit()
    return {"enterprise_id": enterprise_id, "item": item.name, "order": order_ref,
            "recorded": added, "instalments": [
                {"cdr_id": r.cdr_id, "period": str(Period.of(r.occurred_at)),
                 "amount_fen": r.amount_fen, "reference": r.reference} for r in records]}
