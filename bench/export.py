"""Benchmark: rate and export N usage records (CSV, fixed-width and TS 32.297 BER) to disk.

    python bench/export.py [--records 1000000] [--small 100000] [--job 200000]

Records are generated on the fly (a month of SMS, OTA operations, top-ups and member-months
for 500 enterprises and 200,000 members), rated with each enterprise's tariff and written
through ``billing.files.AtomicFile`` (temp name, fsync, rename, .sha256), as an export job
does. Each measurement runs in a fresh process so that its peak RSS (``ru_maxrss``) is its
own; running the CSV export at ``--small`` and at ``--records`` shows whether memory grows
with the number of records. ``generate`` times the record generator alone, so the cost of
rating and writing can be told apart from the cost of making the input. Rates are given per
second of wall-clock time and per second of the process's CPU time: on a machine shared with
other work the second is the one that describes the code. ``--job N`` adds a whole export job of N
records through SQLite (insert, claim, read back in batches, rate, write the three layouts in
one pass), the path ``onecard export`` takes.

Prints one line per figure, then one JSON line with all figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.cdr import Cdr, CdrKind
from billing.export import make_encoder
from billing.export.base import ExportRun, FileContext
from billing.files import AtomicFile
from billing.period import Period
from billing.rating import Rater
from billing.tariffs import Tariff

PERIOD = Period(2026, 10)
ENTERPRISES = 500
MEMBERS = 200_000
LAYOUTS = {"csv": "csv_v1", "fixed": "fixed_v1", "ber": "ber"}


def tariffs() -> dict[str, Tariff]:
    tariff = Tariff(
        Period(2026, 1),
        Decimal(500),
        sms_bill=Decimal("4.5"),
        sms_notice=Decimal(5),
        sms_service=Decimal("0.3"),
        ota=Decimal(10),
        topup_percent=Decimal("0.5"),
    )
    return {f"ENT{e:04d}": tariff for e in range(ENTERPRISES)}


def records(count: int) -> Iterator[Cdr]:
    """``count`` records of October, deterministic, ordered by enterprise as an export reads."""
    start = PERIOD.start()
    step = timedelta(seconds=(31 * 86400) // max(1, count // ENTERPRISES + 1))
    sms_kinds = ("BILL", "NOTICE", "SERVICE")
    per_enterprise = count // ENTERPRISES + 1
    sms, ota, topup, month = CdrKind.SMS, CdrKind.OTA, CdrKind.TOPUP, CdrKind.MEMBER_MONTH
    for i in range(count):
        enterprise, j = divmod(i, per_enterprise)
        member = (i * 7919) % MEMBERS
        when = start + step * j
        kind = i % 10
        cdr_id, ent, mem, msisdn = (
            f"{i:032x}",
            f"ENT{enterprise:04d}",
            f"M{member:06d}",
            f"138{member:08d}",
        )
        if kind < 7:
            yield Cdr(cdr_id, sms, when, ent, mem, msisdn, "", sms_kinds[kind % 3], 1 + kind % 2)
        elif kind == 7:
            yield Cdr(cdr_id, ota, when, ent, mem, msisdn, f"8986{member:016d}", "CREDIT")
        elif kind == 8:
            yield Cdr(cdr_id, topup, when, ent, mem, msisdn, f"8986{member:016d}", "OTA", 1, 5000)
        else:
            yield Cdr(cdr_id, month, when, ent, mem, msisdn, "", "", 1 + i % 31)


async def job(count: int) -> tuple[float, float, int]:
    """The whole export job on SQLite: records inserted, then claimed, read back, rated and
    written in every layout. Returns (seconds, CPU seconds) of the job alone, and bytes."""
    from billing import accounts, jobs
    from billing.repository import BillingRepo
    from gateway.db.engine import Database
    from gateway.db.models import Enterprise
    from gateway.domain import EnterpriseStatus
    from gateway.ports import EventBus
    from gateway.services.base import Deps
    from gateway.settings import Settings
    from gateway.vault import Vault

    now = datetime(2026, 11, 1, 2, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings.for_database(Path(directory))
        deps = Deps(settings, Database(settings), EventBus(), Vault(settings.master_keys),
                    lambda: now)  # fmt: skip
        await deps.database.migrate()
        await accounts.put_carrier(deps, accounts.CarrierIn("CMCC-GD", "bench", "GW01"))
        await accounts.put_plan(deps, "STD", "bench", [tariffs()["ENT0000"]])
        async with deps.uow() as uow:
            for e in range(ENTERPRISES):
                uow.session.add(Enterprise(
                    code=f"ENT{e:04d}", name="bench", sms_signature="bench", modules=[],
                    status=EnterpriseStatus.ACTIVE, monthly_fee_fen=500, balance_expiry_days=None,
                    master_key_ref="bench", master_key_sealed=b"-", blacklist_version=0,
                    created_at=now, updated_at=now))  # fmt: skip
            await uow.commit()
        for e in range(ENTERPRISES):
            await accounts.put_account(deps, e + 1, "CMCC-GD", "STD")
        async with deps.uow() as uow:
            repo, batch = BillingRepo(uow.session), []
            for cdr in records(count):
                batch.append(cdr._replace(enterprise_id=str(int(cdr.enterprise_id[3:]) + 1)))
                if len(batch) == 5000:
                    await repo.add_cdrs(batch, now)
                    batch = []
            await repo.add_cdrs(batch, now)
            await uow.commit()
        began, cpu_began = time.perf_counter(), time.process_time()
        result = await jobs.export(deps, "CMCC-GD", PERIOD, Path(directory) / "out")
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        await deps.database.dispose()
        return elapsed, cpu, sum(f.size for f in result.files)


def worker(what: str, count: int) -> dict[str, float]:
    """One measurement in this process: ``generate``, ``job`` or a layout name."""
    if what == "job":
        elapsed, cpu, size = asyncio.run(job(count))
        rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {
            "seconds": elapsed,
            "per_s": count / elapsed,
            "cpu_seconds": cpu,
            "per_cpu_s": count / cpu,
            "rss_mib": rss_kib / 1024,
            "bytes": size,
        }
    began, cpu_began = time.perf_counter(), time.process_time()
    if what == "generate":
        for _ in records(count):
            pass
        elapsed, size = time.perf_counter() - began, 0
    else:
        opened = datetime(2026, 11, 1, 2, tzinfo=UTC)
        context = FileContext("CMCC-GD", "GW01", PERIOD, 1, opened, opened)
        encoder = make_encoder(LAYOUTS[what], context)
        with tempfile.TemporaryDirectory() as directory:
            sink = AtomicFile(Path(directory), f"bench.{encoder.extension}")
            ExportRun(Rater(PERIOD, tariffs()), [(encoder, sink)]).run(records(count))
            written = sink.commit()
            elapsed, size = time.perf_counter() - began, written.size
    cpu = time.process_time() - cpu_began
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": elapsed,
        "per_s": count / elapsed,
        "cpu_seconds": cpu,
        "per_cpu_s": count / cpu,
        "rss_mib": rss_kib / 1024,
        "bytes": size,
    }


def measure(what: str, count: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", what, "--records", str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument(
        "--job",
        type=int,
        default=0,
        metavar="N",
        help="also time a whole export job of N records through SQLite",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.records)))
        return
    n = args.records
    figures: dict[str, float] = {"records": n}
    generate = measure("generate", n)
    figures["generate_records_per_s"] = round(generate["per_s"])
    figures["generate_records_per_cpu_s"] = round(generate["per_cpu_s"])
    for name in ("csv", "fixed", "ber"):
        result = measure(name, n)
        figures[f"{name}_records_per_s"] = round(result["per_s"])
        # Per CPU second: what the code does, whatever else shares the machine.
        figures[f"{name}_records_per_cpu_s"] = round(result["per_cpu_s"])
        # Rating and writing alone: the generator's time taken out.
        own = result["seconds"] - generate["seconds"]
        figures[f"{name}_records_per_s_excluding_generation"] = round(n / own) if own > 0 else 0
        own_cpu = result["cpu_seconds"] - generate["cpu_seconds"]
        figures[f"{name}_records_per_cpu_s_excluding_generation"] = (
            round(n / own_cpu) if own_cpu > 0 else 0
        )
        figures[f"{name}_peak_rss_mib"] = round(result["rss_mib"], 1)
        figures[f"{name}_file_mib"] = round(result["bytes"] / 2**20, 1)
    small = measure("csv", args.small)
    figures[f"csv_peak_rss_mib_at_{args.small}"] = round(small["rss_mib"], 1)
    figures["csv_rss_growth_mib"] = round(figures["csv_peak_rss_mib"] - small["rss_mib"], 1)
    if args.job:
        # Claim, read back, rate and write all three layouts at once (one pass).
        whole = measure("job", args.job)
        figures["job_records"] = args.job
        figures["job_records_per_s"] = round(whole["per_s"])
        figures["job_records_per_cpu_s"] = round(whole["per_cpu_s"])
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
