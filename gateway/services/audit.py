"""Reading the audit log (writing is ``services.base.audit``, inside each mutation)."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from gateway.db.models import AuditEntry
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.services import views
from gateway.services.base import Deps, Principal, View, read


async def list_audit(deps: Deps, principal: Principal, enterprise_id: int | None,
                     action: str | None, page: Page) -> View:
    scoped = principal.enterprise_filter(enterprise_id)
    where: list[ColumnElement[bool]] = []
    if scoped is not None:
        where.append(AuditEntry.enterprise_id == scoped)
    if action is not None:
        where.append(AuditEntry.action == action)

    async def work(uow: UnitOfWork) -> View:
        rows = await uow.audit.page(where, Page(page.after, page.limit + 1))
        return views.page([views.audit_entry(r) for r in rows], page.limit)

    return await read(deps, work)
