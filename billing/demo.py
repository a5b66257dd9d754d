"""The carrier-export story of ``onecard demo`` (出账), over the gateway's billing API only.

The demo enterprise is put on a carrier of its own with a fee plan, then:

1. the month so far is rated (``GET /billing/reconciliation``): the service fee of the demo's
   members, the SMS segments the other stories sent, the OTA operations and the top-up; a month
   is exported once it is over, so the current month is shown, not exported;
2. the enterprise's integration fee (集成费, seed 5.1.1) is charged in two monthly instalments
   starting last month (``POST /billing/one-off-charges``);
3. last month, which is over, is exported (``POST /billing/exports``): the files of each layout
   (CSV, fixed width, TS 32.297 BER) with their names, record counts and totals; exported
   again, they come out byte-identical.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from billing.period import Period

if TYPE_CHECKING:
    from gateway.commands.demo import Demo

INTEGRATION_FEN = 120_000  # 1,200 yuan, in two instalments of 600
TARIFF = {"service_fee": "400", "sms_bill": "5", "sms_notice": "5", "sms_service": "5",
          "ota": "10"}  # fen: 4 yuan a member-month (seed 五: 3-5 yuan), 5 fen a segment


async def story(demo: Demo) -> None:
    from gateway.commands.demo import StoryFailed

    operator = demo.target.token
    this = Period.of(datetime.now(UTC))
    last = this.previous()
    suffix = secrets.token_hex(3).upper()
    carrier, plan = f"DEMO-CM-{suffix}", f"DEMO-PLAN-{suffix}"
    enterprise_id = demo.enterprise_id
    await demo.call("PUT", f"/billing/carriers/{carrier}", {
        "name": "演示运营商", "node_id": f"DEMO{suffix}"}, token=operator)
    await demo.call("PUT", f"/billing/plans/{plan}", {
        "name": "一卡通演示资费", "tariffs": [{"effective_from": str(last), **TARIFF}]},
        token=operator)
    await demo.call("PUT", f"/billing/accounts/{enterprise_id}", {
        "carrier": carrier, "plan": plan}, token=operator)
    demo.out(f"  carrier {carrier}, plan {plan} (service fee 4 yuan a member-month, 5 fen an "
             "SMS segment, 10 fen an OTA operation) for the demo enterprise")

    report = await demo.call("GET", f"/billing/reconciliation?period={this}"
                                    f"&enterprise_id={enterprise_id}", token=operator)
    (mine,) = report["enterprises"]
    rated = {row["item"]: row["rated_fen"] for row in mine["items"] if row["rated_fen"]}
    demo.out(f"  {this} so far, rated: {_items(rated)}; {mine['rated_fen']} fen in all "
             f"(exported once the month is over)")
    for item in ("SERVICE_FEE", "SMS_SERVICE", "SMS_BILL", "OTA"):
        if not rated.get(item):
            raise StoryFailed(f"nothing rated for {item} in {this}: {mine['items']}")

    fee = await demo.call("POST", "/billing/one-off-charges", {
        "enterprise_id": enterprise_id, "item": "INTEGRATION", "amount_fen": INTEGRATION_FEN,
        "order": f"demo-{suffix.lower()}", "first_period": str(last), "instalments": 2},
        token=operator, status=201, idempotent=True)
    demo.out("  integration fee charged: " + ", ".join(
        f"{i['amount_fen']} fen in {i['period']}" for i in fee["instalments"]))

    first = await demo.call("POST", "/billing/exports", {"carrier": carrier, "period": str(last)},
                            token=operator, status=201, idempotent=True)
    demo.out(f"  {last} exported (job {first['job_id']}) to {first['directory']}:")
    for f in first["files"]:
        demo.out(f"    {f['name']}: {f['layout']}, sequence {f['sequence']}, {f['details']} "
                 f"record(s), {f['amount_fen']} fen, {f['size']} bytes, sha256 {f['sha256'][:16]}…")
    instalment = INTEGRATION_FEN // 2
    if not first["files"] or any(f["amount_fen"] != instalment for f in first["files"]):
        raise StoryFailed(f"the export of {last} should total {instalment} fen: {first}")
    again = await demo.call("POST", f"/billing/exports/{first['job_id']}/run", token=operator,
                            idempotent=True)
    same = [f["sha256"] for f in again["files"]] == [f["sha256"] for f in first["files"]]
    demo.out(f"  exported again: {'byte-identical files' if same else 'DIFFERENT files'}")
    if not same:
        raise StoryFailed("a re-export of a closed month changed its files")


def _items(rated: dict[str, int]) -> str:
    return ", ".join(f"{item.lower()} {fen} fen" for item, fen in rated.items()) or "nothing"
