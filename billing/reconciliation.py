"""Gathering the figures of a reconciliation report (``billing.reconcile`` compares them).

Rated: the month rated again now (``billing.jobs.rerating``). Exported: the month's export
lines. Ledger: the gateway's postings of the month and the cards whose last reported purse
balance should equal their ledger balance.
"""

from __future__ import annotations

from billing.errors import NotFound
from billing.jobs import rerating
from billing.period import Period
from billing.reconcile import CardBalance, ReconcileInput, ReconciliationReport, reconcile
from billing.repository import BillingRepo
from gateway.services.base import Deps


async def report(
    deps: Deps, period: Period, carrier_code: str | None = None, enterprise_id: int | None = None
) -> ReconciliationReport:
    """The month's report for a carrier's enterprises, or for one enterprise."""
    async with deps.uow(readonly=True) as uow:
        repo = BillingRepo(uow.session)
        if enterprise_id is not None:
            account = await repo.account(enterprise_id)
            if account is None:
                raise NotFound(f"enterprise {enterprise_id} has no billing account")
            carrier_code = account.carrier_code
        if carrier_code is None or await repo.carrier(carrier_code) is None:
            raise NotFound(f"no carrier {carrier_code}")
        found = await rerating(repo, carrier_code, period)
        names = found.names
        if enterprise_id is not None:
            names = {enterprise_id: names[enterprise_id]}
        ledger = await repo.ledger_totals(list(names), period.start(), period.end())
        balances = await repo.card_balances(list(names))
    wanted = set(names.values())
    data = ReconcileInput(
        period=period,
        rated=tuple(line for line in found.lines if line.enterprise_id in wanted),
        exported=None
        if found.exported is None
        else tuple(line for line in found.exported if line.enterprise_id in wanted),
        adjusted={key: fen for key, fen in found.adjusted.items() if key[0] in wanted},
        ledger={names[e]: totals for e, totals in ledger.items()},
        balances=tuple(
            CardBalance(names[e], iccid, card_fen, ledger_fen, source)
            for e, iccid, card_fen, ledger_fen, source in balances
        ),
    )
    return reconcile(data)
