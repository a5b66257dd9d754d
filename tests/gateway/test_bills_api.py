"""Bills over the API on a real gateway (SQLite, and PostgreSQL where marked): settings and
shift rules, templates refused with their segment count, previews, bill runs computed from the
terminal records, reports in JSON and CSV, cancel, schedules, tenant scoping.

No SMSC here: the bills wait in the outbox (``test_bills_e2e`` sends them to handsets).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.bills import jobs, schedule
from gateway.bills.errors import TemplateInvalid
from gateway.bills.offload import Offload
from gateway.bills.render import Compiled
from gateway.db.models_bills import BillRun, BillRunMember, RunState
from gateway.db.models_outbox import OutboxMessage
from gateway.errors import StorageUnavailable
from gateway.settings import Settings, SettingsError
from gateway.workers.bills import BILL_WORKER, BillWorkerSettings
from tests.gateway.bills_support import (
    V1,
    JumpClock,
    Records,
    client_with_clock,
    cn,
    deps_of,
    on,
    run_done,
    workdays,
)
from tests.gateway.helpers import Api, World, idem, tenant

OCTOBER = workdays(2026, 10)  # 22 working days


@pytest.fixture
def clock() -> JumpClock:
    return JumpClock(cn(2026, 9, 30, 12, 0))


@pytest.fixture
async def bworld(settings: Settings, clock: JumpClock,
                 aiohttp_client: Any) -> AsyncIterator[World]:
    """Two tenants enrolled on 30 September, with October's records; the clock then on
    2 November. (``settings`` comes first, so that the gateway and its bill worker stop before
    a PostgreSQL test schema is dropped.)"""
    api = Api(await client_with_clock(aiohttp_client, settings, clock))
    world = World(api, await tenant(api, "ENT-A"), await tenant(api, "ENT-B"))
    recs = Records(api, world.a)
    first, second = world.a.cards[0]["iccid"], world.a.cards[1]["iccid"]
    await recs.punches(first, [on(d, 8, 50) for d in OCTOBER] + [on(d, 18, 5) for d in OCTOBER])
    late = OCTOBER[:10]  # ten days on time, two late, one early, the rest absent
    await recs.punches(second, [on(d, 8, 58) for d in late[:8]] + [on(d, 18, 1) for d in late]
                       + [on(late[8], 9, 20), on(late[9], 9, 30), on(OCTOBER[10], 8, 55),
                          on(OCTOBER[10], 17, 0)])
    await recs.topup(first, cn(2026, 10, 1, 8, 0), 20000)
    await recs.purchases(first, [(on(d, 12, 0), 1250) for d in OCTOBER[:4]])
    await recs.purchases(first, [(cn(2026, 11, 1, 12, 0), 900)])  # November: not in October
    clock.jump(cn(2026, 11, 2, 10, 0))
    yield world


async def start(world: World, token: str, **body: Any) -> dict[str, Any]:
    run: dict[str, Any] = await world.api.ok("POST", f"{V1}/bill-runs", token=token,
                                             body={"period": "2026-10", **body}, key=idem())
    return run


async def outbox_texts(api: Api, batch_id: str) -> dict[int | None, list[str]]:
    async with deps_of(api).uow(readonly=True) as uow:
        rows = await uow.session.execute(select(OutboxMessage.member_id, OutboxMessage.text)
                                         .where(OutboxMessage.batch_id == batch_id)
                                         .order_by(OutboxMessage.id))
        out: dict[int | None, list[str]] = {}
        for member_id, text in rows:
            out.setdefault(member_id, []).append(text)
        return out


async def test_a_bill_run_bills_every_member_from_the_records(bworld: World) -> None:
    api, a = bworld.api, bworld.a
    run = await start(bworld, a.token)
    assert run["state"] == "pending" and run["progress"]["total"] == 3
    assert run["kinds"] == ["attendance", "consumption"]
    done = await run_done(api, run["id"], a.token)
    assert done["state"] == "done" and done["progress"]["processed"] == 3
    assert done["progress"]["queued"] == 6 and done["sms"]["queued"] == 6
    texts = await outbox_texts(api, done["batch_id"])
    m0, m1, m2 = (m["id"] for m in a.members)
    assert texts[m0] == [
        "【一卡通】成员0您好，2026年10月考勤：应出勤22天，实出勤22天，迟到0次，早退0次，"
        "缺勤0天。如有异议请联系考勤管理员。回TD退订",
        "【一卡通】成员0您好，2026年10月您在ENT-A Ltd消费4笔，共50.00元，充值1笔，"
        "共200.00元，当前余额141.00元。回TD退订"]
    assert "实出勤11天，迟到2次，早退1次，缺勤11天" in texts[m1][0]
    assert "消费0笔，共0.00元" in texts[m1][1] and "当前余额0.00元" in texts[m1][1]
    assert "实出勤0天" in texts[m2][0] and "缺勤22天" in texts[m2][0]
    assert "余额" not in texts[m2][1]  # no card, no purse


async def test_punches_at_another_enterprises_clock_do_not_count(bworld: World,
                                                                 clock: JumpClock) -> None:
    api, a, b = bworld.api, bworld.a, bworld.b
    clock.jump(cn(2026, 10, 30, 12, 0))
    await Records(api, a).punches(b.cards[0]["iccid"], [on(d, 8, 50) for d in OCTOBER])
    clock.jump(cn(2026, 11, 2, 10, 0))
    member = b.members[0]
    preview = await api.ok("POST", f"{V1}/bill-templates/attendance/preview", token=b.token,
                           body={"member_id": member["id"], "period": "2026-10"})
    assert "实出勤0天" in preview["text"] and "缺勤22天" in preview["text"]


async def test_report_json_and_csv(bworld: World) -> None:
    api, a = bworld.api, bworld.a
    run = await run_done(api, (await start(bworld, a.token, kinds=["attendance"]))["id"])
    report = await api.ok("GET", f"{V1}/bill-runs/{run['id']}/report", token=a.token)
    segments = report["summary"].pop("segments")
    assert report["summary"] == {"members": 3, "billed": 3, "sent": 0, "delivered": 0,
                                 "failed": 0, "pending": 3, "opted_out": 0, "too_long": 0,
                                 "cancelled": 0}
    reply = await api.call("GET", f"{V1}/bill-runs/{run['id']}/report.csv", token=a.token)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/csv")
    assert isinstance(reply.body, str) and reply.body.startswith("\ufeff")
    lines = list(csv.DictReader(io.StringIO(reply.body.lstrip("\ufeff"))))
    assert [row["member_id"] for row in lines] == [str(m["id"]) for m in a.members]
    assert {row["outcome"] for row in lines} == {"queued"}
    assert {row["sms_state"] for row in lines} == {"queued"}
    assert lines[0]["name"] == "成员0"
    assert sum(int(row["segments"]) for row in lines) == segments


async def test_each_member_is_billed_once_and_the_period_only_once(bworld: World) -> None:
    api, a = bworld.api, bworld.a
    run = await run_done(api, (await start(bworld, a.token))["id"])
    again = await api.call("POST", f"{V1}/bill-runs", token=a.token,
                           body={"period": "2026-10", "kinds": ["consumption"]}, key=idem())
    assert again.status == 409 and again["error"] == "already_billed"
    assert again.body["run_id"] == run["id"]
    forced = await run_done(api, (await start(bworld, a.token, kinds=["consumption"],
                                              force=True))["id"])
    assert forced["progress"]["queued"] == 3
    async with deps_of(api).uow(readonly=True) as uow:
        counts = (await uow.session.execute(
            select(OutboxMessage.batch_id, func.count()).group_by(OutboxMessage.batch_id)
            .order_by(OutboxMessage.batch_id))).all()
    assert counts == [(run["batch_id"], 6), (forced["batch_id"], 3)]


async def test_opted_out_members_are_not_billed(bworld: World) -> None:
    api, a = bworld.api, bworld.a
    member = a.members[1]
    added = await api.ok("POST", f"{V1}/opt-outs", token=a.token,
                         body={"member_id": member["id"]}, key=idem(), status=201)
    assert added["source"] == "api" and added["new"] is True
    run = await run_done(api, (await start(bworld, a.token))["id"])
    assert run["progress"]["opted_out"] == 2 and run["progress"]["queued"] == 4
    texts = await outbox_texts(api, run["batch_id"])
    assert member["id"] not in texts
    report = await api.ok("GET", f"{V1}/bill-runs/{run['id']}/report", token=a.token)
    assert report["summary"]["opted_out"] == 2
    reply = await api.call("GET", f"{V1}/bill-runs/{run['id']}/report.csv", token=a.token)
    lines = list(csv.DictReader(io.StringIO(reply.body.lstrip("\ufeff"))))
    assert [(int(r["member_id"]), r["kind"], r["outcome"]) for r in lines] == [
        (m["id"], kind, "opted_out" if m is member else "queued")
        for m in a.members for kind in ("attendance", "consumption")]
    async with deps_of(api).uow(readonly=True) as uow:
        skipped = (await uow.session.execute(select(BillRunMember.member_id, BillRunMember.kind,
                                                    BillRunMember.outcome))).all()
    assert sorted((m, k, o.value) for m, k, o in skipped) == [
        (member["id"], "attendance", "opted_out"), (member["id"], "consumption", "opted_out")]


async def test_a_template_over_the_limit_is_refused_with_its_count(bworld: World) -> None:
    api, a = bworld.api, bworld.a
    long = "{{ member.name }}您好，" + "本月考勤详情如下，请仔细核对。" * 14
    reply = await api.call("PUT", f"{V1}/bill-templates/attendance", token=a.token,
                           body={"source": long}, key=idem())
    assert reply.status == 422 and reply["error"] == "too_many_segments"
    assert reply.body["segments"] == 4 and reply.body["limit"] == 3
    await api.ok("PUT", f"{V1}/bill-settings", token=a.token, body={"max_segments": 4},
                 key=idem())
    stored = await api.ok("PUT", f"{V1}/bill-templates/attendance", token=a.token,
                          body={"source": long}, key=idem())
    assert stored["custom"] and stored["version"] == 1 and stored["sample"]["segments"] == 4
    bad = await api.call("PUT", f"{V1}/bill-templates/attendance", token=a.token,
                         body={"source": "{{ a.present "}, key=idem())
    assert bad.status == 422 and bad["error"] == "template_invalid" and "line 1" in bad["detail"]


async def test_preview_with_a_members_real_bill(bworld: World) -> None:
    api, a = bworld.api, bworld.a
    member = a.members[1]
    preview = await api.ok("POST", f"{V1}/bill-templates/attendance/preview", token=a.token,
                           body={"member_id": member["id"], "period": "2026-10"})
    assert preview["sample"] is False and preview["segments"] == 1
    assert "实出勤11天，迟到2次" in preview["text"]
    custom = await api.ok("POST", f"{V1}/bill-templates/consumption/preview", token=a.token,
                          body={"source": "{{ member.name }}消费{{ c.spent_fen|yuan }}元",
                                "member_id": a.members[0]["id"], "period": "2026-10"})
    assert custom["text"] == "【一卡通】成员0消费50.00元。回TD退订" and custom["segments"] == 1
    sample = await api.ok("POST", f"{V1}/bill-templates/wages/preview", token=a.token, body={})
    assert sample["sample"] is True and "实发7415.50元" in sample["text"]
    listing = await api.ok("GET", f"{V1}/bill-templates", token=a.token)
    assert [t["kind"] for t in listing["items"]] == ["attendance", "consumption", "piece_rate",
                                                     "wages", "general"]


async def test_shift_rules_change_the_bill(bworld: World) -> None:
    api, a = bworld.api, bworld.a
    settings = await api.ok("PUT", f"{V1}/bill-settings", token=a.token, key=idem(), body={
        "shift_rules": {"work_start": "09:30", "late_grace_min": 0},
        "opt_out_text": "回R拒收"})
    assert settings["shift_rules"]["work_start"] == "09:30"
    preview = await api.ok("POST", f"{V1}/bill-templates/attendance/preview", token=a.token,
                           body={"member_id": a.members[1]["id"], "period": "2026-10"})
    assert "迟到0次" in preview["text"] and preview["text"].endswith("回R拒收")
    bad = await api.call("PUT", f"{V1}/bill-settings", token=a.token, key=idem(), body={
        "shift_rules": {"work_start": "09:30", "holidays": ["2026-02-30"]}})
    assert bad.status == 422 and bad.body["field"] == "shift_rules.holidays"


async def test_cancel_stops_a_run_and_withdraws_what_was_not_sent(bworld: World) -> None:
    api, a = bworld.api, bworld.a
    await api.client.app[BILL_WORKER].close()  # this test drives the run itself
    run = await start(bworld, a.token)
    deps = deps_of(api)
    assert await jobs.claim(deps, "test-worker") == run["id"]
    batches = iter([False, True])  # one batch, then "stopping"
    half = await jobs.execute(deps, run["id"], "test-worker", batch_size=1,
                              stopping=lambda: next(batches))
    assert (half.state, half.processed) == (RunState.RUNNING, 1)
    cancelled = await api.ok("POST", f"{V1}/bill-runs/{run['id']}/cancel", token=a.token,
                             key=idem())
    assert cancelled["state"] == "cancelled" and cancelled["withdrawn"] == 2
    assert await jobs.claim(deps, "another-worker") is None  # nobody resumes it
    report = await api.ok("GET", f"{V1}/bill-runs/{run['id']}/report", token=a.token)
    assert report["summary"]["cancelled"] == 2 and report["summary"]["pending"] == 0
    again = await api.call("POST", f"{V1}/bill-runs/{run['id']}/cancel", token=a.token)
    assert again.status == 409 and again["error"] == "invalid_state"
    # A cancelled run does not count as billed: the period may be billed again.
    assert (await start(bworld, a.token))["state"] == "pending"


async def test_bad_runs_are_refused(bworld: World) -> None:
    api, a = bworld.api, bworld.a
    for body, status, code in [
        ({"period": "2026-13"}, 422, "period_invalid"),
        ({"period": "2026-12"}, 422, "validation_failed"),  # not started yet
        ({"period": "2026-10", "kinds": ["wages"]}, 422, "validation_failed"),
        ({"period": "2026-10", "enterprise_id": bworld.b.id}, 403, "forbidden"),
    ]:
        reply = await api.call("POST", f"{V1}/bill-runs", token=a.token, body=body, key=idem())
        assert (reply.status, reply["error"]) == (status, code), (body, reply.body)
    # The operator names the enterprise.
    reply = await api.call("POST", f"{V1}/bill-runs", body={"period": "2026-10"}, key=idem())
    assert reply.status == 422 and reply.body["field"] == "enterprise_id"


async def test_lists_are_scoped_to_the_tenant(bworld: World) -> None:
    api, a, b = bworld.api, bworld.a, bworld.b
    run = await start(bworld, a.token)
    assert [r["id"] for r in (await api.ok("GET", f"{V1}/bill-runs", token=a.token))["items"]
            ] == [run["id"]]
    assert (await api.ok("GET", f"{V1}/bill-runs", token=b.token))["items"] == []
    assert (await api.call("GET", f"{V1}/bill-runs/{run['id']}", token=b.token)).status == 404
    operator = await api.ok("GET", f"{V1}/bill-runs", params={"enterprise_id": a.id})
    assert [r["id"] for r in operator["items"]] == [run["id"]]


async def test_schedules_start_runs_when_due(bworld: World, clock: JumpClock) -> None:
    api, a = bworld.api, bworld.a
    clock.jump(cn(2026, 10, 15, 10, 0))  # the schedule exists before October ends
    made = await api.ok("PUT", f"{V1}/bill-schedules/monthly", token=a.token, key=idem(),
                        body={"kinds": ["attendance"], "send_at": "09:00"})
    assert made["cadence"] == "monthly" and made["enabled"]
    deps = deps_of(api)
    assert await schedule.tick(deps) == []  # September ended before the schedule existed
    clock.jump(cn(2026, 11, 1, 8, 59))
    assert await schedule.tick(deps) == []  # not yet 09:00
    clock.jump(cn(2026, 11, 1, 9, 0) + timedelta(seconds=1))
    (run_id,) = await schedule.tick(deps)
    assert await schedule.tick(deps) == []  # once
    run = await run_done(api, run_id, a.token)
    assert run["trigger"] == "schedule" and run["period"] == "2026-10"
    listing = await api.ok("GET", f"{V1}/bill-schedules", token=a.token)
    assert [s["cadence"] for s in listing["items"]] == ["monthly"]
    await api.ok("DELETE", f"{V1}/bill-schedules/monthly", token=a.token, key=idem())
    assert (await api.call("DELETE", f"{V1}/bill-schedules/monthly", token=a.token,
                           key=idem())).status == 404


async def test_a_worker_process_prepares_the_batches_the_loop_would(bworld: World) -> None:
    """``[bills] processes``: the worker process reads and renders a batch exactly as the
    event loop would, relays a template's failure as it is, and a worker that died fails
    its batch as retryable, the next batch going to a new one."""
    api, a = bworld.api, bworld.a
    await api.client.app[BILL_WORKER].close()  # this test drives the batches itself
    run = await start(bworld, a.token, kinds=["both"])
    deps = deps_of(api)
    assert await jobs.claim(deps, "test-worker") == run["id"]
    async with deps.uow(readonly=True) as uow:
        row = await uow.session.get(BillRun, run["id"])
        assert row is not None
        plan = await jobs.plan_of(uow, row)
    broken = dataclasses.replace(plan, templates={
        kind: Compiled(kind, "{{ nope }}", plan.cfg.policy) for kind in plan.kinds})
    offload = Offload(deps.settings)
    try:
        here = await jobs._prepare(deps, plan, 0, 10)
        there = await offload.prepare(plan, 0, 10)
        assert there == here and there.members == len(a.members) and there.items
        assert (await offload.prepare(plan, there.last, 10)).members == 0
        with pytest.raises(TemplateInvalid) as in_loop:
            await jobs._prepare(deps, broken, 0, 10)
        with pytest.raises(TemplateInvalid) as relayed:
            await offload.prepare(broken, 0, 10)
        assert relayed.value.detail == in_loop.value.detail
        pool = offload._pool
        assert pool is not None
        for process in list(pool._processes.values()):
            process.kill()
            process.join()
        with pytest.raises(StorageUnavailable):
            await offload.prepare(plan, 0, 10)
        assert await offload.prepare(plan, 0, 10) == here
    finally:
        offload.close()


def test_the_bill_worker_settings() -> None:
    assert BillWorkerSettings.from_extra({}).processes == 1
    assert BillWorkerSettings.from_extra({"bills": {"processes": 0}}).processes == 0
    for bad in ({"processes": 2}, {"processes": True}, {"batch_size": 0}, {"workers": 1}):
        with pytest.raises(SettingsError):
            BillWorkerSettings.from_extra({"bills": bad})
