"""The OpenAPI 3.1 document, generated from the route table and the request schemas."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gateway import __version__
from gateway.api.base import Auth, BodyKind, Idem, RouteSpec

# "{name}" or "{name:regex}", where the regex may hold one level of braces ("[0-9]{2,32}").
_PARAM = re.compile(r"\{(\w+)(?::((?:[^{}]|\{[^{}]*\})*))?\}")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable code"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "the offending field, for validation"},
    },
}
_ERRORS = {
    "400": "malformed request (invalid JSON, missing Idempotency-Key)",
    "401": "missing, invalid or expired credentials",
    "403": "not allowed for this caller",
    "404": "not found (or not visible to this caller)",
    "409": "conflict with the current state",
    "413": "body too large",
    "422": "validation failed (the field is named)",
    "429": "rate limited (Retry-After)",
}
_SECURITY: dict[Auth, list[dict[str, list[str]]]] = {
    Auth.ADMIN: [{"bearer": []}],
    Auth.OPERATOR: [{"bearer": []}],
    Auth.TERMINAL: [{"terminalId": [], "terminalTimestamp": [], "terminalNonce": [],
                     "terminalSignature": []}],
    Auth.PUBLIC: [],
}


def path_of(template: str) -> str:
    """The OpenAPI form of an aiohttp path: ``{iccid}`` stays, ``{id:\\d+}`` becomes ``{id}``."""
    return _path(template)[0]


def _path(template: str) -> tuple[str, list[tuple[str, str]]]:
    """The OpenAPI path and its parameters with their JSON types (``\\d+`` is an integer)."""
    params = [(name, "integer" if regex == r"\d+" else "string")
              for name, regex in _PARAM.findall(template)]
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", template), params


def _parameters(spec: RouteSpec, names: list[tuple[str, str]]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": kind}}
        for n, kind in names
    ]
    for name, schema in (spec.query or {}).get("properties", {}).items():
        params.append({"name": name, "in": "query", "required": False, "schema": schema})
    if spec.idem is not Idem.NONE:
        params.append({"name": "Idempotency-Key", "in": "header",
                       "required": spec.idem is Idem.REQUIRED,
                       "schema": {"type": "string", "maxLength": 128},
                       "description": "a retry with the same key returns the first result"})
    return params


def _operation(spec: RouteSpec, names: list[tuple[str, str]]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": spec.summary,
        "tags": [spec.tag],
        "operationId": f"{spec.tag}.{spec.handler.__name__.rstrip('_')}",
        "parameters": _parameters(spec, names),
        "security": _SECURITY[spec.auth],
        "responses": {str(spec.status): {"description": "success",
                                         "content": {"application/json": {}}}},
    }
    if spec.auth is Auth.OPERATOR:
        op["description"] = "Operator only."
    if spec.body_kind is BodyKind.JSON:
        op["requestBody"] = {"required": bool(spec.body and spec.body.get("required")),
                             "content": {"application/json": {"schema": spec.body}}}
    elif spec.body_kind is BodyKind.CSV:
        # The file's layout is the route's own (spec.body: a string schema describing it).
        op["requestBody"] = {"required": True, "content": {"text/csv": {"schema": {
            "type": "string", **(spec.body or {})}}}}
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for status, text in _ERRORS.items():
        op["responses"][status] = {"description": text, "content": error_ref}
    return op


def build(routes: Sequence[RouteSpec]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for spec in routes:
        path, names = _path(spec.path)
        paths.setdefault(path, {})[spec.method.lower()] = _operation(spec, names)
    return {
        "openapi": "3.1.0",
        "info": {"title": "onecard gateway", "version": __version__,
                 "description": "Carrier gateway of the RFID-SIM one-card (一卡通) service."},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "terminalId": {"type": "apiKey", "in": "header", "name": "X-Terminal-Id"},
                "terminalTimestamp": {"type": "apiKey", "in": "header", "name": "X-Timestamp"},
                "terminalNonce": {"type": "apiKey", "in": "header", "name": "X-Nonce"},
                "terminalSignature": {
                    "type": "apiKey", "in": "header", "name": "X-Signature",
                    "description": "hex HMAC-SHA256 with the terminal key over METHOD\\n"
                                   "PATH?QUERY\\nTIMESTAMP\\nNONCE\\nhex SHA-256(body)"},
            },
        },
    }
