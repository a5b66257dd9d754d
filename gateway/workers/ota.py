"""The OTA job engine: sends jobs as SMS-PP, takes their PoRs back, times them out.

Three tasks around the SMSC link (``gateway.smsc_link.SmscLink``):

* the **sender** claims due jobs in batches (``gateway.services.ota_flow.claim``: counter
  allocated and attempt recorded, committed first), builds each SCP80 command packet with the
  card's keys (``ota.packet.build_command``), cuts it into SMS-PP segments (``ota.smspp``) and
  submits it as binary SMS; many packets are in flight at once (the ESME's window), and a
  packet the SMSC refuses sends its job back to wait (``ota_flow.unsent``);
* the **PoR writer** is the link's MO handler for response packets (UDH IEI 71): every PoR that
  arrives while a transaction runs joins the next one (group commit), and the handler returns,
  letting the link answer deliver_sm_resp, only once its PoR is committed;
* the **timer** moves jobs whose PoR is overdue to another attempt or to failure.

The same MO handler takes the STK applet's requests (command packets to TAR ``MOR``) and the
balance query by SMS (``gateway.services.stk_requests``). A job that finishes in this process
wakes whoever waits for it (:meth:`OtaEngine.wait`, the API's ``?wait=`` long poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from gateway import keys
from gateway.db.models_ota import OtaJob
from gateway.db.uow import Retryable
from gateway.errors import GatewayError, StorageUnavailable
from gateway.metrics import Counter, Histogram, Metrics
from gateway.ota_core import JobState
from gateway.ports import Event, EventName
from gateway.services import ota_flow, ota_jobs, ota_reconcile, stk_requests
from gateway.services.base import Deps
from gateway.services.ota_effects import Effects
from gateway.services.ota_flow import KeyCache, Outgoing, PorIn
from gateway.smsc_link import SmscLink
from ota.errors import OtaError
from ota.mo_request import MO_TAR
from ota.packet import build_command, parse_command_header
from ota.smspp import TP_DCS_CLASS2_8BIT, TP_PID_SIM_DATA_DOWNLOAD, command_segments
from smpp.mo import MoMessage
from smpp.udh import Iei

log = logging.getLogger(__name__)

_RETRY_S = (0.05, 0.2, 1.0, 5.0)
_TIMER_S = 0.25
_COALESCE_S = 0.025


class OtaMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.jobs = metrics.add(Counter(
            "onecard_ota_jobs_total", "OTA jobs finished, by kind and final state"))
        self.pors = metrics.add(Counter(
            "onecard_ota_pors_total", "PoRs received, by outcome (applied, late, alert:...)"))
        self.alerts = metrics.add(Counter(
            "onecard_ota_alerts_total", "PoRs and STK requests refused, by kind"))
        self.sent = metrics.add(Counter(
            "onecard_ota_packets_total", "command packets submitted, by result"))
        self.seconds = metrics.add(Histogram(
            "onecard_ota_job_seconds", "from job creation to its final state, by kind"))

    def label(self, label: str) -> None:
        if label.startswith("alert:"):
            self.alerts.inc(kind=label.removeprefix("alert:"))


class OtaEngine:
    def __init__(self, deps: Deps, link: SmscLink, metrics: Metrics) -> None:
        self.deps = deps
        self.link = link
        self.settings = ota_jobs.OtaSettings.of(deps.settings)
        self.keys = KeyCache(deps.vault)
        self._numbers = stk_requests.NumberLocks()
        self.metrics = OtaMetrics(metrics)
        self._wake = asyncio.Event()
        self._pors: list[tuple[PorIn, asyncio.Future[str]]] = []
        self._por_wake = asyncio.Event()
        self._unsent: list[tuple[Outgoing, str]] = []
        self._waiters: dict[int, list[asyncio.Future[None]]] = {}
        self._submitting: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._sending = False
        # Called with (job id, kind, final state) as jobs finish here (benchmarks, tests).
        self.listeners: list[Callable[[int, str, str], None]] = []

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._tasks:
            return
        self._sending = True
        self._tasks = [asyncio.ensure_future(c) for c in
                       (self._sender(), self._por_writer(), self._timer())]
        ota_flow.register(self.deps.database, self)

    def ready(self) -> bool:
        """Can packets claimed elsewhere in this process be sent now (``ota_flow.Dispatch``)?"""
        return self._sending and self.link.bound

    def send(self, items: Sequence[Outgoing]) -> None:
        """Submit packets claimed and committed by a use case (a top-up's CREDIT)."""
        for item in items:
            task = asyncio.ensure_future(self._submit(item))
            self._submitting.add(task)
            task.add_done_callback(self._submitting.discard)

    async def stop_sending(self) -> None:
        """Claim nothing more; let the submits in flight finish (the link is still up)."""
        ota_flow.register(self.deps.database, None)
        self._sending = False
        self._wake.set()
        if self._submitting:
            await asyncio.wait(list(self._submitting), timeout=5.0)

    async def close(self) -> None:
        ota_flow.register(self.deps.database, None)
        self._sending = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for _, future in self._pors:
            if not future.done():
                future.set_exception(GatewayError("the OTA engine stopped"))
        self._pors.clear()

    def wake(self) -> None:
        self._wake.set()

    async def notify(self, events: Sequence[Event]) -> None:
        """Bus notifier: lifecycle changes make jobs; send them without waiting for a poll."""
        if any(e.name in _JOB_EVENTS for e in events):
            self._wake.set()

    async def wait(self, job_id: int, timeout: float) -> None:
        """Until job ``job_id`` finishes in this process, or ``timeout`` passes."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(job_id, []).append(future)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            waiting = self._waiters.get(job_id, [])
            if future in waiting:
                waiting.remove(future)
            if not waiting:
                self._waiters.pop(job_id, None)

    # -- MO ------------------------------------------------------------------------------

    async def on_mo(self, message: MoMessage) -> bool:
        """The link's MO handler: PoRs, STK requests and ``YE``; False for anything else."""
        udh = message.udh
        if udh is not None and udh.has(Iei.RPI):
            label = await self._por(PorIn(message.source, udh.encode() + message.payload))
            self.metrics.pors.inc(outcome=label.split(":")[0])
            self.metrics.label(label)
            return True
        if udh is not None and udh.has(Iei.CPI) and _is_request(message.payload):
            label = await stk_requests.handle_request(
                self.deps, self.keys, self._numbers, ota_flow.number_of(message.source),
                message.payload)
            self.metrics.label(label)
            self._wake.set()
            return True
        if stk_requests.is_balance_query(message.text):
            await stk_requests.balance_by_text(self.deps, ota_flow.number_of(message.source),
                                               self.deps.clock())
            return True
        return False

    async def _por(self, item: PorIn) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pors.append((item, future))
        self._por_wake.set()
        return await future

    async def _por_writer(self) -> None:
        failures = 0
        while True:
            await self._por_wake.wait()
            self._por_wake.clear()
            while self._pors:
                # Filled once the transaction holds the write lock: PoRs that arrive while it
                # waits for the lock go in this transaction, not the next.
                batch: list[tuple[PorIn, asyncio.Future[str]]] = []
                try:
                    labels, due = await self._apply_pors(batch)
                except GatewayError as exc:
                    self._pors[:0] = batch
                    delay = _RETRY_S[min(failures, len(_RETRY_S) - 1)]
                    failures += 1
                    log.warning("OTA PoR writer: %s; retrying in %.2fs", exc.detail, delay)
                    await asyncio.sleep(delay)
                    continue
                except Exception as exc:  # a bug: refuse these PoRs (the SMSC retries them)
                    log.exception("OTA PoR writer failed")
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                failures = 0
                for (_, future), label in zip(batch, labels, strict=True):
                    if not future.done():
                        future.set_result(label)
                if due:
                    self._wake.set()  # finished jobs freed their cards' next jobs

    async def _apply_pors(self, batch: list[tuple[PorIn, asyncio.Future[str]]]
                          ) -> tuple[list[str], bool]:
        """Apply the PoRs waiting (``batch`` is filled with them, and kept for a retry); their
        labels, and whether a pending job is due (the sender has work)."""
        async def work() -> tuple[list[str], Effects, bool]:
            fx = Effects()  # afresh for each try: a rolled back try leaves nothing behind
            async with self.deps.uow(inline=True) as uow:
                if not batch:
                    batch.extend(self._pors[:self.settings.por_batch])
                    del self._pors[:len(batch)]
                if not batch:
                    return [], fx, False
                items = [item for item, _ in batch]
                labels = await ota_flow.apply_pors(uow, self.keys, self.settings, items, fx)
                await fx.flush(uow)
                due = await ota_flow.any_due(uow)
                await uow.commit()
                return labels, fx, due

        labels, fx, due = await _retrying(work)
        self._finished(fx)
        return labels, due

    # -- sending -------------------------------------------------------------------------

    async def _sender(self) -> None:
        poll = self.settings.poll_interval
        while True:
            claimed = 0
            if self._sending and self.link.bound and self._room() > 0:
                try:
                    claimed = await self._send_batch()
                except GatewayError as exc:
                    log.warning("OTA sender: %s", exc.detail)
                except Exception:  # a bug must not stop the sender for good
                    log.exception("OTA sender failed")
            if claimed < self.settings.claim_batch or self._room() <= 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll)
                    # A burst of wakes (every top-up request, every PoR batch) makes one look
                    # at the queue, not one each.
                    await asyncio.sleep(_COALESCE_S)

    def _room(self) -> int:
        window = self.link.config.window if self.link.enabled else 1
        return min(self.settings.claim_batch, 4 * window - len(self._submitting))

    async def _send_batch(self) -> int:
        if not await self._due():
            return 0
        limit = self._room()

        async def work() -> list[Outgoing]:
            async with self.deps.uow(inline=True) as uow:
                out = await ota_flow.claim(uow, self.keys, self.settings, limit)
                await uow.commit()
                return out

        batch = await _retrying(work)
        for item in batch:
            task = asyncio.ensure_future(self._submit(item))
            self._submitting.add(task)
            task.add_done_callback(self._submitting.discard)
        return len(batch)

    async def _due(self) -> bool:
        """A cheap read first: most polls find nothing, and need no write transaction."""
        return await self._any(JobState.PENDING)

    async def _any(self, state: JobState) -> bool:
        """Is a job of ``state`` due? One autocommit statement: a poll never leaves a
        transaction open (a paused process would otherwise hold its locks)."""
        stmt = select(OtaJob.id).where(OtaJob.state == state,
                                       OtaJob.not_before <= self.deps.clock()).limit(1)
        database = self.deps.database
        try:
            if database.is_sqlite:  # WAL readers hold no lock a writer waits for
                async with self.deps.uow(readonly=True) as uow:
                    return (await uow.session.scalars(stmt)).first() is not None
            async with database.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                return (await auto.execute(stmt)).first() is not None
        except (SQLAlchemyError, OSError) as exc:
            raise StorageUnavailable(f"OTA poll failed ({type(exc).__name__})") from exc

    async def _submit(self, item: Outgoing) -> None:
        try:
            packet = build_command(self.settings.spi, item.keyset, item.tar, item.counter,
                                   item.data)
            segments = command_segments(packet, reference=item.counter & 0xFF)
            await self.link.submit_binary(item.msisdn, segments, pid=TP_PID_SIM_DATA_DOWNLOAD,
                                          dcs=TP_DCS_CLASS2_8BIT)
        except (GatewayError, OtaError, OSError) as exc:
            self._failed_submit(item, getattr(exc, "detail", str(exc)))
        except Exception as exc:  # SMPP errors and refusals: the job tries again later
            self._failed_submit(item, f"{type(exc).__name__}: {exc}")
        else:
            self.metrics.sent.inc(result="accepted")

    def _failed_submit(self, item: Outgoing, reason: str) -> None:
        log.warning("OTA job %d: packet not submitted (%s)", item.job_id, reason)
        self.metrics.sent.inc(result="refused")
        self._unsent.append((item, reason))

    # -- timer ---------------------------------------------------------------------------

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(_TIMER_S)
            try:
                await self._tick()
            except GatewayError as exc:
                log.warning("OTA timer: %s", exc.detail)
            except Exception:
                log.exception("OTA timer failed")

    async def _tick(self) -> None:
        if not self.link.enabled:
            return  # nothing was ever sent: nothing can be overdue
        unsent, self._unsent = self._unsent, []

        async def work() -> Effects:
            fx = Effects()
            async with self.deps.uow(inline=True) as uow:
                await ota_flow.unsent(uow, unsent, self.settings, fx)
                await ota_flow.expire(uow, self.settings, 500, fx)
                await fx.flush(uow)
                await uow.commit()
                return fx

        if unsent or await self._overdue():
            try:
                fx = await _retrying(work)
            except GatewayError:
                self._unsent[:0] = unsent
                raise
            self._finished(fx)
            self._wake.set()

    async def _overdue(self) -> bool:
        return await self._any(JobState.SENT)

    def _finished(self, fx: Effects) -> None:
        for job_id, kind, state, seconds in fx.finished:
            self.metrics.jobs.inc(kind=kind, state=state)
            self.metrics.seconds.observe(seconds, kind=kind)
            for future in self._waiters.pop(job_id, []):
                if not future.done():
                    future.set_result(None)
            for listener in self.listeners:
                listener(job_id, kind, state)


ENGINE = web.AppKey("ota_engine", OtaEngine)
_JOB_EVENTS = frozenset({EventName.CARD_LOST, EventName.CARD_UNFROZEN, EventName.CARD_REPLACED,
                         EventName.CARD_DEREGISTERED})


def _is_request(payload: bytes) -> bool:
    try:
        return parse_command_header(payload).tar == MO_TAR
    except OtaError:
        return False


T = TypeVar("T")


async def _retrying(work: Callable[[], Awaitable[T]]) -> T:
    for attempt in range(4):
        try:
            return await work()
        except Retryable:
            if attempt == 3:
                raise
            await asyncio.sleep(_RETRY_S[attempt])
    raise AssertionError("unreachable")


def install(app: web.Application) -> None:
    """Subscribe the job-making handlers and run the engine with the app (after the link)."""
    deps = app[keys.DEPS]
    ota_jobs.install(deps.bus, deps.settings)
    ota_reconcile.install(deps.bus)
    engine = OtaEngine(deps, app[keys.SMSC_LINK], app[keys.METRICS])
    deps.bus.add_notifier(engine)
    app[ENGINE] = engine
    app.cleanup_ctx.append(_run)


async def _run(app: web.Application) -> AsyncIterator[None]:
    engine = app[ENGINE]
    engine.link.add_mo_handler(engine.on_mo)
    engine.link.add_stop_hooks(before=engine.stop_sending, after=engine.close)
    engine.start()
    yield
    await engine.close()


def wake(app: web.Application) -> None:
    engine = app.get(ENGINE)
    if engine is not None:
        engine.wake()

