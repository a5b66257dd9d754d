"""Terminals (门禁/考勤/消费/充值/发卡终端): registration, their keys, and request signatures.

Each terminal signs every request with its own 256-bit key (shown once, stored sealed)::

    X-Terminal-Id: <code>
    X-Timestamp:   <Unix seconds>
    X-Nonce:       <8-64 characters, fresh for every request>
    X-Signature:   hex HMAC-SHA256(key, METHOD "\\n" PATH?QUERY "\\n" TIMESTAMP "\\n" NONCE
                                        "\\n" hex SHA-256(body))

A request is accepted when the signature matches (RFC 2104, compared in constant time), the
timestamp is within the replay window of the server clock, and this process has not seen the
terminal's nonce within the window. A terminal retrying an upload signs it again with a new
nonce; the upload itself is idempotent by sequence number.

Terminals upload many times a second, so each process keeps their keys for a few seconds
(``TerminalKeys``). A change made through this process (new key, disabled) takes effect at
once: the cache listens to ``terminal.changed``. A change made through another gateway node is
seen here within ``TerminalKeys.ttl_s``; an upload also re-checks the terminal's status in its
own transaction, under the row lock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement

from gateway.db.models import Terminal
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.domain import MODULE_FOR_TERMINAL, Role, TerminalKind, TerminalStatus
from gateway.errors import AlreadyExists, NotFound, Unauthorized, ValidationError
from gateway.guards import ReplayGuard
from gateway.ports import Event, EventName
from gateway.services import views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact

SECRET_BYTES = 32
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _context(code: str) -> str:
    return f"terminal-key:{code}"


def canonical(method: str, path_qs: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path_qs}\n{timestamp}\n{nonce}\n{digest}".encode()


def sign(secret: bytes, method: str, path_qs: str, timestamp: str, nonce: str,
         body: bytes) -> str:
    """The ``X-Signature`` a terminal sends (also used by the terminal simulators and tests)."""
    message = canonical(method, path_qs, timestamp, nonce, body)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class TerminalIn:
    code: str
    kind: TerminalKind
    name: str
    location: str | None = None
    enterprise_id: int | None = None


@dataclass(frozen=True)
class SignedRequest:
    terminal: str
    timestamp: str
    nonce: str
    signature: str
    method: str
    path_qs: str
    body: bytes


@dataclass(frozen=True)
class _Known:
    id: int
    code: str
    enterprise_id: int
    secret: bytes
    stamp: float


class TerminalKeys:
    """Per-process cache of terminal keys, dropped on ``terminal.changed`` (a ``Notifier``)."""

    def __init__(self, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._known: dict[str, _Known] = {}

    async def get(self, deps: Deps, code: str) -> _Known | None:
        known = self._known.get(code)
        if known is not None and self._clock() - known.stamp < self.ttl_s:
            return known
        row = await read(deps, lambda uow: uow.terminals.by_code(code))
        if row is None or row.status is not TerminalStatus.ACTIVE:
            self._known.pop(code, None)
            return None
        if len(self._known) > 100_000:
            self._known.clear()
        known = _Known(row.id, row.code, row.enterprise_id,
                       deps.vault.open(row.secret_sealed, _context(row.code)), self._clock())
        self._known[code] = known
        return known

    async def notify(self, events: Sequence[Event]) -> None:
        for event in events:
            if event.name is EventName.TERMINAL_CHANGED:
                self._known.pop(str(event.payload.get("code")), None)


async def authenticate(deps: Deps, keys: TerminalKeys, guard: ReplayGuard,
                       req: SignedRequest) -> Principal:
    if not _NONCE.match(req.nonce):
        raise Unauthorized("X-Nonce must be 8 to 64 letters, digits, '-' or '_'")
    try:
        stamp = int(req.timestamp)
    except ValueError:
        raise Unauthorized("X-Timestamp is not Unix seconds") from None
    skew = abs(deps.clock().timestamp() - stamp)
    if skew > deps.settings.terminal_replay_window_s:
        raise Unauthorized(f"X-Timestamp is {int(skew)} s away from the server clock")
    row = await keys.get(deps, req.terminal)
    if row is None:
        raise Unauthorized("unknown or disabled terminal")
    expected = sign(row.secret, req.method, req.path_qs, req.timestamp, req.nonce, req.body)
    if not hmac.compare_digest(expected, req.signature.lower()):
        raise Unauthorized("bad terminal signature")
    if not guard.first_sighting(f"{row.code}\n{req.nonce}"):
        raise Unauthorized("replayed terminal request")
    return Principal(role=Role.TERMINAL, actor=f"terminal:{row.code}",
                     enterprise_id=row.enterprise_id, terminal_id=row.id)


def _new_secret(deps: Deps, code: str) -> tuple[str, bytes]:
    secret = secrets.token_bytes(SECRET_BYTES)
    return secret.hex(), deps.vault.seal(secret, _context(code))


async def create(deps: Deps, principal: Principal, cmd: TerminalIn, idem: IdemKey | None) -> View:
    enterprise_id = principal.target_enterprise(cmd.enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        enterprise = await uow.enterprises.get(enterprise_id)
        if enterprise is None:
            raise NotFound("enterprise not found")
        module = MODULE_FOR_TERMINAL[cmd.kind]
        if module is not None and module.value not in enterprise.modules:
            raise ValidationError("kind", f"a {cmd.kind.value} terminal needs the "
                                  f"{module.value} module")
        if await uow.terminals.by_code(cmd.code) is not None:
            raise AlreadyExists(f"terminal {cmd.code} exists", field="code")
        secret_hex, sealed = _new_secret(deps, cmd.code)
        now = uow.clock()
        row = uow.terminals.add(Terminal(
            enterprise_id=enterprise_id, code=cmd.code, kind=cmd.kind, name=cmd.name,
            location=cmd.location, status=TerminalStatus.ACTIVE, secret_sealed=sealed,
            high_seq=0, blacklist_version=0, last_seen_at=None, created_at=now, updated_at=now,
        ))
        await uow.flush()
        audit(uow, principal, "terminal.create", ("terminal", row.id), enterprise_id,
              code=cmd.code, kind=cmd.kind.value)
        return {**views.terminal(row), "secret": secret_hex}

    return await transact(deps, principal, work, idem)


async def _visible(uow: UnitOfWork, principal: Principal, terminal_id: int) -> Terminal:
    row = await uow.terminals.get(terminal_id, for_update=not uow.readonly)
    if row is None:
        raise NotFound("terminal not found")
    principal.check_tenant(row.enterprise_id, "terminal")
    return row


async def get(deps: Deps, principal: Principal, terminal_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await _visible(uow, principal, terminal_id)
        gaps = await uow.terminals.gaps(row.id, limit=100)
        return {**views.terminal(row), "gaps": [[g.first_seq, g.last_seq] for g in gaps]}

    return await read(deps, work)


async def list_terminals(deps: Deps, principal: Principal, enterprise_id: int | None,
                         kind: TerminalKind | None, page: Page) -> View:
    scoped = principal.enterprise_filter(enterprise_id)
    where: list[ColumnElement[bool]] = []
    if scoped is not None:
        where.append(Terminal.enterprise_id == scoped)
    if kind is not None:
        where.append(Terminal.kind == kind)

    async def work(uow: UnitOfWork) -> View:
        rows = await uow.terminals.page(where, Page(page.after, page.limit + 1))
        return views.page([views.terminal(r) for r in rows], page.limit)

    return await read(deps, work)


async def update(deps: Deps, principal: Principal, terminal_id: int,
                 changes: Mapping[str, Any], idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await _visible(uow, principal, terminal_id)
        for name in ("name", "location"):
            if name in changes:
                setattr(row, name, changes[name])
        if "status" in changes:
            row.status = TerminalStatus(changes["status"])
        row.updated_at = uow.clock()
        audit(uow, principal, "terminal.update", ("terminal", row.id), row.enterprise_id,
              **dict(changes))
        uow.emit(Event(EventName.TERMINAL_CHANGED, row.enterprise_id, {"code": row.code}))
        return views.terminal(row)

    return await transact(deps, principal, work, idem)


async def rotate_secret(deps: Deps, principal: Principal, terminal_id: int,
                        idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await _visible(uow, principal, terminal_id)
        secret_hex, row.secret_sealed = _new_secret(deps, row.code)
        row.updated_at = uow.clock()
        audit(uow, principal, "terminal.rotate_secret", ("terminal", row.id), row.enterprise_id)
        uow.emit(Event(EventName.TERMINAL_CHANGED, row.enterprise_id, {"code": row.code}))
        return {**views.terminal(row), "secret": secret_hex}

    return await transact(deps, principal, work, idem)
