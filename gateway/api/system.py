"""Health, Prometheus metrics and the OpenAPI document (public)."""

from __future__ import annotations

from aiohttp import web

from gateway import __version__, keys
from gateway.api.base import ok


async def healthz(request: web.Request) -> web.Response:
    database = await request.app[keys.DEPS].database.ping()
    body = {"status": "ok" if database else "degraded", "version": __version__,
            "database": "ok" if database else "unreachable"}
    return ok(body, 200 if database else 503)


async def metrics(request: web.Request) -> web.Response:
    text = request.app[keys.METRICS].render()
    return web.Response(body=text.encode(),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def openapi(request: web.Request) -> web.Response:
    return ok(request.app[keys.OPENAPI])
