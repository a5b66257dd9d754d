"""Export jobs against a real gateway: the month's story goes through the API (cards
registered, topped up, replaced, deregistered), the recorder writes the records, the export
writes the files. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from billing import jobs, recorder
from billing.cdr import OneOffItem, OtaOperation, SmsKind
from billing.errors import ChecksumMismatch, ExportError, NotFound
from billing.period import Period
from billing.repository import BillingRepo
from billing.tariffs import ChargeItem
from gateway.services.base import Deps
from tests.billing.conftest import Clock
from tests.gateway.helpers import Api, Reply, World, idem, new_iccid

OCT = Period(2026, 10)
V1 = "/api/v1"


async def record(deps: Deps, *cdrs: object) -> None:
    async with deps.uow() as uow:
        await recorder.record(uow.session, *cdrs, now=uow.clock())  # type: ignore[arg-type]
        await uow.commit()


async def october(api: Api, world: World, deps: Deps, clock: Clock) -> dict[str, str]:
    """The month: a top-up, SMS, an OTA operation, a replacement, a deregistration."""
    a = world.a
    first, second = a.cards[0]["iccid"], a.cards[1]["iccid"]
    member = int(a.members[0]["id"])
    clock.at(10, 8)
    reply = await terminal_topup(api, world, clock, first, 10_000)
    assert reply.status == 200 and reply["accepted"] == 1
    clock.at(10, 12)
    new = new_iccid()
    await api.ok(
        "POST", f"{V1}/cards/{first}/replace", token=a.token, key=idem(), body={"new_iccid": new}
    )
    clock.at(10, 15)
    await record(
        deps,
        recorder.sms_segments(
            a.id, member, a.members[0]["msisdn"], SmsKind.BILL, 3, "ob-1", clock.now
        ),
        recorder.ota_operation(a.id, member, new, OtaOperation.INSTALL, "ota-1", clock.now),
        *recorder.one_off(a.id, OneOffItem.DEVICE, 150_000, "order-1", OCT, instalments=3),
    )
    clock.at(10, 20, 15)
    await api.ok("POST", f"{V1}/cards/{second}/deregister", token=a.token, key=idem(), body={})
    clock.at(11, 1, 2)
    return {"first": first, "new": new, "second": second}


async def terminal_topup(api: Api, world: World, clock: Clock, iccid: str, fen: int) -> Reply:
    """A top-up terminal's upload, signed at the gateway's (test) time."""
    pos = world.a.terminals["topup"]
    path = f"{V1}/terminal/records"
    raw = json.dumps({"records": [pos.record("topup", iccid, amount_fen=fen)]}).encode()
    stamp = int(clock.now.timestamp())
    headers = {**pos.headers("POST", path, raw, stamp), "Content-Type": "application/json"}
    return await api.call("POST", path, token=None, data=raw, headers=headers)


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


async def test_month_export_writes_every_layout_with_checksums(
    bapi: Api, bworld: World, deps: Deps, clock: Clock, out: Path
) -> None:
    await october(bapi, bworld, deps, clock)
    result = await jobs.export(deps, "CMCC-GD", OCT, out)
    names = [f.name for f in result.files]
    assert names == [f"GW01_CMCC-GD_20261101_000001.{ext}" for ext in ("csv", "dat", "ber")]
    assert sorted(p.name for p in out.iterdir()) == sorted(names + [f"{n}.sha256" for n in names])
    rows = csv_rows(out / names[0])
    lines = {(r[1], r[2]): int(r[6]) for r in rows if r[0] == "L"}
    a, b = bworld.a.enterprise["code"], bworld.b.enterprise["code"]
    # A: 27 days (5-31, card replaced on the 12th: one member-month) + 16 days (5-20):
    # 500 x 43/31 = 693.55 fen, rounded once: 694 (per record: 435 + 258 = 693).
    assert lines[(a, "SERVICE_FEE")] == 694
    assert lines[(a, "SMS_BILL")] == 14 and lines[(a, "OTA")] == 10
    assert lines[(a, "TOPUP")] == 50 and lines[(a, "DEVICE")] == 50_000
    assert lines[(b, "SERVICE_FEE")] == 800  # two members, full-month plan
    trailer = rows[-1]
    assert trailer[0] == "T" and int(trailer[4]) == sum(lines.values()) == result.amount_fen
    months = [r for r in rows if r[0] == "D" and r[2] == "MEMBER_MONTH"]
    assert sorted((r[10], r[11]) for r in months if r[5] == a) == [("16", "31"), ("27", "31")]
    assert {f.amount_fen for f in result.files} == {result.amount_fen}


async def test_re_export_is_byte_identical_and_writes_only_what_is_missing(
    bapi: Api, bworld: World, deps: Deps, clock: Clock, out: Path
) -> None:
    await october(bapi, bworld, deps, clock)
    first = await jobs.export(deps, "CMCC-GD", OCT, out / "a")
    clock.at(12, 3)
    again = await jobs.export(deps, "CMCC-GD", OCT, out / "a")
    assert again.job_id == first.job_id and again.written == ()
    elsewhere = await jobs.export(deps, "CMCC-GD", OCT, out / "b")
    assert len(elsewhere.written) == 3
    for f in first.files:
        assert (out / "a" / f.name).read_bytes() == (out / "b" / f.name).read_bytes()
    (out / "a" / first.files[2].name).unlink()
    repaired = await jobs.export(deps, "CMCC-GD", OCT, out / "a")
    assert repaired.written == (first.files[2].name,)
    assert (out / "a" / first.files[2].name).read_bytes() == (
        out / "b" / first.files[2].name
    ).read_bytes()


async def test_late_records_are_billed_once_as_adjustments(
    bapi: Api, bworld: World, deps: Deps, clock: Clock, out: Path
) -> None:
    await october(bapi, bworld, deps, clock)
    exported = await jobs.export(deps, "CMCC-GD", OCT, out)
    a = bworld.a
    # An SMS of 30 October reaches billing on 2 November: October is already exported.
    clock.at(11, 2)
    late = recorder.sms_segments(
        a.id,
        None,
        a.members[2]["msisdn"],
        SmsKind.BILL,
        2,
        "ob-late",
        clock.now.replace(day=30, month=10),
    )
    await record(deps, late)
    again = await jobs.export(deps, "CMCC-GD", OCT, out / "again")
    assert [f.sha256 for f in again.files] == [f.sha256 for f in exported.files]
    (adjustment,) = await jobs.rerate(deps, "CMCC-GD", OCT)
    # The SMS line is now 5 x 4.5 = 22.5 -> 23 fen, of which 14 were billed.
    assert (adjustment.detail, adjustment.amount_fen) == ("SMS_BILL", 9)
    assert await jobs.rerate(deps, "CMCC-GD", OCT) == []
    # November's export carries it, referring to October.
    clock.at(12, 1, 2)
    november = await jobs.export(deps, "CMCC-GD", Period(2026, 11), out / "nov")
    rows = csv_rows(out / "nov" / november.files[0].name)
    assert [r for r in rows if r[0] == "L" and r[2] == "ADJUSTMENT"] == [
        ["L", a.enterprise["code"], "ADJUSTMENT", "2026-10/SMS_BILL", "1", "1", "9", "9"]
    ]
    assert november.files[0].sequence == 2


async def test_a_corrected_tariff_re_rates_the_month_it_belongs_to(
    bapi: Api, bworld: World, deps: Deps, clock: Clock, out: Path
) -> None:
    await october(bapi, bworld, deps, clock)
    await jobs.export(deps, "CMCC-GD", OCT, out)
    # The October service fee was wrong: 450, not 500. November's price is unchanged.
    await bapi.ok(
        "PUT",
        f"{V1}/billing/plans/STD",
        body={
            "name": "标准资费",
            "tariffs": [
                {
                    "effective_from": "2026-10",
                    "service_fee": "450",
                    "sms_bill": "4.5",
                    "ota": "10",
                    "topup_percent": "0.5",
                },
                {
                    "effective_from": "2026-11",
                    "service_fee": "500",
                    "sms_bill": "4.5",
                    "ota": "10",
                    "topup_percent": "0.5",
                },
            ],
        },
    )
    plan = await bapi.ok("GET", f"{V1}/billing/plans/STD")
    assert [t["effective_from"] for t in plan["tariffs"]] == ["2026-01", "2026-10", "2026-11"]
    (fix,) = await jobs.rerate(deps, "CMCC-GD", OCT)
    # 450 x 43/31 = 624.19 -> 624 instead of 694.
    assert (fix.detail, fix.amount_fen, fix.reference) == (
        "SERVICE_FEE",
        -70,
        "2026-10/SERVICE_FEE",
    )
    async with deps.uow(readonly=True) as uow:
        assert (await BillingRepo(uow.session).adjusted(OCT)) == {
            (bworld.a.id, ChargeItem.SERVICE_FEE): -70
        }


async def test_an_empty_month_still_gets_files_with_zero_trailers(
    bapi: Api, bworld: World, deps: Deps, clock: Clock, out: Path
) -> None:
    clock.at(11, 1, 2)
    result = await jobs.export(deps, "CMCC-GD", Period(2026, 9), out)
    assert result.records == 0
    rows = csv_rows(out / result.files[0].name)
    assert [r[0] for r in rows] == ["H", "T"] and rows[1][1:6] == ["0", "0", "2", "0", "0"]


async def test_a_month_is_exported_only_once_it_is_over(
    bapi: Api, bworld: World, deps: Deps, clock: Clock
) -> None:
    clock.at(10, 31, 23, 59)
    with pytest.raises(ExportError, match="not over"):
        await jobs.export(deps, "CMCC-GD", OCT)
    with pytest.raises(NotFound):
        await jobs.export(deps, "NOPE", Period(2026, 9))


async def test_a_file_that_would_differ_is_refused_not_overwritten(
    bapi: Api, bworld: World, deps: Deps, clock: Clock, out: Path
) -> None:
    await october(bapi, bworld, deps, clock)
    result = await jobs.export(deps, "CMCC-GD", OCT, out)
    async with deps.uow() as uow:  # tamper with what the job billed
        row = await BillingRepo(uow.session).job_by_id(result.job_id)
        assert row is not None
        row.tariffs = {code: {**t, "service_fee": "300"} for code, t in row.tariffs.items()}
        await uow.commit()
    target = out / "other"
    with pytest.raises(ChecksumMismatch):
        await jobs.run_job(deps, result.job_id, target)
    assert not any(p.suffix in (".csv", ".dat", ".ber") for p in target.iterdir())


async def test_job_views(bapi: Api, bworld: World, deps: Deps, clock: Clock, out: Path) -> None:
    await october(bapi, bworld, deps, clock)
    result = await jobs.export(deps, "CMCC-GD", OCT, out)
    view = await jobs.get_job(deps, result.job_id)
    assert view["state"] == "done" and len(view["files"]) == 3
    assert [j["job_id"] for j in await jobs.list_jobs(deps, "CMCC-GD")] == [result.job_id]
    with pytest.raises(NotFound):
        await jobs.get_job(deps, 999)
