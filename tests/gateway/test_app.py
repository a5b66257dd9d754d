"""The application as a whole: health, metrics, OpenAPI, error shapes, limits."""

from __future__ import annotations

from tests.gateway.helpers import Api, World


async def test_healthz(api: Api) -> None:
    reply = await api.call("GET", "/healthz", token=None)
    assert reply.status == 200
    assert reply.body["database"] == "ok"


async def test_world_builds(world: World) -> None:
    assert world.a.cards[0]["state"] == "active"
    assert world.b.cards[0]["keys"]["source"] == "derived"
