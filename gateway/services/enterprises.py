"""Enterprises (集团客户): created by the operator with a key master card (密钥母卡) root key.

The root key is generated here (seed 三: the management system generates it per enterprise) or
imported from an existing key master card, and is stored sealed; only its reference is shown.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement

from gateway.db.models import Enterprise
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.domain import EnterpriseStatus, Module
from gateway.errors import AlreadyExists, Forbidden, NotFound
from gateway.ports import Event, EventName
from gateway.services import ledger, views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact

ROOT_KEY_BYTES = 16
# What an enterprise admin may change on its own enterprise (seed 四 FAQ 10: the balance
# expiry is set by the enterprise); the rest is the operator's contract with the customer.
ADMIN_EDITABLE = frozenset({"balance_expiry_days"})


def root_key_context(code: str) -> str:
    return f"enterprise-root:{code}"


@dataclass(frozen=True)
class EnterpriseIn:
    code: str
    name: str
    sms_signature: str
    modules: tuple[Module, ...] = field(default=(Module.ATTENDANCE,))
    monthly_fee_fen: int = 300
    balance_expiry_days: int | None = None
    master_key: bytes | None = None
    master_key_ref: str | None = None


async def create(deps: Deps, principal: Principal, cmd: EnterpriseIn, idem: IdemKey | None
                 ) -> View:
    principal.require_operator()

    async def work(uow: UnitOfWork) -> View:
        if await uow.enterprises.by_code(cmd.code) is not None:
            raise AlreadyExists(f"enterprise {cmd.code} exists", field="code")
        root = cmd.master_key or secrets.token_bytes(ROOT_KEY_BYTES)
        now = uow.clock()
        row = uow.enterprises.add(Enterprise(
            code=cmd.code, name=cmd.name, sms_signature=cmd.sms_signature,
            modules=sorted(m.value for m in set(cmd.modules)), status=EnterpriseStatus.ACTIVE,
            monthly_fee_fen=cmd.monthly_fee_fen, balance_expiry_days=cmd.balance_expiry_days,
            master_key_ref=cmd.master_key_ref or f"KMC-{cmd.code}-1",
            master_key_sealed=deps.vault.seal(root, root_key_context(cmd.code)),
            blacklist_version=0, created_at=now, updated_at=now,
        ))
        await uow.flush()
        ledger.open_enterprise_accounts(uow, row.id)
        audit(uow, principal, "enterprise.create", ("enterprise", row.id), row.id,
              code=cmd.code, imported_root_key=cmd.master_key is not None)
        uow.emit(Event(EventName.ENTERPRISE_CREATED, row.id, {"code": row.code}))
        return views.enterprise(row)

    return await transact(deps, principal, work, idem)


async def _visible(uow: UnitOfWork, principal: Principal, enterprise_id: int,
                   for_update: bool = False) -> Enterprise:
    principal.check_tenant(enterprise_id, "enterprise")
    row = await uow.enterprises.get(enterprise_id, for_update=for_update)
    if row is None:
        raise NotFound("enterprise not found")
    return row


async def get(deps: Deps, principal: Principal, enterprise_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        return views.enterprise(await _visible(uow, principal, enterprise_id))

    return await read(deps, work)


async def list_enterprises(
    deps: Deps, principal: Principal, page: Page, code: str | None = None,
    status: EnterpriseStatus | None = None,
) -> View:
    where: list[ColumnElement[bool]] = []
    if not principal.is_operator:
        where.append(Enterprise.id == principal.enterprise_id)
    if code is not None:
        where.append(Enterprise.code == code)
    if status is not None:
        where.append(Enterprise.status == status)

    async def work(uow: UnitOfWork) -> View:
        rows = await uow.enterprises.page(where, Page(page.after, page.limit + 1))
        return views.page([views.enterprise(r) for r in rows], page.limit)

    return await read(deps, work)


async def update(deps: Deps, principal: Principal, enterprise_id: int,
                 changes: Mapping[str, Any], idem: IdemKey | None) -> View:
    if not principal.is_operator:
        for name in changes:
            if name not in ADMIN_EDITABLE:
                raise Forbidden(f"{name}: only the operator changes this", field=name)

    async def work(uow: UnitOfWork) -> View:
        row = await _visible(uow, principal, enterprise_id, for_update=True)
        for name, value in changes.items():
            if name == "modules":
                value = sorted({Module(m).value for m in value})
            elif name == "status":
                value = EnterpriseStatus(value)
            setattr(row, name, value)
        row.updated_at = uow.clock()
        audit(uow, principal, "enterprise.update", ("enterprise", row.id), row.id,
              **{k: (v.value if isinstance(v, EnterpriseStatus) else v)
                 for k, v in changes.items()})
        return views.enterprise(row)

    return await transact(deps, principal, work, idem)


def root_key(deps: Deps, enterprise: Enterprise) -> bytes:
    """The enterprise's key master card root, unsealed (for per-card key derivation)."""
    return deps.vault.open(enterprise.master_key_sealed, root_key_context(enterprise.code))
