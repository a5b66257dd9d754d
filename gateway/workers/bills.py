"""The bill worker: executes bill runs, starts scheduled ones, and plugs bills into the SMS path.

``install(app)`` (called by ``create_app``):

- a worker task claims open runs (pending, or running under a lapsed claim: a process that
  died mid-run) and executes them batch by batch (``gateway.bills.jobs``); on start it
  therefore picks up whatever a crash left unfinished;
- a scheduler task starts the scheduled runs that are due (``gateway.bills.schedule``);
- the MO keyword handler (TD / R / DY) is registered on the SMSC link;
- the per-enterprise quiet hours and send rates join the outbox dispatcher's claim policies.

Settings come from the ``[bills]`` TOML table (``Settings.extra``)::

    [bills]
    batch_size = 1000      # members per transaction
    lease_s = 30.0         # a dead worker's run is resumed by another after this
    poll_s = 5.0           # look for runs this often when nobody woke the worker
    schedule_every_s = 30  # check the schedules this often
    worker = true          # false: this node runs no bill runs (the CLI or other nodes do)
    processes = 1          # batches read and rendered in a worker process; 0: in the loop

Stopping: no new batch starts; the batch being written finishes; the claim is released so
that a restart resumes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from aiohttp import web

from gateway import keys
from gateway.bills import jobs, schedule
from gateway.bills.dispatch import EnterprisePolicy
from gateway.bills.offload import Offload
from gateway.bills.optouts import KeywordHandler
from gateway.errors import GatewayError
from gateway.services.base import Deps
from gateway.settings import SettingsError
from gateway.workers.outbox import worker_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BillWorkerSettings:
    batch_size: int = jobs.BATCH_SIZE
    lease_s: float = jobs.LEASE_S
    poll_s: float = 5.0
    schedule_every_s: float = 30.0
    worker: bool = True
    processes: int = 1

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> BillWorkerSettings:
        table = extra.get("bills", {})
        if not isinstance(table, dict):
            raise SettingsError("bills: expected a table")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise SettingsError(f"bills.{unknown[0]}: unknown setting")
        values = {}
        for name, value in table.items():
            default = getattr(cls, name)
            if isinstance(default, bool) != isinstance(value, bool) or not isinstance(
                    value, (int, float)):
                raise SettingsError(f"bills.{name}: expected {type(default).__name__}")
            values[name] = type(default)(value)
        settings = cls(**values)
        if settings.batch_size < 1 or min(settings.lease_s, settings.poll_s,
                                          settings.schedule_every_s) <= 0:
            raise SettingsError("bills: batch_size at least 1, times positive")
        if settings.processes not in (0, 1):
            raise SettingsError("bills.processes: 0 (in the event loop) or 1")
        return settings


class BillWorker:
    def __init__(self, deps: Deps, settings: BillWorkerSettings,
                 wake_outbox: Callable[[], None] | None = None) -> None:
        self.deps = deps
        self.settings = settings
        self.wake_outbox = wake_outbox
        self.worker = worker_name()
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self.finished: list[jobs.Outcomes] = []
        # Reading and rendering in a worker process (gateway.bills.offload): the event loop
        # keeps its CPU for writing the batches and for the dispatcher sending them.
        self._offload = Offload(deps.settings) if settings.processes else None

    def start(self) -> None:
        if self._tasks or not self.settings.worker:
            return
        self._tasks = [asyncio.ensure_future(self._runs()),
                       asyncio.ensure_future(self._schedules())]

    def wake(self) -> None:
        """A run was created: look now rather than at the next poll."""
        self._wake.set()

    async def close(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self._wake.set()
        if not self._tasks:
            return
        runner = self._tasks[0]
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(runner), timeout)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._offload is not None:
            self._offload.close()

    async def _runs(self) -> None:
        settings = self.settings
        while not self._stopping:
            run_id = None
            try:
                run_id = await jobs.claim(self.deps, self.worker, settings.lease_s)
                if run_id is not None:
                    outcome = await jobs.execute(
                        self.deps, run_id, self.worker, batch_size=settings.batch_size,
                        lease_s=settings.lease_s, queued=self.wake_outbox,
                        stopping=lambda: self._stopping,
                        prepare=self._offload.prepare if self._offload else None)
                    self.finished.append(outcome)
                    continue
            except GatewayError as exc:  # the database is away: try again later
                log.warning("bill worker: %s", exc.detail)
                if run_id is not None:
                    await self._release(run_id)
            await self._idle(settings.poll_s)

    async def _release(self, run_id: int) -> None:
        """Hand the run back at once (another node, or this one later, resumes it)."""
        with contextlib.suppress(GatewayError):
            await jobs.release(self.deps, run_id, self.worker)

    async def _idle(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _schedules(self) -> None:
        while not self._stopping:
            try:
                if await schedule.tick(self.deps):
                    self.wake()
            except GatewayError as exc:
                log.warning("bill scheduler: %s", exc.detail)
            await asyncio.sleep(self.settings.schedule_every_s)


BILL_WORKER = web.AppKey("bill_worker", BillWorker)
BILL_POLICY = web.AppKey("bill_policy", EnterprisePolicy)


def install(app: web.Application) -> None:
    deps = app[keys.DEPS]
    settings = BillWorkerSettings.from_extra(deps.settings.extra)
    dispatcher = app[keys.OUTBOX]
    worker = BillWorker(deps, settings, dispatcher.wake)
    app[BILL_WORKER] = worker
    policy = EnterprisePolicy()
    app[BILL_POLICY] = policy
    dispatcher.policies.append(policy)
    app[keys.SMSC_LINK].add_mo_handler(KeywordHandler(deps, dispatcher.wake))
    app.cleanup_ctx.append(_worker)


async def _worker(app: web.Application) -> AsyncIterator[None]:
    worker = app[BILL_WORKER]
    worker.start()
    yield
    await worker.close()
