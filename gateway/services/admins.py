"""Operators and enterprise admins, their bearer tokens, and authentication of those tokens.

A token is 256 random bits shown once; only its SHA-256 is stored, so a database leak does not
hand out sessions (and a slow hash would buy nothing against 256-bit secrets).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gateway.db.models import Admin, ApiToken
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.domain import Role
from gateway.errors import AlreadyExists, Forbidden, NotFound, Unauthorized, ValidationError
from gateway.services import views
from gateway.services.base import SYSTEM, Deps, IdemKey, Principal, View, audit, read, transact

TOKEN_PREFIX = "oc_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AdminIn:
    login: str
    name: str
    role: Role
    enterprise_id: int | None = None


@dataclass(frozen=True)
class AdminPatch:
    name: str | None = None
    disabled: bool | None = None


async def authenticate(deps: Deps, token: str) -> Principal:
    found = await read(deps, lambda uow: uow.tokens.with_admin(hash_token(token)))
    now = deps.clock()
    if found is None:
        raise Unauthorized("invalid bearer token")
    row, admin = found
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise Unauthorized("bearer token revoked or expired")
    if admin.disabled:
        raise Unauthorized("admin account disabled")
    return Principal(role=admin.role, actor=f"admin:{admin.id}",
                     enterprise_id=admin.enterprise_id, admin_id=admin.id)


def _issue(uow: UnitOfWork, admin: Admin, label: str, ttl_days: int | None) -> tuple[str, ApiToken]:
    token = new_token()
    now = uow.clock()
    row = ApiToken(
        admin_id=admin.id, token_hash=hash_token(token), label=label, created_at=now,
        expires_at=now + timedelta(days=ttl_days) if ttl_days else None, revoked_at=None,
    )
    uow.tokens.add(row)
    return token, row


async def _visible(uow: UnitOfWork, principal: Principal, admin_id: int) -> Admin:
    admin = await uow.admins.get(admin_id, for_update=not uow.readonly)
    if admin is None or (admin.enterprise_id is None and not principal.is_operator):
        raise NotFound("admin not found")
    if admin.enterprise_id is not None:
        principal.check_tenant(admin.enterprise_id, "admin")
    return admin


async def create(deps: Deps, principal: Principal, cmd: AdminIn, idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        enterprise_id = None
        if cmd.role is Role.OPERATOR:
            principal.require_operator()
            if cmd.enterprise_id is not None:
                raise ValidationError("enterprise_id", "operators belong to no enterprise")
        elif cmd.role is Role.ENTERPRISE_ADMIN:
            enterprise_id = principal.target_enterprise(cmd.enterprise_id)
            if await uow.enterprises.get(enterprise_id) is None:
                raise NotFound("enterprise not found")
        else:
            raise ValidationError("role", "operator or enterprise_admin")
        if await uow.admins.by_login(cmd.login) is not None:
            raise AlreadyExists(f"login {cmd.login} is taken", field="login")
        now = uow.clock()
        admin = uow.admins.add(Admin(
            enterprise_id=enterprise_id, role=cmd.role, login=cmd.login, name=cmd.name,
            disabled=False, created_at=now, updated_at=now))
        await uow.flush()
        token, _ = _issue(uow, admin, "initial", None)
        audit(uow, principal, "admin.create", ("admin", admin.id), enterprise_id,
              login=cmd.login, role=cmd.role.value)
        return {**views.admin(admin), "token": token}

    return await transact(deps, principal, work, idem)


async def get(deps: Deps, principal: Principal, admin_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        return views.admin(await _visible(uow, principal, admin_id))

    return await read(deps, work)


async def list_admins(
    deps: Deps, principal: Principal, enterprise_id: int | None, page: Page
) -> View:
    scoped = principal.enterprise_filter(enterprise_id)
    where = [] if scoped is None else [Admin.enterprise_id == scoped]

    async def work(uow: UnitOfWork) -> View:
        rows = await uow.admins.page(where, Page(page.after, page.limit + 1))
        return views.page([views.admin(r) for r in rows], page.limit)

    return await read(deps, work)


async def update(
    deps: Deps, principal: Principal, admin_id: int, patch: AdminPatch, idem: IdemKey | None
) -> View:
    async def work(uow: UnitOfWork) -> View:
        admin = await _visible(uow, principal, admin_id)
        if patch.disabled and admin.id == principal.admin_id:
            raise Forbidden("an admin cannot disable itself")
        changed: dict[str, Any] = {}
        if patch.name is not None:
            admin.name = changed["name"] = patch.name
        if patch.disabled is not None:
            admin.disabled = changed["disabled"] = patch.disabled
        admin.updated_at = uow.clock()
        audit(uow, principal, "admin.update", ("admin", admin.id), admin.enterprise_id, **changed)
        return views.admin(admin)

    return await transact(deps, principal, work, idem)


async def issue_token(
    deps: Deps, principal: Principal, admin_id: int, label: str, ttl_days: int | None,
    idem: IdemKey | None,
) -> View:
    async def work(uow: UnitOfWork) -> View:
        admin = await _visible(uow, principal, admin_id)
        token, row = _issue(uow, admin, label, ttl_days)
        await uow.flush()
        audit(uow, principal, "token.issue", ("admin", admin.id), admin.enterprise_id,
              token_id=row.id, label=label)
        return {"id": row.id, "admin_id": admin.id, "label": label, "token": token,
                "expires_at": views.ts(row.expires_at)}

    return await transact(deps, principal, work, idem)


async def revoke_token(deps: Deps, principal: Principal, admin_id: int, token_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        admin = await _visible(uow, principal, admin_id)
        row = await uow.tokens.get(token_id, for_update=True)
        if row is None or row.admin_id != admin.id:
            raise NotFound("token not found")
        row.revoked_at = row.revoked_at or uow.clock()
        audit(uow, principal, "token.revoke", ("admin", admin.id), admin.enterprise_id,
              token_id=row.id)
        return {"id": row.id, "admin_id": admin.id, "label": row.label,
                "revoked_at": views.ts(row.revoked_at)}

    return await transact(deps, principal, work)


async def ensure_operator_token(deps: Deps, token: str, login: str = "operator") -> None:
    """Bootstrap: make ``token`` a valid operator token (idempotent; run at every start)."""

    async def work(uow: UnitOfWork) -> View:
        if await uow.tokens.with_admin(hash_token(token)) is not None:
            return {}
        admin = await uow.admins.by_login(login)
        if admin is None:
            now = uow.clock()
            admin = uow.admins.add(Admin(
                enterprise_id=None, role=Role.OPERATOR, login=login, name="Operator",
                disabled=False, created_at=now, updated_at=now))
            await uow.flush()
        elif admin.role is not Role.OPERATOR:
            raise ValidationError("operator_token", f"login {login} is not an operator")
        uow.tokens.add(ApiToken(admin_id=admin.id, token_hash=hash_token(token),
                                label="bootstrap", created_at=uow.clock(),
                                expires_at=None, revoked_at=None))
        audit(uow, SYSTEM, "token.bootstrap", ("admin", admin.id), None)
        return {}

    await transact(deps, SYSTEM, work)


async def replace_labelled_token(deps: Deps, login: str, label: str) -> str:
    """Revoke an admin's tokens with ``label`` and issue a new one (embedded demo tokens)."""

    async def work(uow: UnitOfWork) -> View:
        admin = await uow.admins.by_login(login)
        if admin is None:
            raise NotFound(f"admin {login} not found")
        for row in await uow.tokens.for_admin(admin.id, label):
            row.revoked_at = row.revoked_at or uow.clock()
        token, _ = _issue(uow, admin, label, None)
        audit(uow, SYSTEM, "token.issue", ("admin", admin.id), admin.enterprise_id, label=label)
        return {"token": token}

    return str((await transact(deps, SYSTEM, work))["token"])
