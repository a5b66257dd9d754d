"""Checks on the database itself, read through the application's own unit of work."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from gateway import keys
from gateway.db.models import Account, AuditEntry, Entry, Posting


async def assert_ledger_balanced(app: web.Application) -> None:
    """Every posting sums to zero, and every account's balance is the sum of its entries."""
    async with app[keys.DEPS].uow(readonly=True) as uow:
        s = uow.session
        unbalanced = (await s.execute(
            select(Entry.posting_id).group_by(Entry.posting_id)
            .having(func.sum(Entry.amount) != 0))).all()
        assert unbalanced == []
        sums = dict((await s.execute(
            select(Entry.account_id, func.sum(Entry.amount)).group_by(Entry.account_id))).all())
        for account in (await s.scalars(select(Account))).all():
            assert account.balance == (sums.get(account.id) or 0), account.code
            if not account.allow_negative:
                assert account.balance - account.held >= 0, account.code


async def count_audit(app: web.Application, action: str) -> int:
    async with app[keys.DEPS].uow(readonly=True) as uow:
        stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        return int((await uow.session.execute(stmt)).scalar_one())


async def count_postings(app: web.Application) -> int:
    async with app[keys.DEPS].uow(readonly=True) as uow:
        stmt = select(func.count()).select_from(Posting)
        return int((await uow.session.execute(stmt)).scalar_one())
