"""OTA jobs: making them (admin requests, the STK menu, lifecycle events), reading them, alerts.

A job is created in the transaction of the change that needs it (a top-up's ledger posting, a
loss report), so it exists if and only if that change commits; the OTA engine
(``gateway.workers.ota``) sends it. What a job sends and how it moves between states is
``gateway.ota_core``; the engine's database side is ``gateway.services.ota_flow``.

Lifecycle events become jobs through transactional subscribers (:func:`install`): a loss
report locks every sub-application on the card, cancelling it unlocks them, a replacement issues
the carried sub-applications on the new card, a deregistration deletes them from the old one.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select

from gateway import ota_core
from gateway.db.models import Card, CardApp, Member
from gateway.db.models_ota import OtaAlert, OtaJob
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.domain import AppKind, AppState, CardState
from gateway.errors import InvalidState, NotFound, ValidationError
from gateway.ota_core import AppSpec, JobKind, JobState, Policy
from gateway.ports import Event, EventBus, EventName
from gateway.services import cards, ledger, views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact
from gateway.settings import Settings
from ota.mo_request import MenuFile
from ota.spi import PorTransport, Spi

log = logging.getLogger(__name__)

DEFAULT_PURSE_LIMIT_FEN = 200_000  # 2,000 yuan on the card at most, unless the admin says
CREDENTIAL_BYTES = 16


@dataclass(frozen=True)
class OtaSettings:
    """``[ota]`` in the settings file (passed through ``Settings.extra``)."""

    policy: Policy = field(default_factory=Policy)
    por_transport: PorTransport = PorTransport.SMS_SUBMIT
    claim_batch: int = 200
    por_batch: int = 200
    poll_interval: float = 0.2

    @classmethod
    def of(cls, settings: Settings) -> OtaSettings:
        raw = settings.extra.get("ota", {})
        if not isinstance(raw, Mapping):
            raise ValidationError("ota", "the [ota] section must be a table")
        try:
            policy = Policy(int(raw.get("max_attempts", 5)), float(raw.get("por_timeout_s", 30)),
                            float(raw.get("retry_backoff_s", 2)),
                            float(raw.get("retry_backoff_max_s", 60)))
            transport = PorTransport[str(raw.get("por_transport", "SMS_SUBMIT")).upper()]
            return cls(policy, transport, int(raw.get("claim_batch", 200)),
                       int(raw.get("por_batch", 200)), float(raw.get("poll_interval_s", 0.2)))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValidationError("ota", f"malformed OTA settings: {exc!r}") from exc

    @property
    def spi(self) -> Spi:
        return ota_core.command_spi(self.por_transport)


# -- making jobs ---------------------------------------------------------------------------


async def new_job(uow: UnitOfWork, card: Card, kind: JobKind, params: dict[str, Any], *,
                  origin: str, msisdn: str | None = None, dedupe_key: str | None = None,
                  policy: Policy | None = None) -> OtaJob:
    """Queue a job for ``card`` in the caller's transaction."""
    if msisdn is None:
        member = await uow.members.get(card.member_id)
        msisdn = member.msisdn if member is not None else None
    if msisdn is None:
        raise InvalidState(f"card {card.iccid} has no member number to send to",
                           state=card.state.value)
    job = job_row(card, kind, params, origin, msisdn, uow.clock(), policy, dedupe_key)
    uow.session.add(job)
    await uow.flush()
    return job


def job_row(card: Card, kind: JobKind, params: dict[str, Any], origin: str, msisdn: str,
            now: datetime.datetime, policy: Policy | None = None,
            dedupe_key: str | None = None) -> OtaJob:
    """A new pending job (not added to any session)."""
    return OtaJob(**job_values(card.id, card.enterprise_id, card.member_id, card.iccid, kind,
                               params, origin, msisdn, now, policy, dedupe_key))


def job_values(card_id: int, enterprise_id: int, member_id: int | None, iccid: str,
               kind: JobKind, params: dict[str, Any], origin: str, msisdn: str,
               now: datetime.datetime, policy: Policy | None = None,
               dedupe_key: str | None = None) -> dict[str, Any]:
    """The columns of a new pending job, for inserts that build no ORM object."""
    ota_core.job_ops(kind, params)  # refuse malformed parameters now, not at sending time
    return {
        "enterprise_id": enterprise_id, "card_id": card_id, "member_id": member_id,
        "iccid": iccid, "msisdn": msisdn, "kind": kind, "state": JobState.PENDING,
        "origin": origin, "params": params, "progress": [], "result": None, "attempts": 0,
        "max_attempts": (policy or Policy()).max_attempts, "counter": None,
        "not_before": now, "dedupe_key": dedupe_key, "failure": None, "created_at": now,
        "updated_at": now, "sent_at": None, "finished_at": None,
    }


def member_number(member: Member) -> str:
    """The member number written on the card: the employee number's digits, else the id."""
    digits = "".join(ch for ch in member.employee_no or "" if ch.isascii() and ch.isdigit())
    return (digits or str(member.id))[:20]


def app_spec(app: AppKind, member: Member, data: Mapping[str, Any]) -> AppSpec:
    """PERSONALISE data for one app: the app's stored data, a fresh credential."""
    limit = None
    if app is AppKind.PURSE:
        limit = int(data.get("purse_limit_fen") or DEFAULT_PURSE_LIMIT_FEN)
    until = data.get("valid_until")
    try:
        return AppSpec(ota_core.sub_app(app.value), str(data.get("member_number")
                                                          or member_number(member)),
                       secrets.token_bytes(CREDENTIAL_BYTES), limit,
                       datetime.date.fromisoformat(until) if until else None)
    except ValueError as exc:
        raise ValidationError("valid_until", f"not a date: {exc}") from exc


async def issue_job(uow: UnitOfWork, card: Card, apps: Sequence[CardApp], *, origin: str,
                    dedupe_key: str | None = None, policy: Policy | None = None) -> OtaJob:
    member = await uow.members.get(card.member_id)
    if member is None:
        raise NotFound("the card's member is gone")
    specs = [app_spec(a.app, member, a.data) for a in apps]
    params = ota_core.issue_params(card.enterprise_id, specs)
    return await new_job(uow, card, JobKind.ISSUE, params, origin=origin, dedupe_key=dedupe_key,
                         policy=policy)


@dataclass(frozen=True)
class IssueIn:
    apps: tuple[AppKind, ...]
    purse_limit_fen: int | None = None
    valid_until: datetime.date | None = None


def _issuable(existing: Mapping[AppKind, CardApp], apps: Sequence[AppKind]) -> None:
    if len(set(apps)) != len(apps) or not apps:
        raise ValidationError("apps", "name each app once, at least one")
    for app in apps:
        row = existing.get(app)
        if row is not None and row.state is AppState.ACTIVE:
            raise InvalidState(f"{app.value} is already active on the card", state="active",
                               app=app.value)


async def issue(deps: Deps, principal: Principal, iccid: str, cmd: IssueIn,
                idem: IdemKey | None) -> View:
    """空中发卡: install and personalise sub-applications over the air."""
    policy = OtaSettings.of(deps.settings).policy

    async def work(uow: UnitOfWork) -> View:
        card = await cards.visible(uow, principal, iccid, for_update=True)
        if card.state is not CardState.ACTIVE:
            raise InvalidState(f"card {iccid} is {card.state.value}", state=card.state.value)
        enterprise = await uow.enterprises.get(card.enterprise_id)
        assert enterprise is not None
        cards.check_apps(enterprise, cmd.apps)
        existing = {a.app: a for a in await uow.apps.for_card(card.id)}
        _issuable(existing, cmd.apps)
        rows = _pending_apps(uow, card, existing, cmd)
        await uow.flush()
        try:
            job = await issue_job(uow, card, rows, origin="api", policy=policy)
        except ota_core.JobError as exc:
            raise ValidationError("apps", str(exc)) from exc
        audit(uow, principal, "card.issue_apps", ("card", iccid), card.enterprise_id,
              apps=[a.value for a in cmd.apps], job_id=job.id)
        return job_view(job)

    return await transact(deps, principal, work, idem)


def _pending_apps(uow: UnitOfWork, card: Card, existing: Mapping[AppKind, CardApp],
                  cmd: IssueIn) -> list[CardApp]:
    now = uow.clock()
    rows = []
    for app in cmd.apps:
        data: dict[str, Any] = {}
        if cmd.valid_until is not None:
            data["valid_until"] = cmd.valid_until.isoformat()
        if app is AppKind.PURSE:
            data["purse_limit_fen"] = cmd.purse_limit_fen or DEFAULT_PURSE_LIMIT_FEN
        row = existing.get(app)
        if row is None:
            row = CardApp(card_id=card.id, app=app, state=AppState.PENDING, data=data,
                          created_at=now, updated_at=now)
            uow.apps.add(row)
        else:
            row.state, row.data, row.updated_at = AppState.PENDING, {**row.data, **data}, now
        rows.append(row)
    return rows


async def delete_app(deps: Deps, principal: Principal, iccid: str, app: AppKind,
                     idem: IdemKey | None) -> View:
    """Delete one sub-application over the air (what the member's 应用删除 does, for admins)."""
    policy = OtaSettings.of(deps.settings).policy

    async def work(uow: UnitOfWork) -> View:
        card = await cards.visible(uow, principal, iccid, for_update=True)
        job = await deletion_job(uow, card, app, origin="api", policy=policy)
        audit(uow, principal, "card.delete_app", ("card", iccid), card.enterprise_id,
              app=app.value, job_id=job.id)
        return job_view(job)

    return await transact(deps, principal, work, idem)


async def deletion_job(uow: UnitOfWork, card: Card, app: AppKind, *, origin: str,
                       policy: Policy | None = None) -> OtaJob:
    """Checks shared by the admin and the STK deletion; raises ``InvalidState`` with why."""
    if card.state is not CardState.ACTIVE:
        raise InvalidState(f"card {card.iccid} is {card.state.value}", state=card.state.value)
    rows = {a.app: a for a in await uow.apps.for_card(card.id)}
    if app not in rows or rows[app].state is not AppState.ACTIVE:
        raise InvalidState(f"{app.value} is not active on the card", state="absent",
                           app=app.value)
    if app is AppKind.PURSE:
        purse = await uow.ledger.accounts_by_codes([ledger.purse_code(card.id)])
        if purse and purse[0].held:
            raise InvalidState("a top-up of this purse is still being confirmed",
                               state="topup_pending")
    params = ota_core.apps_params([ota_core.sub_app(app.value)])
    return await new_job(uow, card, JobKind.DELETE, params, origin=origin, policy=policy)


async def update_menu(deps: Deps, principal: Principal, iccid: str, menu: MenuFile,
                      idem: IdemKey | None) -> View:
    """Rewrite the card's STK menu file (remote file management, TAR B00010)."""
    policy = OtaSettings.of(deps.settings).policy

    async def work(uow: UnitOfWork) -> View:
        card = await cards.visible(uow, principal, iccid, for_update=True)
        if card.state is not CardState.ACTIVE:
            raise InvalidState(f"card {iccid} is {card.state.value}", state=card.state.value)
        try:
            job = await new_job(uow, card, JobKind.MENU, ota_core.menu_params(menu),
                                origin="api", policy=policy)
        except ota_core.JobError as exc:
            raise ValidationError("menu", str(exc)) from exc
        audit(uow, principal, "card.update_menu", ("card", iccid), card.enterprise_id,
              job_id=job.id)
        return job_view(job)

    return await transact(deps, principal, work, idem)


# -- lifecycle subscribers ---------------------------------------------------------------


def install(bus: EventBus, settings: Settings) -> None:
    """Make the OTA jobs that lifecycle changes need, in the changes' own transactions."""
    policy = OtaSettings.of(settings).policy

    async def on_event(uow: UnitOfWork, event: Event) -> None:
        try:
            await lifecycle_job(uow, event, policy)
        except (ota_core.JobError, ValidationError, InvalidState) as exc:
            # The lifecycle change stands without its OTA job (say, app data the card cannot
            # take); the card's state and the blacklist already tell the terminals.
            log.warning("no OTA job for %s of %s: %s", event.name.value,
                        event.payload.get("iccid"), exc)

    bus.subscribe(on_event, [EventName.CARD_LOST, EventName.CARD_UNFROZEN,
                             EventName.CARD_REPLACED, EventName.CARD_DEREGISTERED])


async def lifecycle_job(uow: UnitOfWork, event: Event, policy: Policy) -> OtaJob | None:
    card = await uow.cards.by_iccid(str(event.payload["iccid"]))
    if card is None:
        return None
    # One job per event and card; the blacklist version tells two loss reports apart.
    key = f"{event.name.value}:{card.id}:{event.payload.get('blacklist_version', '')}"
    apps = await uow.apps.for_card(card.id)
    if event.name is EventName.CARD_REPLACED:
        new = await uow.cards.by_iccid(str(event.payload["new_iccid"]))
        pending = [a for a in await uow.apps.for_card(new.id) if a.state is AppState.PENDING] \
            if new is not None else []
        if new is None or not pending:
            return None
        return await issue_job(uow, new, pending, origin="replacement", dedupe_key=key,
                               policy=policy)
    live = [ota_core.sub_app(a.app.value) for a in apps if a.state is AppState.ACTIVE]
    if event.name is EventName.CARD_DEREGISTERED:
        # Deregistration already marked the apps removed; delete what was on the card.
        live = [ota_core.sub_app(a.app.value) for a in apps]
    if not live:
        return None
    kind = {EventName.CARD_LOST: JobKind.LOCK, EventName.CARD_UNFROZEN: JobKind.UNLOCK,
            EventName.CARD_DEREGISTERED: JobKind.DELETE}[event.name]
    return await new_job(uow, card, kind, ota_core.apps_params(live), origin="lifecycle",
                         dedupe_key=key, policy=policy)


# -- reading -------------------------------------------------------------------------------


def job_view(job: OtaJob) -> View:
    return {
        "id": job.id, "kind": job.kind.value, "state": job.state.value, "iccid": job.iccid,
        "enterprise_id": job.enterprise_id, "origin": job.origin,
        "params": _public_params(job.params), "progress": list(job.progress),
        "result": job.result, "attempts": job.attempts, "max_attempts": job.max_attempts,
        "counter": job.counter, "failure": job.failure,
        "created_at": views.ts(job.created_at), "sent_at": views.ts(job.sent_at),
        "finished_at": views.ts(job.finished_at),
    }


def _public_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters without the credentials PERSONALISE writes (the card keeps them)."""
    out = dict(params)
    if "apps" in out:
        out["apps"] = [{k: v for k, v in a.items() if k != "credential"}
                       if isinstance(a, Mapping) else a for a in out["apps"]]
    out.pop("transaction_id", None)
    return out


async def get_job(deps: Deps, principal: Principal, job_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        job = await uow.session.get(OtaJob, job_id)
        if job is None:
            raise NotFound("OTA job not found")
        principal.check_tenant(job.enterprise_id, "OTA job")
        return job_view(job)

    return await read(deps, work)


@dataclass(frozen=True)
class JobFilter:
    enterprise_id: int | None = None
    iccid: str | None = None
    kind: JobKind | None = None
    state: JobState | None = None


async def list_jobs(deps: Deps, principal: Principal, flt: JobFilter, page: Page) -> View:
    scoped = principal.enterprise_filter(flt.enterprise_id)
    where: list[ColumnElement[bool]] = []
    if scoped is not None:
        where.append(OtaJob.enterprise_id == scoped)
    if flt.iccid is not None:
        where.append(OtaJob.iccid == flt.iccid)
    if flt.kind is not None:
        where.append(OtaJob.kind == flt.kind)
    if flt.state is not None:
        where.append(OtaJob.state == flt.state)
    return await read(deps, lambda uow: _page(uow, OtaJob, where, page, job_view))


def alert_view(row: OtaAlert) -> View:
    return {"id": row.id, "at": views.ts(row.at), "kind": row.kind,
            "enterprise_id": row.enterprise_id, "card_id": row.card_id, "job_id": row.job_id,
            "msisdn": row.msisdn, "detail": row.detail}


async def list_alerts(deps: Deps, principal: Principal, enterprise_id: int | None,
                      page: Page) -> View:
    scoped = principal.enterprise_filter(enterprise_id)
    where: list[ColumnElement[bool]] = []
    if scoped is not None:
        where.append(OtaAlert.enterprise_id == scoped)
    return await read(deps, lambda uow: _page(uow, OtaAlert, where, page, alert_view))


async def _page(uow: UnitOfWork, model: Any, where: Sequence[ColumnElement[bool]], page: Page,
                render: Any) -> View:
    stmt = select(model).where(*where)
    if page.after is not None:
        stmt = stmt.where(model.id > page.after)
    rows = list((await uow.session.scalars(stmt.order_by(model.id).limit(page.limit + 1))).all())
    return views.page([render(r) for r in rows], page.limit)

