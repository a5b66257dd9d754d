"""The request pipeline: JSON errors for everything, limits, request ids, the ports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from gateway import keys
from gateway.app import create_app
from gateway.db.models import AuditEntry, DomainEvent
from gateway.db.uow import UnitOfWork
from gateway.domain import Role
from gateway.ports import Event, EventBus, EventName
from gateway.settings import Settings
from tests.gateway.helpers import Api, World, idem, tenant

V1 = "/api/v1"


async def make_api(aiohttp_client: Any, settings: Settings, **kw: Any) -> Api:
    return Api(await aiohttp_client(create_app(settings, **kw)))


async def test_unknown_routes_and_methods_answer_json(api: Api) -> None:
    missing = await api.call("GET", f"{V1}/nothing-here")
    assert missing.status == 404 and missing.body == {"error": "not_found",
                                                      "detail": "Not Found"}
    wrong = await api.call("PUT", f"{V1}/enterprises")
    assert wrong.status == 405 and wrong["error"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]
    assert (await api.call("GET", f"{V1}/members/abc")).status == 404


async def test_bad_bodies(api: Api) -> None:
    bad_json = await api.call("POST", f"{V1}/enterprises", data=b"{nope")
    assert bad_json.status == 400 and bad_json["error"] == "invalid_json"
    assert bad_json["field"] == "body"
    not_object = await api.call("POST", f"{V1}/enterprises", body=[1, 2])
    assert not_object.status == 422 and not_object["field"] == "body"
    wrong_type = await api.call("POST", f"{V1}/enterprises",
                                body={"code": "X1", "name": 5, "sms_signature": "xx"})
    assert wrong_type.status == 422 and wrong_type["field"] == "name"
    boolean = await api.call("POST", f"{V1}/enterprises", body={
        "code": "X2", "name": "n", "sms_signature": "xx", "monthly_fee_fen": True})
    assert boolean.status == 422 and boolean["field"] == "monthly_fee_fen"


async def test_bad_queries(api: Api) -> None:
    for query, field in (("limit=0", "limit"), ("limit=x", "limit"), ("colour=red", "colour"),
                         ("limit=1&limit=2", "query"), ("status=gone", "status")):
        reply = await api.call("GET", f"{V1}/enterprises?{query}")
        assert reply.status == 422 and reply["field"] == field, (query, reply.body)


async def test_authentication_errors(api: Api) -> None:
    none = await api.call("GET", f"{V1}/cards", token=None)
    assert none.status == 401 and none.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await api.call("GET", f"{V1}/cards", token="oc_wrong")
    assert wrong.status == 401
    basic = await api.call("GET", f"{V1}/cards", token=None,
                           headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status == 401


async def test_body_size_limit(aiohttp_client: Any, sqlite_settings: Settings) -> None:
    api = await make_api(aiohttp_client, sqlite_settings.replace(max_body_bytes=1024))
    reply = await api.call("POST", f"{V1}/enterprises", data=b"{" + b" " * 4096 + b"}")
    assert reply.status == 413 and reply["error"] == "payload_too_large"


async def test_rate_limits(aiohttp_client: Any, sqlite_settings: Settings) -> None:
    api = await make_api(aiohttp_client, sqlite_settings.replace(
        rate_limit_per_second=0.5, rate_limit_burst=3))
    statuses = [(await api.call("GET", f"{V1}/enterprises")).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await api.call("GET", f"{V1}/enterprises")
    assert limited["error"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    # Guessing tokens spends the client address's budget.
    guesses = [(await api.call("GET", f"{V1}/cards", token=f"oc_{i}")).status
               for i in range(5)]
    assert guesses[:3] == [401, 401, 401] and guesses[-1] == 429


async def test_request_ids_and_headers(api: Api) -> None:
    given = await api.call("GET", "/healthz", token=None, headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    made = await api.call("GET", "/healthz", token=None, headers={"X-Request-Id": "bad id!"})
    assert len(made.headers["X-Request-Id"]) == 32
    assert made.headers["X-Content-Type-Options"] == "nosniff"


async def test_metrics_count_requests_and_events(world: World) -> None:
    api, a = world.api, world.a
    await api.ok("POST", f"{V1}/cards/{a.iccid}/loss", token=a.token, body={}, key=idem())
    text = (await api.call("GET", "/metrics", token=None)).body
    assert 'onecard_lifecycle_operations_total{operation="report_loss"} 1' in text
    assert 'route="/api/v1/cards/{iccid}/loss",status="200"' in text
    assert 'onecard_terminal_records_total' in text


async def test_transactional_subscribers_commit_with_the_change(
    aiohttp_client: Any, sqlite_settings: Settings,
) -> None:
    """A subscriber (the future SMS outbox) writes in the same transaction as the change."""
    bus = EventBus()
    seen: list[str] = []

    async def outbox(uow: UnitOfWork, event: Event) -> None:
        seen.append(event.payload["iccid"])
        uow.audit.add(AuditEntry(at=uow.clock(), actor="outbox", role=Role.SYSTEM,
                                 enterprise_id=event.enterprise_id, action="sms.queued",
                                 target_type="card", target_id=event.payload["iccid"],
                                 detail={}, request_id=None))

    bus.subscribe(outbox, [EventName.CARD_LOST])
    api = await make_api(aiohttp_client, sqlite_settings, bus=bus)
    t = await tenant(api, "SUB", members=1, cards=1)
    await api.ok("POST", f"{V1}/cards/{t.iccid}/loss", token=t.token, body={}, key=idem())
    assert seen == [t.iccid]
    async with api.client.app[keys.DEPS].uow(readonly=True) as uow:
        queued = await uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "sms.queued"))
        names = (await uow.session.scalars(select(DomainEvent.name))).all()
    assert queued == 1 and "card.lost" in names and "blacklist.changed" in names


async def test_a_failing_subscriber_rolls_the_change_back(
    aiohttp_client: Any, sqlite_settings: Settings,
) -> None:
    bus = EventBus()

    async def broken(uow: UnitOfWork, event: Event) -> None:
        raise RuntimeError("outbox full")

    bus.subscribe(broken, [EventName.CARD_LOST])
    api = await make_api(aiohttp_client, sqlite_settings, bus=bus)
    t = await tenant(api, "SUB", members=1, cards=1)
    reply = await api.call("POST", f"{V1}/cards/{t.iccid}/loss", token=t.token, body={},
                           key=idem())
    assert reply.status == 500 and reply["error"] == "internal"
    assert "outbox" not in reply["detail"]  # no internals leak
    card = await api.ok("GET", f"{V1}/cards/{t.iccid}", token=t.token)
    assert card["state"] == "active"


async def test_notifiers_run_after_commit(aiohttp_client: Any, sqlite_settings: Settings) -> None:
    class Wake:
        def __init__(self) -> None:
            self.names: list[str] = []

        async def notify(self, events: Sequence[Event]) -> None:
            self.names += [e.name.value for e in events]

    wake = Wake()
    bus = EventBus()
    bus.add_notifier(wake)
    api = await make_api(aiohttp_client, sqlite_settings, bus=bus)
    t = await tenant(api, "NOT", members=1, cards=1)
    await api.ok("POST", f"{V1}/cards/{t.iccid}/loss", token=t.token, body={}, key=idem())
    assert wake.names[-2:] == ["blacklist.changed", "card.lost"]


async def test_health_reports_an_unreachable_database(aiohttp_client: Any,
                                                      sqlite_settings: Settings) -> None:
    settings = sqlite_settings.replace(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", migrate_on_start=False,
        operator_token=None)
    api = await make_api(aiohttp_client, settings)
    reply = await api.call("GET", "/healthz", token=None)
    assert reply.status == 503 and reply["database"] == "unreachable"
    down = await api.call("GET", f"{V1}/cards", token="oc_x")
    assert down.status == 503 and down["error"] == "storage_unavailable"
