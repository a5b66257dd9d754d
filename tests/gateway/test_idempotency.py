"""Idempotency-Key: a retry gets the first result; another request under the same key is
refused; keys are per caller; one-time secrets are not replayed."""

from __future__ import annotations

from tests.gateway.helpers import World, idem, new_iccid, new_msisdn
from tests.gateway.invariants import count_audit, count_postings

V1 = "/api/v1"


async def test_retry_returns_the_first_result(any_world: World) -> None:
    api, a = any_world.api, any_world.a
    await any_world.topup(a, a.iccid, 800)
    key = idem()
    new = new_iccid()
    first = await api.call("POST", f"{V1}/cards/{a.iccid}/replace", token=a.token,
                           body={"new_iccid": new}, key=key)
    again = await api.call("POST", f"{V1}/cards/{a.iccid}/replace", token=a.token,
                           body={"new_iccid": new}, key=key)
    assert first.status == again.status == 200
    assert first.body == again.body
    assert await count_audit(api.client.app, "card.replace") == 1
    postings = await count_postings(api.client.app)
    await api.call("POST", f"{V1}/cards/{a.iccid}/replace", token=a.token,
                   body={"new_iccid": new}, key=key)
    assert await count_postings(api.client.app) == postings


async def test_same_key_different_request_is_refused(world: World) -> None:
    api, a = world.api, world.a
    key = idem()
    await api.ok("POST", f"{V1}/cards/{a.iccid}/loss", token=a.token, body={}, key=key)
    reply = await api.call("POST", f"{V1}/cards/{a.cards[1]['iccid']}/loss", token=a.token,
                           body={}, key=key)
    assert reply.status == 409 and reply["error"] == "idempotency_key_reused"


async def test_keys_are_scoped_to_the_caller(world: World) -> None:
    api, a, b = world.api, world.a, world.b
    key = idem()
    await api.ok("POST", f"{V1}/cards/{a.iccid}/loss", token=a.token, body={}, key=key)
    reply = await api.call("POST", f"{V1}/cards/{b.iccid}/loss", token=b.token, body={},
                           key=key)
    assert reply.status == 200 and reply["iccid"] == b.iccid


async def test_a_failed_request_does_not_burn_the_key(world: World) -> None:
    api, a = world.api, world.a
    key = idem()
    refused = await api.call("POST", f"{V1}/cards/{a.iccid}/unfreeze", token=a.token,
                             body={}, key=key)
    assert refused.status == 409
    await api.ok("POST", f"{V1}/cards/{a.iccid}/loss", token=a.token, body={}, key=idem())
    retried = await api.call("POST", f"{V1}/cards/{a.iccid}/unfreeze", token=a.token,
                             body={}, key=key)
    assert retried.status == 200 and retried["state"] == "active"


async def test_creations_accept_a_key_too(world: World) -> None:
    api, a = world.api, world.a
    key = idem()
    body = {"msisdn": new_msisdn(), "name": "张三"}
    first = await api.call("POST", f"{V1}/members", token=a.token, body=body, key=key)
    again = await api.call("POST", f"{V1}/members", token=a.token, body=body, key=key)
    assert first.status == again.status == 201 and first.body == again.body
    without = await api.call("POST", f"{V1}/members", token=a.token, body=body)
    assert without.status == 409  # no key: a second enrolment of the number is refused


async def test_secrets_are_not_replayed(world: World) -> None:
    api, a = world.api, world.a
    key = idem()
    body = {"code": "GATE-9", "kind": "door", "name": "gate"}
    first = await api.call("POST", f"{V1}/terminals", token=a.token, body=body, key=key)
    again = await api.call("POST", f"{V1}/terminals", token=a.token, body=body, key=key)
    assert len(first["secret"]) == 64
    assert again.status == 201 and again["secret"] is None and again["id"] == first["id"]


async def test_malformed_key_is_rejected(world: World) -> None:
    reply = await world.api.call("POST", f"{V1}/cards/{world.a.iccid}/loss",
                                 token=world.a.token, body={}, key="bad key with spaces")
    assert reply.status == 422 and reply["field"] == "Idempotency-Key"
