"""The gateway's exceptions. Each carries its wire code: an HTTP status and a JSON error code.

```
GatewayError (500 internal)
├── BadRequest (400 bad_request)
│   ├── IdempotencyKeyRequired (400 idempotency_key_required)
│   └── InvalidJson (400 invalid_json)
├── ValidationError (422 validation_failed, names the field)
├── Unauthorized (401 unauthorized)
├── Forbidden (403 forbidden)
├── NotFound (404 not_found)
├── Conflict (409 conflict)
│   ├── AlreadyExists (409 already_exists)
│   ├── InvalidState (409 invalid_state)
│   ├── InsufficientFunds (409 insufficient_funds)
│   ├── IdempotencyKeyReused (409 idempotency_key_reused)
│   └── ConcurrentUpdate (409 concurrent_update)
├── PayloadTooLarge (413 payload_too_large)
├── RateLimited (429 rate_limited)
└── StorageUnavailable (503 storage_unavailable)
```

Services raise these; only ``gateway.middleware`` turns them into responses. SQLAlchemy's
exceptions stop in ``gateway.db`` and come out as ``Conflict`` or ``StorageUnavailable``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    http_status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        # Machine-readable context for the JSON body (e.g. the field, the current state).
        self.extra: dict[str, Any] = extra


class BadRequest(GatewayError):
    http_status = 400
    code = "bad_request"


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency_key_required"


class InvalidJson(BadRequest):
    code = "invalid_json"


class ValidationError(GatewayError):
    http_status = 422
    code = "validation_failed"

    def __init__(self, field: str, detail: str, **extra: Any) -> None:
        super().__init__(f"{field}: {detail}", field=field, **extra)
        self.field = field


class Unauthorized(GatewayError):
    http_status = 401
    code = "unauthorized"


class Forbidden(GatewayError):
    http_status = 403
    code = "forbidden"


class NotFound(GatewayError):
    http_status = 404
    code = "not_found"


class Conflict(GatewayError):
    http_status = 409
    code = "conflict"


class AlreadyExists(Conflict):
    code = "already_exists"


class InvalidState(Conflict):
    code = "invalid_state"


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class ConcurrentUpdate(Conflict):
    code = "concurrent_update"


class PayloadTooLarge(GatewayError):
    http_status = 413
    code = "payload_too_large"


class RateLimited(GatewayError):
    http_status = 429
    code = "rate_limited"


class StorageUnavailable(GatewayError):
    http_status = 503
    code = "storage_unavailable"
