"""Bill batches read and rendered in a worker process, beside the gateway's event loop.

Why: reading a batch (members, their punches or purchases) and rendering it (jinja2, the
attendance calendar, measuring the text) cost some 150 us of CPU per member. In the event
loop that is CPU the outbox dispatcher, which sends those very bills, does not get: a
100,000-member run spends about 15 s there. A worker process does it on another core while
the event loop writes the batch before (``gateway.bills.jobs``) and sends the bills.

What crosses to the worker is a :class:`PlanSpec` (plain values and the templates' sources:
the worker compiles them itself) and the batch's cursor and size; what comes back is a
:class:`gateway.bills.batch.Prepared` (the batch's members, their texts). The worker only
reads, with its own connections; everything the run's exactly-once rests on (the cursor
advanced in the transaction that queues the batch) stays in the parent.

The worker is spawned (a fork would copy the event loop and the database threads), at the
first batch of the first run, and given no keys: its settings carry a throwaway master key.
A worker that dies fails the batch with ``StorageUnavailable``: the run is handed back and
resumed (from its cursor) by a fresh worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import secrets
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime

from gateway.bills import batch
from gateway.bills.attendance import Calendar
from gateway.bills.config import EnterpriseConfig
from gateway.bills.errors import TemplateInvalid
from gateway.bills.period import BillPeriod
from gateway.bills.render import Compiled, TemplateKind
from gateway.db.engine import Database
from gateway.db.uow import UnitOfWork
from gateway.errors import GatewayError, StorageUnavailable
from gateway.ports import EventBus, utcnow
from gateway.settings import MASTER_KEY_BYTES, Settings


@dataclass(frozen=True)
class PlanSpec:
    """A :class:`batch.Plan` as plain values, to rebuild it in another process."""

    run_id: int
    cfg: EnterpriseConfig
    period: BillPeriod
    kinds: tuple[TemplateKind, ...]
    as_of: datetime
    urgent: bool
    sources: tuple[tuple[TemplateKind, str], ...]

    @classmethod
    def of(cls, plan: batch.Plan) -> PlanSpec:
        return cls(plan.run_id, plan.cfg, plan.period, plan.kinds, plan.as_of, plan.urgent,
                   tuple((kind, t.source) for kind, t in plan.templates.items()))

    def plan(self) -> batch.Plan:
        templates = {kind: Compiled(kind, source, self.cfg.policy) for kind, source in self.sources}
        return batch.Plan(self.run_id, self.cfg, self.period, self.kinds, self.as_of,
                          self.urgent, templates,
                          Calendar(self.period, self.cfg.rules, self.as_of))


class Offload:
    """The parent's side: ``prepare`` has the worker read and render one batch."""

    def __init__(self, settings: Settings) -> None:
        # The worker reads members and templates; it decrypts nothing.
        self._settings = settings.replace(
            master_keys=(secrets.token_bytes(MASTER_KEY_BYTES),), operator_token=None,
            smsc=None)
        self._pool: ProcessPoolExecutor | None = None
        self._spec: tuple[batch.Plan, PlanSpec] | None = None

    async def prepare(self, plan: batch.Plan, cursor: int, limit: int) -> batch.Prepared:
        spec = self._spec_of(plan)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                initargs=(self._settings, os.getpid()))
        loop = asyncio.get_running_loop()
        try:
            outcome, value = await loop.run_in_executor(self._pool, _prepare, spec, cursor,
                                                        limit)
        except BrokenProcessPool:
            self._pool = None  # a new worker for the next batch
            raise StorageUnavailable("the bill renderer process died; retry") from None
        if outcome == "invalid":
            assert isinstance(value, str)
            raise TemplateInvalid.relayed(value)
        if outcome == "unavailable":
            assert isinstance(value, str)
            raise StorageUnavailable(value)
        assert isinstance(value, batch.Prepared)
        return value

    def _spec_of(self, plan: batch.Plan) -> PlanSpec:
        if self._spec is None or self._spec[0] is not plan:
            self._spec = (plan, PlanSpec.of(plan))
        return self._spec[1]

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


# --- the worker process -------------------------------------------------------------------


class _Worker:
    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.database = Database(settings)
        self.spec: PlanSpec | None = None
        self.plan: batch.Plan | None = None

    def prepare(self, spec: PlanSpec, cursor: int, limit: int) -> batch.Prepared:
        if spec != self.spec or self.plan is None:
            self.plan, self.spec = spec.plan(), spec
        return self.loop.run_until_complete(self._prepare(self.plan, cursor, limit))

    async def _prepare(self, plan: batch.Plan, cursor: int, limit: int) -> batch.Prepared:
        async with UnitOfWork(self.database, EventBus(), utcnow, readonly=True) as uow:
            data = await batch.read(uow.session, plan, cursor, limit)
        return batch.prepared(data, batch.render(plan, data), cursor)


_worker: _Worker | None = None
_WATCH_S = 1.0
_NICE = 10


def _start(settings: Settings, parent: int) -> None:
    global _worker
    # Behind the gateway for the CPU: a bill waits a little longer in the renderer, rather
    # than the requests, receipts and top-ups the gateway serves meanwhile.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(_NICE)
    _worker = _Worker(settings)
    threading.Thread(target=_orphaned, args=(parent,), name="parent-watch", daemon=True).start()


def _orphaned(parent: int) -> None:
    """Exit with the parent: a gateway killed (SIGKILL, power cut of the process) would
    otherwise leave its worker waiting for batches forever."""
    while os.getppid() == parent:
        time.sleep(_WATCH_S)
    os._exit(0)


def _prepare(spec: PlanSpec, cursor: int, limit: int
             ) -> tuple[str, batch.Prepared | str]:
    """In the worker: ("ok", the batch), or why not, as text (exceptions of the gateway do
    not all survive pickling)."""
    assert _worker is not None
    try:
        return "ok", _worker.prepare(spec, cursor, limit)
    except TemplateInvalid as exc:
        return "invalid", exc.detail
    except GatewayError as exc:
        return "unavailable", exc.detail
