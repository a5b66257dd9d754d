"""Versioned blacklists (黑名单), one per enterprise.

Each change (a card lost, unfrozen, replaced, deregistered, or an app deleted) takes the next
version of its enterprise and is stored as an entry; terminals pull the entries after the
version they hold and apply them in order. Pulling from version 0 (a new or reset terminal)
returns the current list instead of the whole history.
"""

from __future__ import annotations

from sqlalchemy import update

from gateway.db.models import BlacklistEntry, Card, Enterprise
from gateway.db.uow import UnitOfWork
from gateway.domain import AppKind, BlacklistAction, BlacklistReason, Role
from gateway.errors import NotFound
from gateway.ports import Event, EventName
from gateway.services import views
from gateway.services.base import Deps, Principal, View, read, transact


async def change(
    uow: UnitOfWork,
    card: Card,
    action: BlacklistAction,
    reason: BlacklistReason,
    app: AppKind | None = None,
) -> int:
    """Record one blacklist change for ``card`` under the next version of its enterprise."""
    stmt = (
        update(Enterprise)
        .where(Enterprise.id == card.enterprise_id)
        .values(blacklist_version=Enterprise.blacklist_version + 1)
        .returning(Enterprise.blacklist_version)
    )
    version = int((await uow.session.execute(stmt)).scalar_one())
    uow.blacklist.add(
        BlacklistEntry(
            enterprise_id=card.enterprise_id, version=version, card_id=card.id,
            iccid=card.iccid, app=app, action=action, reason=reason, created_at=uow.clock(),
        )
    )
    uow.emit(
        Event(
            EventName.BLACKLIST_CHANGED,
            card.enterprise_id,
            {"version": version, "iccid": card.iccid, "action": action.value,
             "reason": reason.value, "app": app.value if app else None},
        )
    )
    return version


async def _delta(uow: UnitOfWork, enterprise_id: int, since: int, limit: int) -> View:
    enterprise = await uow.enterprises.get(enterprise_id)
    if enterprise is None:
        raise NotFound("enterprise not found")
    current = enterprise.blacklist_version
    if since <= 0 or since > current:
        # New terminal, or one that holds a version this server never issued (restored from an
        # old backup): it gets the whole current list and replaces what it has.
        entries = await uow.blacklist.snapshot(enterprise_id)
        return {"version": current, "full": True, "more": False,
                "entries": [views.blacklist_entry(e) for e in entries]}
    entries = await uow.blacklist.since(enterprise_id, since, limit + 1)
    more = len(entries) > limit
    entries = entries[:limit]
    version = entries[-1].version if more else current
    return {"version": version, "full": False, "more": more,
            "entries": [views.blacklist_entry(e) for e in entries]}


async def delta(deps: Deps, principal: Principal, enterprise_id: int | None, since: int,
                limit: int) -> View:
    """The admin view of an enterprise's blacklist after version ``since``."""
    scoped = principal.target_enterprise(enterprise_id)
    return await read(deps, lambda uow: _delta(uow, scoped, since, limit))


async def terminal_pull(deps: Deps, principal: Principal, since: int, limit: int) -> View:
    """A terminal's pull; the version served is remembered on the terminal (who is behind)."""
    assert principal.role is Role.TERMINAL and principal.enterprise_id is not None
    enterprise_id, terminal_id = principal.enterprise_id, principal.terminal_id

    async def work(uow: UnitOfWork) -> View:
        result = await _delta(uow, enterprise_id, since, limit)
        terminal = await uow.terminals.get(terminal_id or 0)
        if terminal is not None:
            terminal.blacklist_version = int(result["version"])
            terminal.last_seen_at = uow.clock()
        return result

    return await transact(deps, principal, work)
