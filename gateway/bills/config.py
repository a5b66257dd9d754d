"""An enterprise's bill settings, templates and schedules: loading them, and their use cases.

Settings (``bill_settings``): shift rules (考勤规则), quiet hours, send rate (segments per
second), the segment limit of one text and the opt-out text. Templates (``bill_templates``):
an enterprise's own source per kind, else the packaged default. A template is stored only if
it compiles and its text, rendered with sample values, fits the segment limit; otherwise it is
refused with the count (``TooManySegments``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from gateway.bills import context
from gateway.bills.attendance import ShiftRules
from gateway.bills.errors import TemplateInvalid
from gateway.bills.period import BillPeriod, Granularity
from gateway.bills.policy import QuietHours
from gateway.bills.render import (
    DEFAULT_MAX_SEGMENTS,
    DEFAULT_OPT_OUT,
    Compiled,
    Measured,
    TemplateKind,
    TextPolicy,
    default_source,
)
from gateway.db.models import Enterprise
from gateway.db.models_bills import BillSchedule, BillSettings, BillTemplate, Cadence
from gateway.db.uow import UnitOfWork
from gateway.errors import NotFound, ValidationError
from gateway.services import views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact

MAX_SEGMENTS_LIMIT = 10


@dataclass(frozen=True)
class EnterpriseConfig:
    """Everything about an enterprise that rendering and sending its bills needs."""

    enterprise_id: int
    name: str
    code: str
    signature: str
    modules: frozenset[str]
    rules: ShiftRules
    quiet: QuietHours | None
    rate_per_s: float | None
    max_segments: int
    opt_out_text: str

    @property
    def policy(self) -> TextPolicy:
        return TextPolicy(self.signature, self.opt_out_text, self.max_segments)

    def to_view(self) -> View:
        return {"enterprise_id": self.enterprise_id, "shift_rules": self.rules.to_dict(),
                "quiet_hours": str(self.quiet) if self.quiet else None,
                "rate_per_s": self.rate_per_s, "max_segments": self.max_segments,
                "opt_out_text": self.opt_out_text}


async def load(uow: UnitOfWork, enterprise_id: int) -> EnterpriseConfig:
    enterprise = await uow.enterprises.get(enterprise_id)
    if enterprise is None:
        raise NotFound("enterprise not found")
    row = await _settings_row(uow, enterprise_id)
    return _config(enterprise, row)


def _config(enterprise: Enterprise, row: BillSettings | None) -> EnterpriseConfig:
    return EnterpriseConfig(
        enterprise.id, enterprise.name, enterprise.code, enterprise.sms_signature,
        frozenset(enterprise.modules),
        ShiftRules.from_dict(row.shift_rules) if row else ShiftRules(),
        QuietHours.parse(row.quiet_hours) if row and row.quiet_hours else None,
        row.rate_per_s if row else None,
        row.max_segments if row else DEFAULT_MAX_SEGMENTS,
        row.opt_out_text if row else DEFAULT_OPT_OUT)


async def _settings_row(uow: UnitOfWork, enterprise_id: int) -> BillSettings | None:
    stmt = select(BillSettings).where(BillSettings.enterprise_id == enterprise_id)
    return (await uow.session.scalars(stmt)).first()


async def template_row(uow: UnitOfWork, enterprise_id: int,
                       kind: TemplateKind) -> BillTemplate | None:
    stmt = select(BillTemplate).where(BillTemplate.enterprise_id == enterprise_id,
                                      BillTemplate.kind == kind.value)
    return (await uow.session.scalars(stmt)).first()


async def compiled(uow: UnitOfWork, cfg: EnterpriseConfig, kind: TemplateKind) -> Compiled:
    row = await template_row(uow, cfg.enterprise_id, kind)
    return Compiled(kind, row.source if row else default_source(kind), cfg.policy)


def sample_measure(cfg: EnterpriseConfig, template: Compiled,
                   granularity: Granularity = Granularity.MONTH) -> Measured:
    """The template with sample values: TooManySegments when it does not fit."""
    return template.measure(context.sample(template.kind, cfg.name, cfg.code, granularity))


# --- settings ------------------------------------------------------------------------------


async def get_settings(deps: Deps, principal: Principal, enterprise_id: int | None) -> View:
    target = principal.target_enterprise(enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        return (await load(uow, target)).to_view()

    return await read(deps, work)


def _checked_settings(body: dict[str, Any], current: EnterpriseConfig) -> dict[str, Any]:
    rules = ShiftRules.from_dict(body["shift_rules"]) if "shift_rules" in body else current.rules
    quiet = body.get("quiet_hours", str(current.quiet) if current.quiet else None)
    max_segments = body.get("max_segments", current.max_segments)
    if not 1 <= max_segments <= MAX_SEGMENTS_LIMIT:
        raise ValidationError("max_segments", f"1 to {MAX_SEGMENTS_LIMIT}")
    return {"shift_rules": rules.to_dict(),
            "quiet_hours": str(QuietHours.parse(quiet)) if quiet else None,
            "rate_per_s": body.get("rate_per_s", current.rate_per_s),
            "max_segments": max_segments,
            "opt_out_text": body.get("opt_out_text", current.opt_out_text)}


async def put_settings(deps: Deps, principal: Principal, enterprise_id: int | None,
                       body: dict[str, Any], idem: IdemKey | None) -> View:
    target = principal.target_enterprise(enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        current = await load(uow, target)
        values = _checked_settings(body, current)
        row = await _settings_row(uow, target)
        if row is None:
            row = BillSettings(enterprise_id=target, **values, updated_at=uow.clock())
            uow.session.add(row)
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = uow.clock()
        audit(uow, principal, "bills.settings", ("enterprise", target), target,
              changed=sorted(body))
        await uow.flush()
        return (await load(uow, target)).to_view()

    return await transact(deps, principal, work, idem)


# --- templates -----------------------------------------------------------------------------


def _template_view(kind: TemplateKind, row: BillTemplate | None, measured: Measured | None,
                   problem: str | None = None) -> View:
    return {"kind": kind.value, "custom": row is not None,
            "source": row.source if row else default_source(kind),
            "default_source": default_source(kind), "version": row.version if row else 0,
            "updated_at": views.ts(row.updated_at) if row else None,
            "updated_by": row.updated_by if row else None,
            "sample": measured.to_dict() if measured else None, "problem": problem}


async def _template_and_sample(uow: UnitOfWork, cfg: EnterpriseConfig,
                               kind: TemplateKind) -> View:
    row = await template_row(uow, cfg.enterprise_id, kind)
    try:
        template = Compiled(kind, row.source if row else default_source(kind), cfg.policy)
        return _template_view(kind, row, sample_measure(cfg, template))
    except TemplateInvalid as exc:  # e.g. max_segments lowered after it was stored
        return _template_view(kind, row, None, exc.detail)


async def list_templates(deps: Deps, principal: Principal, enterprise_id: int | None) -> View:
    target = principal.target_enterprise(enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        cfg = await load(uow, target)
        return {"items": [await _template_and_sample(uow, cfg, kind) for kind in TemplateKind]}

    return await read(deps, work)


async def get_template(deps: Deps, principal: Principal, enterprise_id: int | None,
                       kind: TemplateKind) -> View:
    target = principal.target_enterprise(enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        return await _template_and_sample(uow, await load(uow, target), kind)

    return await read(deps, work)


async def put_template(deps: Deps, principal: Principal, enterprise_id: int | None,
                       kind: TemplateKind, source: str, idem: IdemKey | None) -> View:
    target = principal.target_enterprise(enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        cfg = await load(uow, target)
        measured = sample_measure(cfg, Compiled(kind, source.strip(), cfg.policy))
        row = await template_row(uow, target, kind)
        now = uow.clock()
        if row is None:
            row = BillTemplate(enterprise_id=target, kind=kind.value, source=source.strip(),
                               version=1, updated_by=principal.actor, updated_at=now)
            uow.session.add(row)
        else:
            row.source, row.version = source.strip(), row.version + 1
            row.updated_by, row.updated_at = principal.actor, now
        audit(uow, principal, "bills.template", ("template", kind.value), target,
              segments=measured.segments)
        await uow.flush()
        return _template_view(kind, row, measured)

    return await transact(deps, principal, work, idem)


async def reset_template(deps: Deps, principal: Principal, enterprise_id: int | None,
                         kind: TemplateKind, idem: IdemKey | None) -> View:
    """Back to the packaged default."""
    target = principal.target_enterprise(enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        cfg = await load(uow, target)
        await uow.session.execute(delete(BillTemplate).where(
            BillTemplate.enterprise_id == target, BillTemplate.kind == kind.value))
        audit(uow, principal, "bills.template_reset", ("template", kind.value), target)
        return await _template_and_sample(uow, cfg, kind)

    return await transact(deps, principal, work, idem)


# --- schedules -----------------------------------------------------------------------------

CADENCE_GRANULARITY = {Cadence.DAILY: Granularity.DAY, Cadence.WEEKLY: Granularity.WEEK,
                       Cadence.MONTHLY: Granularity.MONTH}


def schedule_view(row: BillSchedule) -> View:
    return {"id": row.id, "enterprise_id": row.enterprise_id, "cadence": row.cadence.value,
            "kinds": list(row.kinds), "send_at": row.send_at, "enabled": row.enabled,
            "created_at": views.ts(row.created_at), "updated_at": views.ts(row.updated_at)}


async def list_schedules(deps: Deps, principal: Principal, enterprise_id: int | None) -> View:
    target = principal.target_enterprise(enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        rows = await uow.session.scalars(select(BillSchedule).where(
            BillSchedule.enterprise_id == target).order_by(BillSchedule.id))
        return {"items": [schedule_view(r) for r in rows]}

    return await read(deps, work)


async def put_schedule(deps: Deps, principal: Principal, enterprise_id: int | None,
                       cadence: Cadence, body: dict[str, Any], idem: IdemKey | None) -> View:
    target = principal.target_enterprise(enterprise_id)
    kinds = [TemplateKind(k).value for k in body.get("kinds", ["attendance", "consumption"])]

    async def work(uow: UnitOfWork) -> View:
        cfg = await load(uow, target)
        check_modules(cfg, kinds)
        row = (await uow.session.scalars(select(BillSchedule).where(
            BillSchedule.enterprise_id == target, BillSchedule.cadence == cadence))).first()
        now = uow.clock()
        if row is None:
            row = BillSchedule(enterprise_id=target, cadence=cadence, created_at=now)
            uow.session.add(row)
        row.kinds, row.send_at = kinds, body.get("send_at", "09:00")
        row.enabled, row.updated_at = body.get("enabled", True), now
        audit(uow, principal, "bills.schedule", ("schedule", cadence.value), target,
              kinds=kinds, send_at=row.send_at, enabled=row.enabled)
        await uow.flush()
        return schedule_view(row)

    return await transact(deps, principal, work, idem)


async def delete_schedule(deps: Deps, principal: Principal, enterprise_id: int | None,
                          cadence: Cadence, idem: IdemKey | None) -> View:
    target = principal.target_enterprise(enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        result = await uow.session.execute(delete(BillSchedule).where(
            BillSchedule.enterprise_id == target, BillSchedule.cadence == cadence))
        if not getattr(result, "rowcount", 0):
            raise NotFound("schedule not found")
        audit(uow, principal, "bills.schedule_deleted", ("schedule", cadence.value), target)
        return {"deleted": cadence.value}

    return await transact(deps, principal, work, idem)


_MODULE_OF_KIND = {TemplateKind.ATTENDANCE: "attendance", TemplateKind.CONSUMPTION: "purchase"}


def check_modules(cfg: EnterpriseConfig, kinds: list[str]) -> None:
    """A bill of a module the enterprise does not subscribe (seed 四) is refused."""
    for kind in kinds:
        module = _MODULE_OF_KIND.get(TemplateKind(kind))
        if module is None:
            raise ValidationError("kinds", f"{kind} is not a bill kind")
        if module not in cfg.modules:
            raise ValidationError("kinds", f"the enterprise does not subscribe the {module} "
                                  f"module ({kind} bills)")


def due_at(schedule: BillSchedule, period: BillPeriod) -> datetime:
    """When a schedule bills ``period``: ``send_at`` on the day after the period."""
    hour, minute = int(schedule.send_at[:2]), int(schedule.send_at[3:])
    return period.end.replace(hour=hour, minute=minute)
