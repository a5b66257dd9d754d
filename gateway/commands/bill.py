"""``onecard bill``: SMS bill runs from the command line, with a progress bar.

    onecard bill run --enterprise CODE --period 2026-10|2026-W44|2026-10-31
                     [--kind attendance|consumption|both] [--urgent] [--force] [--wait]
    onecard bill resume               finish the runs a crash left unfinished
    onecard bill report RUN_ID [--csv]
    onecard bill cancel RUN_ID

``run`` creates the run and bills every member itself (batches of ``[bills] batch_size``),
queueing the SMS in the outbox; the gateway's outbox dispatcher (``onecard serve``) sends
them. With ``--wait`` it then follows delivery until every bill has a final state. The run is
held under a lease: killed, it is finished by ``onecard bill resume`` or by a running gateway's
bill worker once the lease lapses; Ctrl-C stops after the current batch and hands the run back
at once. The progress bar goes to stderr; the report (sent, delivered, failed, opted out) to
stdout, as text or ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from gateway.bills import jobs, reports, runs
from gateway.db.engine import Database
from gateway.db.models_bills import RunState, RunTrigger
from gateway.domain import Role
from gateway.errors import GatewayError, NotFound
from gateway.ports import EventBus, utcnow
from gateway.services.base import Deps, Principal
from gateway.settings import Settings, SettingsError
from gateway.vault import Vault
from gateway.workers.bills import BillWorkerSettings

CLI = Principal(role=Role.SYSTEM, actor="cli")
WAIT_POLL_S = 0.5


def configure(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="where the database lives (default: .)")
    common.add_argument("--config", type=Path, help="TOML settings file")
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="bill an enterprise's members for a period",
                         parents=[common])
    run.add_argument("--enterprise", required=True, help="enterprise code")
    run.add_argument("--period", required=True,
                     help="2026-10 (month), 2026-W44 (ISO week) or 2026-10-31 (day)")
    run.add_argument("--kind", choices=["attendance", "consumption", "both"], default="both")
    run.add_argument("--urgent", action="store_true", help="send in quiet hours too")
    run.add_argument("--force", action="store_true",
                     help="bill a period again that a run billed already")
    run.add_argument("--wait", action="store_true",
                     help="then follow delivery until every bill is final")
    sub.add_parser("resume", help="finish the runs a crash left unfinished", parents=[common])
    report = sub.add_parser("report", help="a run's report", parents=[common])
    report.add_argument("run_id", type=int)
    report.add_argument("--csv", action="store_true", help="one line per member and bill")
    cancel = sub.add_parser("cancel", help="cancel a run", parents=[common])
    cancel.add_argument("run_id", type=int)


class Bar:
    """``[#####-----]  52%  52000/100000 members  9,800/s`` (every 10% when not a tty)."""

    def __init__(self, stream: TextIO, unit: str, width: int = 30) -> None:
        self.stream, self.unit, self.width = stream, unit, width
        self.tty = stream.isatty()
        self._shown = -1
        self._started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        share = min(1.0, done / total) if total else 1.0
        step = int(share * (100 if self.tty else 10))
        if step == self._shown:
            return
        self._shown = step
        filled = int(share * self.width)
        rate = done / max(time.monotonic() - self._started, 1e-9)
        line = (f"[{'#' * filled}{'-' * (self.width - filled)}] {share:4.0%} "
                f"{done}/{total} {self.unit} {rate:,.0f}/s")
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._shown >= 0:
            self.stream.write("\n")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.load(args.config, {"data_dir": str(args.data_dir)
                                               if args.data_dir else None})
        output = asyncio.run(_main(settings, args))
    except (SettingsError, GatewayError) as exc:
        print(f"onecard bill: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 1
    if isinstance(output, bytes):
        sys.stdout.buffer.write(output)
        return 0
    print(json.dumps(output, ensure_ascii=False, indent=2) if args.json else _text(output))
    failed = output.get("run", {}).get("state") == RunState.FAILED.value
    return 3 if failed else 0


async def _main(settings: Settings, args: argparse.Namespace) -> Any:
    deps = Deps(settings=settings, database=Database(settings), bus=EventBus(),
                vault=Vault(settings.master_keys), clock=utcnow)
    try:
        if settings.migrate_on_start:
            await deps.database.migrate()
        if args.action == "run":
            return await _bill(deps, args)
        if args.action == "resume":
            return await _resume(deps)
        if args.action == "report":
            if args.csv:
                return await reports.report_csv(deps, CLI, args.run_id)
            return await reports.report(deps, CLI, args.run_id)
        return await runs.cancel(deps, CLI, args.run_id, None)
    finally:
        await deps.database.dispose()


def _worker() -> str:
    return f"cli:{socket.gethostname()[:40]}:{os.getpid()}"


async def _bill(deps: Deps, args: argparse.Namespace) -> dict[str, Any]:
    async with deps.uow(readonly=True) as uow:
        enterprise = await uow.enterprises.by_code(args.enterprise)
    if enterprise is None:
        raise NotFound(f"no enterprise with code {args.enterprise!r}")
    cmd = runs.RunIn(period=args.period, kinds=[args.kind], enterprise_id=enterprise.id,
                     trigger=RunTrigger.CLI, urgent=args.urgent, force=args.force)
    created = await runs.create(deps, CLI, cmd, None)
    print(f"bill run {created['id']}: {enterprise.code} {created['period']} "
          f"{'+'.join(created['kinds'])}, {created['progress']['total']} members",
          file=sys.stderr)
    await _execute(deps, created["id"])
    if args.wait:
        await _follow(deps, created["id"])
    return await reports.report(deps, CLI, created["id"])


async def _execute(deps: Deps, run_id: int) -> jobs.Outcomes | None:
    settings = BillWorkerSettings.from_extra(deps.settings.extra)
    worker = _worker()
    if await jobs.claim(deps, worker, settings.lease_s, run_id) is None:
        print(f"bill run {run_id}: another worker holds it", file=sys.stderr)
        return None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
    bar = Bar(sys.stderr, "members")
    try:
        outcome = await jobs.execute(deps, run_id, worker, batch_size=settings.batch_size,
                                     lease_s=settings.lease_s, progress=bar,
                                     stopping=stop.is_set)
    finally:
        bar.close()
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGINT)
    if outcome.state is RunState.RUNNING:
        print(f"bill run {run_id}: interrupted after {outcome.processed} members; "
              "`onecard bill resume` finishes it", file=sys.stderr)
    return outcome


async def _resume(deps: Deps) -> dict[str, Any]:
    finished = []
    while (run_id := await jobs.next_open(deps)) is not None:
        outcome = await _execute(deps, run_id)
        if outcome is None or outcome.state is RunState.RUNNING:
            break
        finished.append(await reports.report(deps, CLI, run_id))
    return {"resumed": finished}


async def _follow(deps: Deps, run_id: int) -> None:
    """Until every bill of the run is final (the gateway's dispatcher sends them)."""
    bar = Bar(sys.stderr, "bills final")
    try:
        while True:
            report = await reports.report(deps, CLI, run_id)
            summary = report["summary"]
            billed = summary["billed"]
            bar(billed - summary["pending"], billed)
            if summary["pending"] == 0:
                return
            await asyncio.sleep(WAIT_POLL_S)
    finally:
        bar.close()


def _text(output: dict[str, Any]) -> str:
    if "resumed" in output:
        return "\n\n".join(_report_text(r) for r in output["resumed"]) or "no unfinished run"
    if "summary" in output:
        return _report_text(output)
    return json.dumps(output, ensure_ascii=False, indent=2)


def _report_text(report: dict[str, Any]) -> str:
    run, s = report["run"], report["summary"]
    lines = [f"bill run {run['id']} ({run['state']}): enterprise {run['enterprise_id']}, "
             f"{run['period']}, {'+'.join(run['kinds'])}",
             f"  members {s['members']}, bills queued {s['billed']} ({s['segments']} segments)",
             f"  sent {s['sent']}, delivered {s['delivered']}, failed {s['failed']}, "
             f"pending {s['pending']}",
             f"  opted out {s['opted_out']}, too long {s['too_long']}, "
             f"cancelled {s['cancelled']}"]
    if run.get("error"):
        lines.append(f"  error: {run['error']}")
    return "\n".join(lines)
