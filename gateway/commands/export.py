"""``onecard export``: write a carrier's month to export files, with a progress bar.

    onecard export --carrier CMCC-GD --period 2026-10 [--out DIR]
    onecard export --resume                  finish jobs a crash left unfinished
    onecard export --carrier X --period P --rerate      bill late records as adjustments
    onecard export --carrier X --period P --reconcile   rated vs exported vs ledger

Exporting a month that was exported before writes the same files again, byte for byte
(missing ones only, unless ``--out`` names another directory). The progress bar goes to
stderr; the result (file names, record counts, totals) to stdout, or as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from billing import jobs, reconciliation, recorder
from billing.errors import BillingError
from billing.period import Period
from gateway.db.engine import Database
from gateway.errors import GatewayError
from gateway.ports import EventBus, utcnow
from gateway.services.base import Deps
from gateway.settings import Settings, SettingsError
from gateway.vault import Vault


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--carrier", help="carrier code, as configured (PUT /billing/carriers)")
    parser.add_argument("--period", help="the month, YYYY-MM")
    parser.add_argument("--out", type=Path, help="directory for the files (default: the job's, "
                        "DATA_DIR/exports/CARRIER)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--resume", action="store_true", help="finish unfinished jobs")
    action.add_argument("--rerate", action="store_true",
                        help="re-rate an exported month; store adjustments for the next export")
    action.add_argument("--reconcile", action="store_true", help="print the reconciliation")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--data-dir", type=Path, help="where the database lives (default: .)")
    parser.add_argument("--config", type=Path, help="TOML settings file")


class ProgressBar:
    """``[#####-----]  52%  520000/1000000 records`` on a terminal; every 10% otherwise."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self._shown = -1
        self._started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        step = int(share * (100 if self.tty else 10))
        if step == self._shown:
            return
        self._shown = step
        filled = int(share * self.width)
        rate = done / max(time.monotonic() - self._started, 1e-9)
        line = (f"[{'#' * filled}{'-' * (self.width - filled)}] {share:4.0%} "
                f"{done}/{total} records {rate:,.0f}/s")
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._shown >= 0:
            self.stream.write("\n")


def run(args: argparse.Namespace) -> int:
    if not args.resume and (not args.carrier or not args.period):
        print("onecard export: --carrier and --period are required (or --resume)",
              file=sys.stderr)
        return 2
    try:
        # As ``onecard serve`` does: a data directory without a master key gets one.
        settings = Settings.load(args.config, {"data_dir": str(args.data_dir)
                                               if args.data_dir else None},
                                 create_master_key=True)
        output = asyncio.run(_main(settings, args))
    except (SettingsError, BillingError, GatewayError) as exc:
        print(f"onecard export: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(output, ensure_ascii=False, indent=2))
    else:
        print(_text(output))
    return 0


async def _main(settings: Settings, args: argparse.Namespace) -> Any:
    bus = EventBus()
    recorder.install(bus)
    deps = Deps(settings=settings, database=Database(settings), bus=bus,
                vault=Vault(settings.master_keys), clock=utcnow)
    bar = ProgressBar(sys.stderr)
    try:
        if settings.migrate_on_start:
            await deps.database.migrate()
        if args.resume:
            return {"resumed": [r.to_dict() for r in await jobs.resume_unfinished(deps, bar)]}
        period = Period.parse(args.period)
        if args.rerate:
            records = await jobs.rerate(deps, args.carrier, period)
            return {"adjustments": [{"enterprise": r.enterprise_id, "item": r.detail,
                                     "amount_fen": r.amount_fen, "reference": r.reference}
                                    for r in records]}
        if args.reconcile:
            return (await reconciliation.report(deps, period, args.carrier)).to_dict()
        return (await jobs.export(deps, args.carrier, period, args.out, bar)).to_dict()
    finally:
        bar.close()
        await deps.database.dispose()


def _text(output: dict[str, Any]) -> str:
    if "resumed" in output:
        return "\n\n".join(_export_text(r) for r in output["resumed"]) or "no unfinished export"
    if "adjustments" in output:
        rows = [f"{a['enterprise']}  {a['item']}  {a['amount_fen']:+d} fen  ({a['reference']})"
                for a in output["adjustments"]]
        return "\n".join(rows) or "nothing to adjust"
    if "enterprises" in output:
        return json.dumps(output, ensure_ascii=False, indent=2)
    return _export_text(output)


def _export_text(result: dict[str, Any]) -> str:
    lines = [f"{result['carrier']} {result['period']}: {result['records']} records, "
             f"{result['amount_fen']} fen, in {result['directory']}"]
    for f in result["files"]:
        state = "written" if f["name"] in result["written"] else "unchanged"
        lines.append(f"  {f['name']}  seq {f['sequence']}  {f['details']} records  "
                     f"{f['amount_fen']} fen  sha256 {f['sha256'][:16]}…  ({state})")
    return "\n".join(lines)
