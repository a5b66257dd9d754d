"""Reconciliation against the gateway's ledger: rated vs exported vs ledger, card vs ledger."""

from __future__ import annotations

import json

from billing import jobs, reconciliation
from billing.period import Period
from billing.reconcile import FindingCode
from gateway.services import ota_reconcile
from gateway.services.base import Deps
from tests.billing.conftest import Clock
from tests.gateway.helpers import Api, World

OCT = Period(2026, 10)


async def upload(api: Api, world: World, clock: Clock, records: list[dict[str, object]]) -> None:
    pos = world.b.terminals["topup"]
    path = "/api/v1/terminal/records"
    raw = json.dumps({"records": records}).encode()
    headers = {
        **pos.headers("POST", path, raw, int(clock.now.timestamp())),
        "Content-Type": "application/json",
    }
    reply = await api.call("POST", path, token=None, data=raw, headers=headers)
    assert reply.status == 200, reply.body


async def test_month_reconciles_after_export_and_flags_card_differences(
    bapi: Api, bworld: World, deps: Deps, clock: Clock, out: object
) -> None:
    b = bworld.b
    pos = b.terminals["topup"]
    clock.at(10, 7)
    # The card says 4,000 fen after a 5,000 fen top-up on an empty purse: it lost a credit.
    await upload(
        bapi,
        bworld,
        clock,
        [
            pos.record("topup", b.iccid, amount_fen=5_000, card_balance_fen=4_000),
            pos.record("topup", b.cards[1]["iccid"], amount_fen=2_000, card_balance_fen=2_000),
        ],
    )
    clock.at(11, 1, 2)
    before = await reconciliation.report(deps, OCT, "CMCC-GD")
    codes = {e.enterprise_id: [f.code for f in e.findings] for e in before.enterprises}
    assert codes[b.enterprise["code"]] == [FindingCode.NOT_EXPORTED, FindingCode.BALANCE_MISMATCH]
    assert codes[bworld.a.enterprise["code"]] == [FindingCode.NOT_EXPORTED]

    await jobs.export(deps, "CMCC-GD", OCT, out)  # type: ignore[arg-type]
    after = await reconciliation.report(deps, OCT, enterprise_id=b.id)
    (mine,) = after.enterprises
    assert [f.code for f in mine.findings] == [FindingCode.BALANCE_MISMATCH]
    assert (mine.rated_fen, mine.exported_fen) == (800, 800)
    assert (mine.topup_records, mine.topup_records_fen) == (2, 7_000)
    assert (mine.ledger.topup_count, mine.ledger.topup_fen) == (2, 7_000)
    (card,) = mine.balance_mismatches
    assert (card.iccid, card.card_fen, card.ledger_fen) == (b.iccid, 4_000, 5_000)


async def test_balance_reported_by_a_por_counts_when_newer_than_the_terminal_record(
    bapi: Api, bworld: World, deps: Deps, clock: Clock
) -> None:
    b = bworld.b
    pos = b.terminals["topup"]
    other = b.cards[1]
    clock.at(10, 7)
    await upload(
        bapi, bworld, clock, [pos.record("topup", other["iccid"], amount_fen=2_000,
                                         card_balance_fen=2_000)]
    )
    clock.at(11, 1, 2)
    report = await reconciliation.report(deps, OCT, enterprise_id=b.id)
    assert report.enterprises[0].balance_mismatches == ()

    # Later, an over-the-air top-up's PoR says the purse holds 1,500 fen: a purchase was made
    # offline and not uploaded yet. The PoR is newer than the terminal's record, so it counts.
    clock.at(11, 1, 3)
    async with deps.uow() as uow:
        await ota_reconcile.report(
            uow, card_id=int(other["id"]), enterprise_id=b.id, source="por",
            reference="job:1", reported_fen=1_500,
        )
        await uow.commit()
    clock.at(11, 1, 4)
    report = await reconciliation.report(deps, OCT, enterprise_id=b.id)
    (card,) = report.enterprises[0].balance_mismatches
    assert (card.iccid, card.card_fen, card.ledger_fen, card.source) == (
        other["iccid"], 1_500, 2_000, "por")
    assert report.to_dict()["enterprises"][0]["balance_mismatches"][0]["source"] == "por"
