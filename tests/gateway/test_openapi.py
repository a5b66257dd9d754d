"""The OpenAPI document: served, complete, and consistent with the route table."""

from __future__ import annotations

from gateway.openapi import path_of
from gateway.routes import ROUTES
from tests.gateway.helpers import Api


async def test_every_route_is_documented(api: Api) -> None:
    doc = (await api.call("GET", "/api/v1/openapi.json", token=None)).body
    assert doc["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routes = {(r.method, path_of(r.path)) for r in ROUTES}
    assert all("}}" not in p and ":" not in p for _, p in routes)
    assert documented == routes
    ops = [op for ops in doc["paths"].values() for op in ops.values()]
    assert len({op["operationId"] for op in ops}) == len(ops)
    loss = doc["paths"]["/api/v1/cards/{iccid}/loss"]["post"]
    header = next(p for p in loss["parameters"] if p["name"] == "Idempotency-Key")
    assert header["required"] is True
    assert loss["security"] == [{"bearer": []}]
    upload = doc["paths"]["/api/v1/terminal/records"]["post"]
    assert "terminalSignature" in upload["security"][0]
    schema = upload["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["records"]["maxItems"] == 1000
    for op in ops:
        for status in ("401", "422"):
            assert op["responses"][status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}
    # Each CSV upload describes its own file.
    csv_bodies = {path: ops["post"]["requestBody"]["content"]["text/csv"]["schema"]
                  for path, ops in doc["paths"].items()
                  if "text/csv" in ops.get("post", {}).get("requestBody", {}).get("content", {})}
    assert set(csv_bodies) == {"/api/v1/members/import", "/api/v1/notices"}
    assert "msisdn,name" in csv_bodies["/api/v1/members/import"]["description"]
    assert "工号" in csv_bodies["/api/v1/notices"]["description"]
    assert all(b["type"] == "string" and b["example"] for b in csv_bodies.values())
