"""Test helpers: an API caller, a signing terminal, and a world of two tenants built through
the API (so every fixture row went through the same validation as production input).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from gateway.services.terminals import sign

OPERATOR_TOKEN = "oc_test-operator-token-0123456789abcdef"
_serial = itertools.count(1)


def new_iccid() -> str:
    return f"898600{next(_serial):014d}"


def new_msisdn() -> str:
    return f"86139{next(_serial):08d}"


def idem() -> str:
    return uuid.uuid4().hex


@dataclass
class Reply:
    status: int
    body: Any
    headers: CIMultiDict[str]

    def __getitem__(self, key: str) -> Any:
        return self.body[key]


class Api:
    def __init__(self, client: TestClient[web.Request, web.Application]) -> None:
        self.client = client

    async def call(
        self, method: str, path: str, *, token: str | None = OPERATOR_TOKEN,
        body: Any = None, key: str | None = None, data: bytes | None = None,
        headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
    ) -> Reply:
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if key is not None:
            hdrs["Idempotency-Key"] = key
        raw = data if data is not None else (json.dumps(body).encode() if body is not None
                                             else None)
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json")
        async with self.client.request(method, path, data=raw, headers=hdrs,
                                       params=params) as resp:
            text = await resp.text()
            try:
                parsed: Any = json.loads(text)
            except ValueError:
                parsed = text
            return Reply(resp.status, parsed, CIMultiDict(resp.headers))

    async def ok(self, method: str, path: str, status: int | None = None, **kw: Any) -> Any:
        reply = await self.call(method, path, **kw)
        expected = status or (201 if method == "POST" and reply.status == 201 else 200)
        assert reply.status == expected, (method, path, reply.status, reply.body)
        return reply.body


class TerminalClient:
    """A terminal that signs its requests with its own key, as real ones do."""

    def __init__(self, api: Api, code: str, secret: str) -> None:
        self.api = api
        self.code = code
        self.secret = bytes.fromhex(secret)
        self.seq = 0

    def headers(self, method: str, path_qs: str, body: bytes,
                timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = uuid.uuid4().hex
        return {"X-Terminal-Id": self.code, "X-Timestamp": stamp, "X-Nonce": nonce,
                "X-Signature": sign(self.secret, method, path_qs, stamp, nonce, body)}

    async def post(self, path: str, body: Any) -> Reply:
        raw = json.dumps(body).encode()
        return await self.api.call("POST", path, token=None, data=raw,
                                   headers={**self.headers("POST", path, raw),
                                            "Content-Type": "application/json"})

    async def upload(self, records: list[dict[str, Any]]) -> Reply:
        return await self.post("/api/v1/terminal/records", {"records": records})

    async def blacklist(self, since: int = 0) -> Reply:
        path = f"/api/v1/terminal/blacklist?since={since}"
        return await self.api.call("GET", path, token=None, headers=self.headers("GET", path, b""))

    def record(self, kind: str, iccid: str, **extra: Any) -> dict[str, Any]:
        self.seq += 1
        return {"seq": self.seq, "type": kind, "iccid": iccid,
                "at": "2026-11-25T08:00:00+08:00", **extra}


@dataclass
class Tenant:
    enterprise: dict[str, Any]
    admin: dict[str, Any]
    token: str
    members: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    terminals: dict[str, TerminalClient] = field(default_factory=dict)
    terminal_rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return int(self.enterprise["id"])

    @property
    def iccid(self) -> str:
        return str(self.cards[0]["iccid"])


ALL_MODULES = ["attendance", "door", "purchase", "sms", "topup"]


class World:
    def __init__(self, api: Api, a: Tenant, b: Tenant) -> None:
        self.api = api
        self.a = a
        self.b = b
        self.extra: dict[str, Any] = {}

    @classmethod
    async def build(cls, api: Api) -> World:
        return cls(api, await tenant(api, "ENT-A"), await tenant(api, "ENT-B"))

    async def topup(self, t: Tenant, iccid: str, amount: int) -> Reply:
        pos = t.terminals["topup"]
        return await pos.upload([pos.record("topup", iccid, amount_fen=amount)])

    async def balance(self, iccid: str) -> int:
        return int((await self.api.ok("GET", f"/api/v1/cards/{iccid}"))["balance_fen"])


async def tenant(api: Api, code: str, members: int = 3, cards: int = 2) -> Tenant:
    ent = await api.ok("POST", "/api/v1/enterprises", body={
        "code": code, "name": f"{code} Ltd", "sms_signature": "一卡通",
        "modules": ALL_MODULES})
    admin = await api.ok("POST", "/api/v1/admins", body={
        "login": f"admin-{code.lower()}", "name": "Admin", "role": "enterprise_admin",
        "enterprise_id": ent["id"]})
    t = Tenant(ent, admin, admin["token"])
    for i in range(members):
        t.members.append(await api.ok("POST", "/api/v1/members", token=t.token, body={
            "msisdn": new_msisdn(), "name": f"成员{i}", "department": "R&D"}))
    for member in t.members[:cards]:
        t.cards.append(await api.ok("POST", "/api/v1/cards", token=t.token, body={
            "iccid": new_iccid(), "member_id": member["id"],
            "apps": ["door", "attendance", "purse"]}))
    for kind in ("door", "attendance", "pos", "topup"):
        row = await api.ok("POST", "/api/v1/terminals", token=t.token, body={
            "code": f"{code}-{kind}", "kind": kind, "name": kind})
        t.terminal_rows[kind] = row
        t.terminals[kind] = TerminalClient(api, row["code"], row["secret"])
    return t
