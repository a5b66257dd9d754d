"""Export jobs: a carrier's month written to files, resumable, and re-exportable byte for byte.

A job is created once per (carrier, month), in one transaction that freezes everything its
files depend on: the member-months derived from membership events, the records it bills
(claimed: ``billing_cdrs.export_job_id``), each enterprise's tariff for the month, the
enterprise codes, the node, the opening time and each file's sequence number and name.

Running a job writes every file that is not already on disk with its recorded checksum, in
one pass over the claimed records (rated once, fed to every layout), each file atomically
(``billing.files``). Then one transaction records checksums, invoice lines and completion.

- A crash at any point leaves the job unfinished; running it again writes the same bytes
  (everything they depend on was frozen), so ``resume_unfinished`` simply runs it again.
- Running a finished job again (re-export, to the same or another directory) writes the same
  bytes; a file that would differ from its recorded checksum is refused, not overwritten.
- Records arriving later for an exported month are never claimed by it: re-rating the month
  (``rerate``) bills the difference as adjustment records in the next export.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from billing.cdr import Cdr
from billing.errors import ExportError, NoTariff, NotFound
from billing.export import BER_LAYOUT, make_encoder
from billing.export.base import ExportRun, FileContext, FileEncoder, FileTotals
from billing.export.text import load_layout
from billing.files import AtomicFile, WrittenFile, complete_file, file_name
from billing.models import CarrierRow, ExportFileRow, ExportJobRow, ExportLineRow
from billing.period import Period
from billing.rating import InvoiceLine, Rater, adjustments, member_months, rate_lines
from billing.repository import BillingRepo
from billing.tariffs import ChargeItem, Tariff
from gateway.services.base import Deps

Progress = Callable[[int, int], object]  # (records done, records in the job)


class JobState(enum.StrEnum):
    CLAIMED = "claimed"  # records frozen, files not (all) written
    DONE = "done"


@dataclass(frozen=True)
class FileResult:
    layout: str
    name: str
    sequence: int
    details: int
    amount_fen: int
    sha256: str
    size: int


@dataclass(frozen=True)
class ExportResult:
    job_id: int
    carrier: str
    period: str
    records: int
    directory: str
    files: tuple[FileResult, ...]
    written: tuple[str, ...]  # files written by this run (the others were already complete)

    @property
    def amount_fen(self) -> int:
        return self.files[0].amount_fen if self.files else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "carrier": self.carrier,
            "period": self.period,
            "records": self.records,
            "amount_fen": self.amount_fen,
            "directory": self.directory,
            "written": list(self.written),
            "files": [f.__dict__ for f in self.files],
        }


def default_directory(deps: Deps, carrier_code: str) -> Path:
    return Path(deps.settings.data_dir) / "exports" / carrier_code


async def export(
    deps: Deps,
    carrier_code: str,
    period: Period,
    directory: Path | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Create the month's job if needed, then run it (resume, or re-export when done)."""
    job_id = await create_job(deps, carrier_code, period, directory)
    return await run_job(deps, job_id, directory, progress)


async def create_job(
    deps: Deps, carrier_code: str, period: Period, directory: Path | None = None
) -> int:
    """The month's job, created (records claimed, files named) if it does not exist yet."""
    async with deps.uow() as uow:
        repo = BillingRepo(uow.session)
        carrier = await repo.carrier(carrier_code, for_update=True)  # one creator at a time
        if carrier is None:
            raise NotFound(f"no carrier {carrier_code}")
        existing = await repo.job(carrier_code, period)
        if existing is not None:
            return existing.id
        now = uow.clock()
        if now < period.end():
            raise ExportError(f"{period} is not over yet: a month is exported once it ended")
        target = directory or default_directory(deps, carrier_code)
        job = await _freeze_month(repo, carrier, period, now, target)
        await _name_files(repo, carrier, job, period, now)
        await uow.commit()
        return job.id


async def _freeze_month(
    repo: BillingRepo, carrier: CarrierRow, period: Period, now: datetime, directory: Path
) -> ExportJobRow:
    """Derive the member-months, claim the month's records, keep the prices and names."""
    accounts = await repo.accounts_of(carrier.code)
    names = {account.enterprise_id: code for account, code in accounts}
    tariffs = await _tariffs_for(repo, period, accounts)
    events = await repo.membership_events(list(names), period.end())
    await repo.add_cdrs(member_months(events, period), now)
    job = ExportJobRow(
        carrier_code=carrier.code, period=str(period), state=JobState.CLAIMED,
        node_id=carrier.node_id, node_address=carrier.node_address,
        template_dir=carrier.template_dir, opened_at=now, closed_at=now,
        tariffs={code: tariffs[e].to_dict() for e, code in names.items()},
        enterprises={str(e): code for e, code in names.items()},
        directory=str(directory), records=0,
    )  # fmt: skip
    repo.add(job)
    await repo.session.flush()
    job.records = await repo.claim(job.id, period, list(names))
    return job


async def _name_files(
    repo: BillingRepo, carrier: CarrierRow, job: ExportJobRow, period: Period, now: datetime
) -> None:
    """One file per layout, with the carrier's next sequence number for that layout."""
    for layout in carrier.layouts:
        sequence = await repo.next_sequence(carrier.code, layout)
        name = file_name(
            carrier.name_pattern, node=carrier.node_id, carrier=carrier.code, period=period,
            sequence=sequence, opened_at=now,
            extension=_extension(layout, carrier.template_dir),
        )  # fmt: skip
        repo.add(ExportFileRow(job_id=job.id, carrier_code=carrier.code, layout=layout,
                               sequence=sequence, name=name))  # fmt: skip


async def _tariffs_for(repo: BillingRepo, period: Period, accounts: list[Any]) -> dict[int, Tariff]:
    plans = await repo.plans({account.plan_code for account, _ in accounts})
    tariffs = {}
    for account, code in accounts:
        plan = plans.get(account.plan_code)
        if plan is None:
            raise NoTariff(f"enterprise {code}: plan {account.plan_code} has no tariff")
        tariffs[account.enterprise_id] = plan.tariff_for(period)
    return tariffs


def _extension(layout: str, template_dir: str | None) -> str:
    if layout == BER_LAYOUT:
        return "ber"
    return load_layout(layout, (template_dir,) if template_dir else ()).extension


async def run_job(
    deps: Deps, job_id: int, directory: Path | None = None, progress: Progress | None = None
) -> ExportResult:
    async with deps.uow(readonly=True) as uow:
        repo = BillingRepo(uow.session)
        job = await repo.job_by_id(job_id)
        if job is None:
            raise NotFound(f"no export job {job_id}")
        files = await repo.files(job_id)
        target = directory or Path(job.directory)
        pending = [f for f in files if not _complete(target, f)]
        written = await _write(repo, job, pending, target, progress) if pending else None
    return await _finish(deps, job_id, target, written)


def _complete(directory: Path, row: ExportFileRow) -> bool:
    found = complete_file(directory, row.name)
    return found is not None and row.sha256 is not None and found.sha256 == row.sha256


@dataclass(frozen=True)
class _Written:
    lines: list[InvoiceLine]
    files: dict[str, tuple[WrittenFile, FileTotals]]


async def _write(
    repo: BillingRepo,
    job: ExportJobRow,
    pending: list[ExportFileRow],
    directory: Path,
    progress: Progress | None,
) -> _Written:
    period = Period.parse(job.period)
    rater = Rater(period, {code: Tariff.from_dict(t) for code, t in job.tariffs.items()})
    sinks = [AtomicFile(directory, row.name) for row in pending]
    try:
        outputs = [
            (_encoder(job, row, period), sink) for row, sink in zip(pending, sinks, strict=True)
        ]
        run = ExportRun(rater, outputs)
        run.begin()
        names = {int(e): code for e, code in job.enterprises.items()}
        async for batch in repo.job_cdrs(job.id, names):
            run.feed(batch)
            if progress is not None:
                progress(run.done, job.records)
        lines = run.finish()
        files = {
            row.name: (sink.commit(expected_sha256=row.sha256), encoder.totals)
            for row, sink, (encoder, _) in zip(pending, sinks, outputs, strict=True)
        }
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    return _Written(lines, files)


def _encoder(job: ExportJobRow, row: ExportFileRow, period: Period) -> FileEncoder:
    context = FileContext(
        job.carrier_code,
        job.node_id,
        period,
        row.sequence,
        job.opened_at,
        job.closed_at,
        job.node_address,
    )
    search = (job.template_dir,) if job.template_dir else ()
    return make_encoder(row.layout, context, search)


async def _finish(
    deps: Deps, job_id: int, directory: Path, written: _Written | None
) -> ExportResult:
    """Record what was written (checksums, totals, lines, completion) in one transaction."""
    async with deps.uow() as uow:
        repo = BillingRepo(uow.session)
        job = await repo.job_by_id(job_id, for_update=True)
        assert job is not None
        files = await repo.files(job_id)
        now = uow.clock()
        names: list[str] = []
        if written is not None:
            names = list(written.files)
            for row in files:
                if row.name in written.files:
                    done, totals = written.files[row.name]
                    row.sha256, row.size, row.written_at = done.sha256, done.size, now
                    row.details, row.amount_fen = totals.details, totals.amount_fen
            if not await repo.lines(job_id):
                _store_lines(repo, job, written.lines)
        if job.finished_at is None:
            job.state, job.finished_at = JobState.DONE, now
        await uow.commit()
        return _result(job, directory, files, names)


def _store_lines(repo: BillingRepo, job: ExportJobRow, lines: list[InvoiceLine]) -> None:
    ids = {code: int(e) for e, code in job.enterprises.items()}
    for line in lines:
        repo.add(
            ExportLineRow(
                job_id=job.id,
                enterprise_id=ids[line.enterprise_id],
                item=int(line.item),
                reference=line.reference,
                records=line.records,
                quantity=line.quantity,
                units=str(line.units),
                amount_fen=line.amount_fen,
                value_fen=line.value_fen,
            )
        )


def _result(
    job: ExportJobRow, directory: Path, files: list[ExportFileRow], written: list[str]
) -> ExportResult:
    return ExportResult(
        job.id,
        job.carrier_code,
        job.period,
        job.records,
        str(directory),
        tuple(
            FileResult(
                f.layout,
                f.name,
                f.sequence,
                f.details or 0,
                f.amount_fen or 0,
                f.sha256 or "",
                f.size or 0,
            )
            for f in files
        ),
        tuple(written),
    )


def job_view(job: ExportJobRow, files: list[ExportFileRow]) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "carrier": job.carrier_code,
        "period": job.period,
        "state": job.state,
        "records": job.records,
        "directory": job.directory,
        "opened_at": job.opened_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "files": [
            {
                "layout": f.layout,
                "name": f.name,
                "sequence": f.sequence,
                "sha256": f.sha256,
                "size": f.size,
                "details": f.details,
                "amount_fen": f.amount_fen,
            }
            for f in files
        ],
    }


async def list_jobs(deps: Deps, carrier_code: str | None = None) -> list[dict[str, Any]]:
    async with deps.uow(readonly=True) as uow:
        repo = BillingRepo(uow.session)
        return [job_view(job, await repo.files(job.id)) for job in await repo.jobs(carrier_code)]


async def get_job(deps: Deps, job_id: int) -> dict[str, Any]:
    async with deps.uow(readonly=True) as uow:
        repo = BillingRepo(uow.session)
        job = await repo.job_by_id(job_id)
        if job is None:
            raise NotFound(f"no export job {job_id}")
        return job_view(job, await repo.files(job_id))


async def resume_unfinished(deps: Deps, progress: Progress | None = None) -> list[ExportResult]:
    """Run every job a crash left unfinished (at start-up, or from ``onecard export``)."""
    async with deps.uow(readonly=True) as uow:
        ids = [job.id for job in await BillingRepo(uow.session).unfinished_jobs()]
    return [await run_job(deps, job_id, progress=progress) for job_id in ids]


# ----------------------------------------------------------------------------- re-rating


@dataclass(frozen=True)
class Rerating:
    """A closed month rated again with the prices now on record for it."""

    period: Period
    lines: tuple[InvoiceLine, ...]
    exported: tuple[InvoiceLine, ...] | None
    adjusted: dict[tuple[str, ChargeItem], int]
    names: dict[int, str]


async def rerating(repo: BillingRepo, carrier_code: str, period: Period) -> Rerating:
    accounts = await repo.accounts_of(carrier_code)
    names = {account.enterprise_id: code for account, code in accounts}
    tariffs = await _tariffs_for(repo, period, accounts)
    events = await repo.membership_events(list(names), period.end())
    records: list[Cdr] = [
        m._replace(enterprise_id=names[int(m.enterprise_id)]) for m in member_months(events, period)
    ]
    records += await repo.period_cdrs(period, list(names), names)
    rater = Rater(period, {names[e]: t for e, t in tariffs.items()})
    job = await repo.job(carrier_code, period)
    exported = (
        None if job is None else tuple(_line_of(r, period, job) for r in await repo.lines(job.id))
    )
    adjusted = {
        (names[e], item): fen
        for (e, item), fen in (await repo.adjusted(period)).items()
        if e in names
    }
    return Rerating(period, tuple(rate_lines(rater, records)), exported, adjusted, names)


def _line_of(row: ExportLineRow, period: Period, job: ExportJobRow) -> InvoiceLine:
    code = job.enterprises[str(row.enterprise_id)]
    return InvoiceLine(
        period,
        code,
        ChargeItem(row.item),
        row.reference,
        row.records,
        row.quantity,
        int(row.units),
        row.value_fen,
    )


async def rerate(deps: Deps, carrier_code: str, period: Period) -> list[Cdr]:
    """Re-rate an exported month; store and return the adjustments it needs (maybe none)."""
    async with deps.uow() as uow:
        repo = BillingRepo(uow.session)
        found = await rerating(repo, carrier_code, period)
        if found.exported is None:
            raise ExportError(
                f"{period} has not been exported to {carrier_code}: nothing to adjust"
            )
        billed: dict[tuple[str, ChargeItem], int] = dict(found.adjusted)
        for line in found.exported:
            if line.item is not ChargeItem.ADJUSTMENT:
                key = (line.enterprise_id, line.item)
                billed[key] = billed.get(key, 0) + line.amount_fen
        now: datetime = uow.clock()
        records = adjustments(period, found.lines, billed, now)
        ids = {code: e for e, code in found.names.items()}
        await repo.add_cdrs(
            [r._replace(enterprise_id=str(ids[r.enterprise_id])) for r in records], now
        )
        await uow.commit()
        return records
