"""Wiring of the SMSC link, the outbox dispatcher and the member notices into the app.

``install(app)`` (called by ``create_app``) creates the link and the dispatcher, subscribes the
lifecycle notices and registers one ``cleanup_ctx`` that starts them and, on shutdown, stops
them in the order that loses nothing: stop claiming, drain and unbind the ESME, write its last
answers, release the claims left (``SmscLink.stop`` runs the dispatcher's stop hooks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway import keys
from gateway.services import member_notices
from gateway.smsc_link import SmscLink
from gateway.workers.outbox import Dispatcher


def install(app: web.Application) -> None:
    deps, metrics = app[keys.DEPS], app[keys.METRICS]
    link = SmscLink(deps, deps.settings.smsc, metrics)
    dispatcher = Dispatcher(deps, link, deps.settings.outbox, metrics)
    deps.bus.add_notifier(dispatcher)
    member_notices.install(deps.bus)
    app[keys.SMSC_LINK] = link
    app[keys.OUTBOX] = dispatcher
    app.cleanup_ctx.append(_smsc_and_outbox)


async def _smsc_and_outbox(app: web.Application) -> AsyncIterator[None]:
    link, dispatcher = app[keys.SMSC_LINK], app[keys.OUTBOX]
    dispatcher.start()
    await link.start()  # binds in the background; nothing happens without [smsc]
    yield
    await link.stop()
    await dispatcher.close()
