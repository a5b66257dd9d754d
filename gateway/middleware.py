"""Request pipeline: errors to JSON (one table), metrics, authentication, rate limits, input.

``ERROR_STATUS`` is the one place where exceptions become HTTP statuses. It is looked up along
the exception's MRO, so the most specific entry wins; ``None`` means "the exception carries its
own ``http_status``" (every ``GatewayError`` does). Errors of other packages that reach a handler
(an OTA codec refusing what the gateway built, the SMSC throttling) are mapped here too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
import uuid
from typing import Any

from aiohttp import web

from gateway import keys
from gateway.api.base import Auth, BodyKind, Handler, Idem, Input, RouteSpec, dumps
from gateway.api.validation import coerce_query, validate
from gateway.domain import Role
from gateway.errors import (
    Forbidden,
    GatewayError,
    InvalidJson,
    RateLimited,
    Unauthorized,
    ValidationError,
)
from gateway.services import admins, terminals
from gateway.services.base import IdemKey, Principal
from ota.errors import OtaError
from smpp.errors import SmppError

log = logging.getLogger(__name__)

ERROR_STATUS: dict[type[BaseException], int | None] = {
    GatewayError: None,
    OtaError: 502,
    SmppError: 503,
    web.HTTPException: None,
}
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
               413: "payload_too_large", 415: "unsupported_media_type"}
_NO_QUERY: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_IDEM_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def status_of(exc: BaseException) -> int | None:
    for kind in type(exc).__mro__:
        if kind in ERROR_STATUS:
            fixed = ERROR_STATUS[kind]
            return fixed if fixed is not None else int(getattr(exc, "http_status",
                                                               getattr(exc, "status", 500)))
    return None


def error_response(exc: BaseException, request_id: str) -> web.Response:
    status = status_of(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, GatewayError):
        body: dict[str, Any] = {"error": exc.code, "detail": exc.detail, **exc.extra}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.extra.get("retry_after_s", 1))
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = 'Bearer realm="onecard"'
    elif isinstance(exc, web.HTTPException):
        body = {"error": _HTTP_CODES.get(exc.status, "http_error"), "detail": exc.reason}
        if exc.status == 405:
            headers["Allow"] = exc.headers.get("Allow", "")
    elif status is not None:
        body = {"error": type(exc).__name__, "detail": str(exc)}
    else:
        status = 500
        log.error("unhandled error in request %s", request_id, exc_info=exc)
        body = {"error": "internal", "detail": f"internal error (request {request_id})"}
    return web.json_response(body, status=status or 500, headers=headers, dumps=dumps)


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    supplied = request.headers.get("X-Request-Id", "")
    request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
    request[keys.REQUEST_ID] = request_id
    started = time.perf_counter()
    try:
        response = await handler(request)
    except Exception as exc:  # every error leaves as JSON; CancelledError is not an Exception
        response = error_response(exc, request_id)
    route = request.match_info.route.resource
    template = route.canonical if route is not None else "unmatched"
    metrics = request.app[keys.METRICS]
    metrics.http_requests.inc(method=request.method, route=template,
                              status=str(response.status))
    metrics.http_seconds.observe(time.perf_counter() - started, route=template)
    response.headers["X-Request-Id"] = request_id
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    spec = request.app[keys.SPECS].get(request.match_info.route)
    if spec is None:  # aiohttp's own 404/405, or a route without a spec
        return await handler(request)
    raw = await request.read() if spec.body_kind is not BodyKind.NONE else b""
    principal = await _authenticate(request, spec, raw)
    wait = request.app[keys.LIMITER].acquire(principal.actor)
    if wait:
        raise RateLimited("too many requests", retry_after_s=math.ceil(wait))
    request[keys.PRINCIPAL] = principal
    request[keys.INPUT] = _input(request, spec, raw)
    return await handler(request)


def _client(request: web.Request) -> str:
    return f"ip:{request.remote or 'unknown'}"


async def _authenticate(request: web.Request, spec: RouteSpec, raw: bytes) -> Principal:
    request_id = request[keys.REQUEST_ID]
    if spec.auth is Auth.PUBLIC:
        return Principal(role=Role.ANONYMOUS, actor=_client(request), request_id=request_id)
    try:
        if spec.auth is Auth.TERMINAL:
            found = await _terminal(request, raw)
        else:
            found = await _bearer(request)
    except Unauthorized:
        # Failed attempts spend the client address's budget: guessing is rate limited too.
        wait = request.app[keys.LIMITER].acquire(_client(request))
        if wait:
            raise RateLimited("too many failed attempts",
                              retry_after_s=math.ceil(wait)) from None
        raise
    if spec.auth is Auth.OPERATOR and not found.is_operator:
        raise Forbidden("this operation is reserved to the operator")
    return Principal(role=found.role, actor=found.actor, enterprise_id=found.enterprise_id,
                     admin_id=found.admin_id, terminal_id=found.terminal_id,
                     request_id=request_id)


async def _bearer(request: web.Request) -> Principal:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token (Authorization: Bearer ...)")
    return await admins.authenticate(request.app[keys.DEPS], token.strip())


async def _terminal(request: web.Request, raw: bytes) -> Principal:
    headers = request.headers
    names = ("X-Terminal-Id", "X-Timestamp", "X-Nonce", "X-Signature")
    if not all(headers.get(n) for n in names):
        raise Unauthorized(f"missing terminal signature headers ({', '.join(names)})")
    signed = terminals.SignedRequest(
        terminal=headers["X-Terminal-Id"], timestamp=headers["X-Timestamp"],
        nonce=headers["X-Nonce"], signature=headers["X-Signature"], method=request.method,
        path_qs=request.path_qs, body=raw)
    app = request.app
    return await terminals.authenticate(app[keys.DEPS], app[keys.TERMINAL_KEYS], app[keys.REPLAY],
                                        signed)


def _input(request: web.Request, spec: RouteSpec, raw: bytes) -> Input:
    # len() counts every (key, value) pair; keys() lists each key once.
    if len(request.query) != len(request.query.keys()):
        raise ValidationError("query", "a query parameter is repeated")
    query = coerce_query(dict(request.query), spec.query or _NO_QUERY)
    body: dict[str, Any] = {}
    if spec.body_kind is BodyKind.JSON:
        body = _json_body(raw, spec)
    return Input(body=body, query=query, raw=raw, idem=_idem(request, spec, raw))


def _json_body(raw: bytes, spec: RouteSpec) -> dict[str, Any]:
    if not raw.strip():
        parsed: Any = {}
    else:
        try:
            parsed = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidJson(f"request body is not JSON: {exc}", field="body") from None
    result = validate(parsed, spec.body or _ANY_OBJECT, "body")
    return result if isinstance(result, dict) else {}


def _idem(request: web.Request, spec: RouteSpec, raw: bytes) -> IdemKey | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or spec.idem is Idem.NONE:
        return None
    if not _IDEM_KEY.match(key):
        raise ValidationError("Idempotency-Key", "1 to 128 printable ASCII characters")
    digest = hashlib.sha256(f"{request.method}\n{request.path_qs}\n".encode() + raw)
    return IdemKey(key=key, fingerprint=digest.hexdigest())
