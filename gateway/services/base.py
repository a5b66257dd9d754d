"""What every use case shares: its dependencies, the caller, transactions, idempotency, audit.

A use case is a function ``(deps, principal, ...)``. It runs its work through ``transact`` (one
transaction, retried when it lost a race, replayed when the caller's ``Idempotency-Key`` was
seen before) or ``read`` (a read-only transaction). The work returns a JSON-ready ``dict`` view,
which is what an idempotent retry gets back, byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.db.engine import Database
from gateway.db.models import AuditEntry, IdempotencyKey
from gateway.db.uow import DuplicateRow, Retryable, UnitOfWork
from gateway.domain import Role
from gateway.errors import Forbidden, IdempotencyKeyReused, NotFound, ValidationError
from gateway.ports import Clock, EventBus
from gateway.settings import Settings
from gateway.vault import Vault

log = logging.getLogger(__name__)

T = TypeVar("T")
View = dict[str, Any]


@dataclass(frozen=True)
class Deps:
    settings: Settings
    database: Database
    bus: EventBus
    vault: Vault
    clock: Clock

    def uow(self, readonly: bool = False, *, inline: bool = False) -> UnitOfWork:
        return UnitOfWork(self.database, self.bus, self.clock, readonly=readonly, inline=inline)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. ``actor`` names it in the audit log and scopes idempotency."""

    role: Role
    actor: str
    enterprise_id: int | None = None
    admin_id: int | None = None
    terminal_id: int | None = None
    request_id: str | None = field(default=None, compare=False)

    @property
    def is_operator(self) -> bool:
        return self.role in (Role.OPERATOR, Role.SYSTEM)

    def require_operator(self) -> None:
        if not self.is_operator:
            raise Forbidden("this operation is reserved to the operator")

    def check_tenant(self, enterprise_id: int, what: str) -> None:
        """An enterprise admin sees only its own enterprise: anything else does not exist."""
        if not self.is_operator and enterprise_id != self.enterprise_id:
            raise NotFound(f"{what} not found")

    def enterprise_filter(self, requested: int | None) -> int | None:
        """The enterprise a listing is restricted to; naming another enterprise is refused."""
        if self.is_operator:
            return requested
        if requested is not None and requested != self.enterprise_id:
            raise Forbidden("an enterprise admin can only see its own enterprise")
        return self.enterprise_id

    def target_enterprise(self, requested: int | None) -> int:
        """The enterprise a new row belongs to: the admin's own, or the one an operator names."""
        if self.is_operator:
            if requested is None:
                raise ValidationError("enterprise_id", "required for an operator")
            return requested
        assert self.enterprise_id is not None
        if requested is not None and requested != self.enterprise_id:
            raise Forbidden("an enterprise admin can only act on its own enterprise")
        return self.enterprise_id


SYSTEM = Principal(role=Role.SYSTEM, actor="system")


@dataclass(frozen=True)
class IdemKey:
    """A client's ``Idempotency-Key`` and a fingerprint of the request it came with."""

    key: str
    fingerprint: str


_ATTEMPTS = 4


async def transact(
    deps: Deps,
    principal: Principal,
    work: Callable[[UnitOfWork], Awaitable[View]],
    idem: IdemKey | None = None,
    *,
    inline: bool = False,
) -> View:
    """Run ``work`` in one write transaction and commit; retry races; replay idempotent calls.

    The idempotency row is inserted before the work runs, so a concurrent request with the same
    key waits on it (PostgreSQL) or on the write lock (SQLite), then replays the first result.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            async with deps.uow(inline=inline) as uow:
                claim = await _claim(uow, principal, idem) if idem else None
                if isinstance(claim, dict):
                    return claim
                result = await work(uow)
                if isinstance(claim, IdempotencyKey):
                    claim.response = _redact(result)
                await uow.commit()
                return result
        except (DuplicateRow, Retryable):
            if attempt == _ATTEMPTS:
                raise
            log.info("transaction lost a race; retrying (attempt %d)", attempt)
    raise AssertionError("unreachable")


# One-time secrets are not kept in replayable responses: a retry gets null and must ask for a
# new token or terminal key if it lost the first answer.
SECRET_FIELDS = frozenset({"token", "secret"})


def _redact(view: View) -> View:
    return {k: (None if k in SECRET_FIELDS else v) for k, v in view.items()}


async def _claim(
    uow: UnitOfWork, principal: Principal, idem: IdemKey
) -> IdempotencyKey | View:
    prior = await uow.idempotency.find(principal.actor, idem.key)
    if prior is not None:
        if prior.fingerprint != idem.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request", key=idem.key
            )
        assert prior.response is not None
        return prior.response
    row = uow.idempotency.add(
        IdempotencyKey(
            scope=principal.actor,
            key=idem.key,
            fingerprint=idem.fingerprint,
            response=None,
            created_at=uow.clock(),
        )
    )
    await uow.flush()
    return row


async def read(deps: Deps, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    async with deps.uow(readonly=True) as uow:
        return await work(uow)


def audit(
    uow: UnitOfWork,
    principal: Principal,
    action: str,
    target: tuple[str, object],
    enterprise_id: int | None,
    **detail: Any,
) -> None:
    """Write the audit row of a mutation, in its transaction. Never pass secrets in ``detail``."""
    uow.audit.add(
        AuditEntry(
            at=uow.clock(),
            actor=principal.actor,
            role=principal.role,
            enterprise_id=enterprise_id,
            action=action,
            target_type=target[0],
            target_id=str(target[1]),
            detail=detail,
            request_id=principal.request_id,
        )
    )
