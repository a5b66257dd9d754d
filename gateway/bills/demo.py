"""The bill story of ``onecard demo`` (考勤账单、消费帐单通知), over the gateway's APIs only.

1. The demo enterprise installs an attendance terminal and a canteen POS (``POST
   /terminals``); they upload the day's punches and a purchase through the signed terminal
   API, as real terminals do after reading the members' cards.
2. The admin starts a bill run for the day (``POST /bill-runs``, both kinds, urgent so that
   the demo need not wait out quiet hours) and follows it to its report.
3. The bills are read from the members' handset inboxes: each member's attendance and
   consumption bill, Chinese text with the enterprise's signature, arrived whole through the
   SMSC simulator.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import TYPE_CHECKING, Any

from gateway.notices import CHINA, yuan
from gateway.services.terminals import sign

if TYPE_CHECKING:
    from gateway.commands.demo import Demo

WAIT_S = 30
LUNCH_FEN = 1250


async def story(demo: Demo) -> None:
    from gateway.commands.demo import StoryFailed

    # The demo company works every day and its attendance days are calendar days, so that the
    # demo bills today whenever it runs (members enrolled a minute ago have no yesterday).
    await demo.call("PUT", "/bill-settings", {"shift_rules": {
        "day_cutoff": "00:00", "workdays": [1, 2, 3, 4, 5, 6, 7]}}, idempotent=True)
    now = datetime.now(UTC)
    day = now.astimezone(CHINA).date()
    attendance, pos = await _terminal(demo, "attendance"), await _terminal(demo, "pos")
    punches = []
    for index, member in enumerate(demo.members):
        # The first arrives before nine, the others a little later each (some late).
        planned = datetime.combine(day, dtime(8, 52), CHINA) + timedelta(minutes=9 * index)
        latest = now - timedelta(seconds=60 - index)
        punches.append((member.iccid, min(planned, latest)))
    await _upload(demo, attendance, [
        {"type": "attendance", "iccid": iccid, "at": at.isoformat(), "result": "granted"}
        for iccid, at in punches])
    lunch = demo.members[0]
    await _upload(demo, pos, [{"type": "purchase", "iccid": lunch.iccid,
                               "at": (now - timedelta(seconds=30)).isoformat(),
                               "amount_fen": LUNCH_FEN}])
    demo.out(f"  terminals uploaded {len(punches)} attendance punches and a {yuan(LUNCH_FEN)} "
             f"yuan canteen purchase of {lunch.name} (signed terminal API)")
    run = await demo.call("POST", "/bill-runs", {"period": day.isoformat(), "kinds": ["both"],
                                                 "urgent": True}, status=201, idempotent=True)
    demo.out(f"  POST /bill-runs {day.isoformat()} -> bill run {run['id']} for "
             f"{run['progress']['total']} members")
    report = await _settled(demo, run["id"], StoryFailed)
    s = report["summary"]
    demo.out(f"  report: billed {s['billed']}, sent {s['sent']}, delivered {s['delivered']}, "
             f"failed {s['failed']}, opted out {s['opted_out']}")
    sent = await demo.call("GET", f"/sms?batch_id=bill-run:{run['id']}&limit=500")
    for member in demo.members:
        mine = {m["text"] for m in sent["items"] if m["member_id"] == member.member_id}
        for text in await _bills(member, mine, StoryFailed):
            demo.out(f"  {member.name}'s phone shows: {text}")
    if s["delivered"] != 2 * len(demo.members):
        raise StoryFailed(f"{s['delivered']} bills delivered, {2 * len(demo.members)} expected")


async def _terminal(demo: Demo, kind: str) -> tuple[str, bytes]:
    code = f"DEMO-{kind.upper()}-{secrets.token_hex(3).upper()}"
    row = await demo.call("POST", "/terminals", {"code": code, "kind": kind,
                                                 "name": f"演示{kind}"}, status=201)
    return code, bytes.fromhex(row["secret"])


async def _upload(demo: Demo, terminal: tuple[str, bytes], records: list[dict[str, Any]]
                  ) -> None:
    from gateway.commands.demo import StoryFailed

    code, secret = terminal
    path = "/api/v1/terminal/records"
    body = json.dumps({"records": [{"seq": i, **r} for i, r in enumerate(records, 1)]},
                      ensure_ascii=False).encode()
    stamp, nonce = str(int(time.time())), uuid.uuid4().hex
    headers = {"X-Terminal-Id": code, "X-Timestamp": stamp, "X-Nonce": nonce,
               "X-Signature": sign(secret, "POST", path, stamp, nonce, body),
               "Content-Type": "application/json"}
    assert demo.session is not None
    async with demo.session.post(f"{demo.target.url}{path}", data=body,
                                 headers=headers) as resp:
        answer = await resp.json(content_type=None)
    if resp.status != 200 or answer.get("flagged"):
        raise StoryFailed(f"terminal {code} upload answered {resp.status}: {answer}")


async def _settled(demo: Demo, run_id: int, failed: type[Exception]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        report: dict[str, Any] = await demo.call("GET", f"/bill-runs/{run_id}/report")
        if report["run"]["state"] == "done" and report["summary"]["pending"] == 0:
            return report
        if report["run"]["state"] in ("failed", "cancelled"):
            raise failed(f"bill run {run_id} {report['run']['state']}: {report['run']['error']}")
        if time.monotonic() > deadline:
            raise failed(f"bill run {run_id} not settled: {report['summary']}")
        await asyncio.sleep(0.1)


async def _bills(member: Any, expected: set[str], failed: type[Exception]) -> list[str]:
    """The member's bills as the handset shows them: the texts the run queued, whole."""
    deadline = time.monotonic() + WAIT_S
    while True:
        texts = [m.text for m in member.handset.inbox if m.text in expected]
        if len(texts) == len(expected) == 2:
            return texts
        if time.monotonic() > deadline:
            raise failed(f"{member.msisdn} has {len(texts)} bill(s) in its inbox")
        await asyncio.sleep(0.05)
