"""Tables of SMS bills, enterprise notices and opt-outs (same declarative base as the gateway).

- ``bill_settings``: per enterprise, its shift rules (考勤 rules), quiet hours, send rate,
  segment limit and opt-out text; absent: the defaults.
- ``bill_templates``: an enterprise's own template per kind (absent: the packaged default).
- ``bill_schedules``: when an enterprise's bills go out by themselves (daily, weekly, monthly).
- ``bill_runs`` and ``bill_run_members``: a bill run is a resumable job. Its state, cursor and
  counters are here. A member billed is its SMS in the outbox (``batch_id`` "bill-run:<id>",
  unique dedupe key "bill:<run>:<member>:<kind>"), written in the same transaction as the
  cursor's advance; a member *not* billed (opted out, text too long) is a
  ``bill_run_members`` row (unique per run, member and kind). So a run that a crash
  interrupted is finished by whoever claims it next, and nobody is billed twice.
- ``sms_opt_outs``: members who refused bills and notices (by MO keyword or through the API);
  ``members.sms_opt_out`` mirrors it for the outbox dispatcher.
- ``notice_batches`` and ``notice_items``: an uploaded CSV notice, its validation report and
  the texts rendered for each employee, until the admin sends them.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base, IntPK, JsonType
from gateway.db.models import TerminalRecord


class RunState(enum.StrEnum):
    PENDING = "pending"  # created, nobody has started it
    RUNNING = "running"  # a worker holds it (claimed_by until lease_until)
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"  # stopped on an error that another try will not cure (e.g. a template)


OPEN_RUN_STATES = frozenset({RunState.PENDING, RunState.RUNNING})


class RunTrigger(enum.StrEnum):
    API = "api"
    CLI = "cli"
    SCHEDULE = "schedule"


class Outcome(enum.StrEnum):
    """What a bill run did for one member and kind."""

    QUEUED = "queued"  # in the outbox (batch_id "bill-run:<id>")
    OPTED_OUT = "opted_out"  # the member refused bills: nothing queued
    TOO_LONG = "too_long"  # the text needed more segments than allowed: nothing queued


class Cadence(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class NoticeState(enum.StrEnum):
    VALIDATED = "validated"  # uploaded and checked; nothing sent
    SENT = "sent"  # queued in the outbox
    DISCARDED = "discarded"


class OptOutSource(enum.StrEnum):
    MO = "mo"  # the member replied a keyword (TD, R...)
    API = "api"  # an admin recorded it (the member asked in person or by phone)


class BillSettings(Base):
    __tablename__ = "bill_settings"

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), unique=True)
    shift_rules: Mapped[dict[str, Any]]  # gateway.bills.attendance.ShiftRules.to_dict()
    quiet_hours: Mapped[str | None] = mapped_column(String(11))  # "22:00-08:00", China time
    rate_per_s: Mapped[float | None] = mapped_column(Float)  # segments/s; None: the bind's
    max_segments: Mapped[int] = mapped_column(SmallInteger, default=3)
    opt_out_text: Mapped[str] = mapped_column(String(24))
    updated_at: Mapped[datetime]


class BillTemplate(Base):
    __tablename__ = "bill_templates"
    __table_args__ = (UniqueConstraint("enterprise_id", "kind"),)

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    kind: Mapped[str] = mapped_column(String(24))  # gateway.bills.render.TemplateKind
    source: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class BillSchedule(Base):
    __tablename__ = "bill_schedules"
    __table_args__ = (UniqueConstraint("enterprise_id", "cadence"),)

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    cadence: Mapped[Cadence]
    kinds: Mapped[list[str]]
    send_at: Mapped[str] = mapped_column(String(5))  # "HH:MM" China time, after period end
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]  # periods that ended before are not billed by it
    updated_at: Mapped[datetime]


class BillRun(Base):
    __tablename__ = "bill_runs"
    __table_args__ = (Index("ix_bill_runs_state_id", "state", "id"),
                      Index("ix_bill_runs_enterprise_id_id", "enterprise_id", "id"))

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    period: Mapped[str] = mapped_column(String(10))  # BillPeriod.label
    kinds: Mapped[list[str]]
    trigger: Mapped[RunTrigger]
    # Scheduled runs: "<schedule id>:<period>", so that two nodes never start one twice.
    schedule_key: Mapped[str | None] = mapped_column(String(48), unique=True)
    state: Mapped[RunState]
    # Summaries count records received until then: a resumed run bills what the first
    # attempt would have (late uploads go into the next bill, not half of this one).
    as_of: Mapped[datetime]
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    total: Mapped[int] = mapped_column(Integer, default=0)  # members to bill
    processed: Mapped[int] = mapped_column(Integer, default=0)  # members done
    queued: Mapped[int] = mapped_column(Integer, default=0)  # SMS queued
    opted_out: Mapped[int] = mapped_column(Integer, default=0)
    too_long: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[int] = mapped_column(Integer, default=0)  # last member id done
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims (1 + resumptions)
    error: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class BillRunMember(Base):
    __tablename__ = "bill_run_members"
    __table_args__ = (UniqueConstraint("run_id", "member_id", "kind"),)

    id: Mapped[IntPK]
    run_id: Mapped[int] = mapped_column(ForeignKey("bill_runs.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(24))
    outcome: Mapped[Outcome]
    sms_id: Mapped[int | None] = mapped_column(ForeignKey("sms_outbox.id"))
    segments: Mapped[int] = mapped_column(SmallInteger, default=0)


class OptOut(Base):
    __tablename__ = "sms_opt_outs"

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    msisdn: Mapped[str] = mapped_column(String(24))
    source: Mapped[OptOutSource]
    keyword: Mapped[str | None] = mapped_column(String(16))  # as the member typed it (MO)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class NoticeBatch(Base):
    __tablename__ = "notice_batches"
    __table_args__ = (Index("ix_notice_batches_enterprise_id_id", "enterprise_id", "id"),)

    id: Mapped[IntPK]
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    kind: Mapped[str] = mapped_column(String(24))  # piece_rate, wages, general
    title: Mapped[str] = mapped_column(String(32))
    state: Mapped[NoticeState]
    encoding: Mapped[str] = mapped_column(String(16))
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_valid: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[int] = mapped_column(Integer)  # employees with a text ready
    # Row problems (first gateway.bills.csvnotice.MAX_ERRORS), as the validation report lists.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    error_count: Mapped[int] = mapped_column(Integer)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    send_mode: Mapped[str | None] = mapped_column(String(8))  # all / valid
    queued: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class NoticeItem(Base):
    __tablename__ = "notice_items"
    __table_args__ = (UniqueConstraint("batch_id", "member_id"),)

    id: Mapped[IntPK]
    batch_id: Mapped[int] = mapped_column(ForeignKey("notice_batches.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    msisdn: Mapped[str] = mapped_column(String(24))
    rows: Mapped[list[int]] = mapped_column(JsonType)  # the CSV rows it was made of
    text: Mapped[str] = mapped_column(Text)  # final text, signature and opt-out included
    segments: Mapped[int] = mapped_column(SmallInteger)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_id: Mapped[int | None] = mapped_column(ForeignKey("sms_outbox.id"))


__all__ = [
    "OPEN_RUN_STATES",
    "BillRun",
    "BillRunMember",
    "BillSchedule",
    "BillSettings",
    "BillTemplate",
    "Cadence",
    "NoticeBatch",
    "NoticeItem",
    "NoticeState",
    "OptOut",
    "OptOutSource",
    "Outcome",
    "RunState",
    "RunTrigger",
]


# Bill runs read a batch of members' records at a time: by member, then time. The terminal
# records table is the gateway core's; this index is added by the bills migration.
Index("ix_terminal_records_member_time", TerminalRecord.member_id, TerminalRecord.occurred_at)
