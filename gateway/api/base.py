"""What handlers share: the route specification and the per-request context.

Middleware authenticates the caller and validates query and body against the route's spec
before the handler runs; the handler reads the results from ``Ctx`` and calls one use case.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway import identifiers
from gateway.db.repositories import Page
from gateway.errors import IdempotencyKeyRequired
from gateway.services.base import Deps, IdemKey, Principal, View

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Auth(enum.Enum):
    PUBLIC = "public"
    ADMIN = "admin"  # operator or enterprise admin (bearer token)
    OPERATOR = "operator"  # operator only (bearer token)
    TERMINAL = "terminal"  # HMAC-signed by a terminal's own key


class Idem(enum.Enum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


class BodyKind(enum.Enum):
    NONE = "none"
    JSON = "json"
    CSV = "csv"


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    auth: Auth = Auth.ADMIN
    body: dict[str, Any] | None = None
    body_kind: BodyKind = BodyKind.NONE
    query: dict[str, Any] | None = None
    idem: Idem = Idem.NONE
    status: int = 200
    # For the tenant-isolation walk and documentation: the caller's own enterprise is the only
    # one an enterprise admin reaches through this route.
    tenant_scoped: bool = True
    responses: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Input:
    body: dict[str, Any]
    query: dict[str, Any]
    raw: bytes
    idem: IdemKey | None


class Ctx:
    """Typed access to what middleware prepared for a handler."""

    def __init__(self, request: web.Request) -> None:
        from gateway import keys

        self.request = request
        self.deps: Deps = request.app[keys.DEPS]
        self.principal: Principal = request[keys.PRINCIPAL]
        self.input: Input = request[keys.INPUT]

    @property
    def body(self) -> dict[str, Any]:
        return self.input.body

    @property
    def query(self) -> dict[str, Any]:
        return self.input.query

    @property
    def idem(self) -> IdemKey | None:
        return self.input.idem

    @property
    def idem_required(self) -> IdemKey:
        if self.input.idem is None:
            raise IdempotencyKeyRequired("this operation needs an Idempotency-Key header")
        return self.input.idem

    @property
    def page(self) -> Page:
        return Page(after=self.query.get("after"), limit=self.query.get("limit", 50))

    def int_param(self, name: str) -> int:
        return int(self.request.match_info[name])

    def iccid_param(self) -> str:
        return identifiers.iccid(self.request.match_info["iccid"], "iccid")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ok(view: View, status: int = 200) -> web.Response:
    return web.json_response(view, status=status, dumps=dumps)
