"""Typed keys of application and request state (``web.AppKey`` / ``web.RequestKey``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.base import Input, RouteSpec
from gateway.guards import RateLimiter, ReplayGuard
from gateway.metrics import Metrics
from gateway.services.base import Deps, Principal
from gateway.services.terminals import TerminalKeys
from gateway.smsc_link import SmscLink
from gateway.workers.outbox import Dispatcher

DEPS = web.AppKey("deps", Deps)
METRICS = web.AppKey("metrics", Metrics)
LIMITER = web.AppKey("limiter", RateLimiter)
REPLAY = web.AppKey("replay", ReplayGuard)
TERMINAL_KEYS = web.AppKey("terminal_keys", TerminalKeys)
# The spec of each registered route, found by the route object aiohttp matched.
SPECS = web.AppKey("specs", dict[web.AbstractRoute, RouteSpec])
OPENAPI = web.AppKey("openapi", dict[str, Any])
# The SMSC link (always present; ``enabled`` once bound to an SMSC) and the outbox dispatcher.
SMSC_LINK = web.AppKey("smsc_link", SmscLink)
OUTBOX = web.AppKey("outbox", Dispatcher)

PRINCIPAL = web.RequestKey("principal", Principal)
INPUT = web.RequestKey("input", Input)
REQUEST_ID = web.RequestKey("request_id", str)
