"""The aiohttp application: ``create_app(settings)`` wires settings, database, ports and routes.

Startup (``cleanup_ctx``): migrate the database to the newest revision, make sure the bootstrap
operator token (if configured) is valid; shutdown: close the database pool.

Later subsystems (SMS outbox, OTA job engine, bill runs, CDR writer) plug in here: they
subscribe to the ``EventBus`` (``app[keys.DEPS].bus``) and add their workers to
``app.cleanup_ctx``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from billing import recorder as billing_recorder
from gateway import keys, openapi
from gateway.db.engine import Database
from gateway.guards import RateLimiter, ReplayGuard
from gateway.metrics import Metrics
from gateway.middleware import errors_and_metrics, guard
from gateway.ports import Clock, Event, EventBus, EventName, utcnow
from gateway.routes import ROUTES, setup_routes
from gateway.services import admins
from gateway.services.base import Deps
from gateway.services.terminals import TerminalKeys
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.workers import bills as bill_workers
from gateway.workers import lifecycle as outbox_workers
from gateway.workers import ota as ota_workers

_LIFECYCLE = {
    EventName.CARD_LOST: "report_loss",
    EventName.CARD_UNFROZEN: "unfreeze",
    EventName.CARD_REPLACED: "replace",
    EventName.CARD_DEREGISTERED: "deregister",
}


class MetricsNotifier:
    """Counts committed events: the first subscriber of the notification port."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def notify(self, events: Sequence[Event]) -> None:
        for event in events:
            self.metrics.events.inc(name=event.name.value)
            if event.name in _LIFECYCLE:
                self.metrics.lifecycle.inc(operation=_LIFECYCLE[event.name])
            elif event.name is EventName.RECORDS_INGESTED:
                self.metrics.records.inc(float(event.payload.get("count", 0)), outcome="stored")


def create_app(
    settings: Settings, *, clock: Clock = utcnow, bus: EventBus | None = None
) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[errors_and_metrics, guard]
    )
    metrics = Metrics()
    bus = bus or EventBus()
    bus.add_notifier(MetricsNotifier(metrics))
    billing_recorder.install(bus)  # CDRs of card registrations, replacements, top-ups...
    app[keys.DEPS] = Deps(
        settings=settings, database=Database(settings), bus=bus,
        vault=Vault(settings.master_keys), clock=clock,
    )
    app[keys.METRICS] = metrics
    app[keys.LIMITER] = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app[keys.REPLAY] = ReplayGuard(settings.terminal_replay_window_s)
    app[keys.TERMINAL_KEYS] = terminal_keys = TerminalKeys()
    bus.add_notifier(terminal_keys)
    setup_routes(app)
    app[keys.OPENAPI] = openapi.build(ROUTES)
    app.cleanup_ctx.append(_database)
    outbox_workers.install(app)  # SMSC link, outbox dispatcher, members' lifecycle SMS
    ota_workers.install(app)  # OTA job engine on that link; jobs from lifecycle events
    bill_workers.install(app)  # bill runs and schedules, MO opt-out keywords, enterprise rates
    app.cleanup_ctx.append(_frozen_heap)  # last: once everything above has started
    return app


async def _frozen_heap(app: web.Application) -> AsyncIterator[None]:
    """What startup built (modules, mappers, compiled statements: some 200,000 objects) is
    moved out of the garbage collector's sight: each full collection walked all of it, and
    stopped the event loop, every request and every PoR with it, for 100-200 ms. (No
    collection first: it would cost as much at every start; what startup left as garbage
    waits for the shutdown's unfreeze.)"""
    gc.freeze()
    yield
    gc.unfreeze()


async def _database(app: web.Application) -> AsyncIterator[None]:
    deps = app[keys.DEPS]
    if deps.settings.migrate_on_start:
        await deps.database.migrate()
    if deps.settings.operator_token:
        await admins.ensure_operator_token(deps, deps.settings.operator_token)
    yield
    await deps.database.dispose()
