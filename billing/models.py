"""Billing tables, on the gateway's declarative base (migration ``0100_billing``).

- ``billing_cdrs``: usage records and membership events, keyed by their stable id; an export
  job claims the records it bills (``export_job_id``), so a record is billed by one job only.
- ``billing_carriers``, ``billing_plans``, ``billing_tariffs``, ``billing_accounts``: which
  carrier bills an enterprise, with which plan, at which prices month by month.
- ``billing_export_jobs``, ``billing_export_files``, ``billing_export_lines``: an export of a
  carrier's month, the files it writes (name, sequence, checksum once written) and the
  invoice lines it billed, the reference for re-rating and reconciliation.
- ``billing_sequences``: each carrier's running file sequence number per layout.

Adapters only: the billing core (``billing.cdr``, ``billing.rating``...) never imports this.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base, BigId, IntPK


class CdrRow(Base):
    """A ``billing.cdr.Cdr`` as stored. ``kind`` is the ``CdrKind`` value."""

    __tablename__ = "billing_cdrs"
    __table_args__ = (
        Index("ix_billing_cdrs_period_enterprise_time", "period", "enterprise_id", "occurred_at"),
        Index("ix_billing_cdrs_kind_enterprise_time", "kind", "enterprise_id", "occurred_at"),
        Index("ix_billing_cdrs_reference", "reference"),
    )

    cdr_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[int] = mapped_column(SmallInteger)
    occurred_at: Mapped[datetime]
    period: Mapped[str] = mapped_column(String(7))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    member_id: Mapped[str] = mapped_column(String(64), default="")
    msisdn: Mapped[str] = mapped_column(String(15), default="")
    iccid: Mapped[str] = mapped_column(String(20), default="")
    detail: Mapped[str] = mapped_column(String(16), default="")
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    reference: Mapped[str] = mapped_column(String(64), default="")
    recorded_at: Mapped[datetime]
    export_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("billing_export_jobs.id"), index=True
    )


class CarrierRow(Base):
    """A carrier billing system that takes our files, and how it wants them."""

    __tablename__ = "billing_carriers"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(32))
    node_address: Mapped[str] = mapped_column(String(45))
    layouts: Mapped[list[str]]
    name_pattern: Mapped[str] = mapped_column(String(128))
    template_dir: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PlanRow(Base):
    __tablename__ = "billing_plans"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class TariffRow(Base):
    """One tariff of a plan, in force from ``effective_from`` (YYYY-MM) until the next one."""

    __tablename__ = "billing_tariffs"
    __table_args__ = (UniqueConstraint("plan_code", "effective_from"),)

    id: Mapped[IntPK]
    plan_code: Mapped[str] = mapped_column(ForeignKey("billing_plans.code"))
    effective_from: Mapped[str] = mapped_column(String(7))
    prices: Mapped[dict[str, Any]]  # billing.tariffs.Tariff.to_dict()
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AccountRow(Base):
    """An enterprise's billing account: its carrier, its plan, its group account number."""

    __tablename__ = "billing_accounts"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), primary_key=True)
    carrier_code: Mapped[str] = mapped_column(ForeignKey("billing_carriers.code"), index=True)
    plan_code: Mapped[str] = mapped_column(ForeignKey("billing_plans.code"))
    group_account: Mapped[str] = mapped_column(String(32), default="")  # 集团账户 at the carrier
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ExportJobRow(Base):
    """One carrier's export of one month. ``tariffs`` freezes the prices the files used."""

    __tablename__ = "billing_export_jobs"
    __table_args__ = (UniqueConstraint("carrier_code", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    carrier_code: Mapped[str] = mapped_column(ForeignKey("billing_carriers.code"))
    period: Mapped[str] = mapped_column(String(7))
    state: Mapped[str] = mapped_column(String(16))  # billing.jobs.JobState
    # Frozen at creation so that writing the files again gives the same bytes.
    node_id: Mapped[str] = mapped_column(String(32))
    node_address: Mapped[str] = mapped_column(String(45))
    template_dir: Mapped[str | None] = mapped_column(String(255))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime]
    tariffs: Mapped[dict[str, Any]]  # enterprise code -> Tariff.to_dict()
    enterprises: Mapped[dict[str, Any]]  # enterprise id (text) -> enterprise code
    directory: Mapped[str] = mapped_column(String(255))
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    finished_at: Mapped[datetime | None]


class ExportFileRow(Base):
    __tablename__ = "billing_export_files"
    __table_args__ = (
        UniqueConstraint("job_id", "layout"),
        UniqueConstraint("carrier_code", "layout", "sequence"),
    )

    id: Mapped[IntPK]
    job_id: Mapped[int] = mapped_column(ForeignKey("billing_export_jobs.id"), index=True)
    carrier_code: Mapped[str] = mapped_column(String(32))
    layout: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[int | None] = mapped_column(BigInteger)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    written_at: Mapped[datetime | None]


class ExportLineRow(Base):
    """An invoice line an export billed (``billing.rating.InvoiceLine``, rounded)."""

    __tablename__ = "billing_export_lines"
    __table_args__ = (UniqueConstraint("job_id", "enterprise_id", "item", "reference"),)

    id: Mapped[IntPK]
    job_id: Mapped[int] = mapped_column(ForeignKey("billing_export_jobs.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    item: Mapped[int] = mapped_column(SmallInteger)
    reference: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[str] = mapped_column(String(40))  # exact sum, as text: may exceed 64 bits
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    value_fen: Mapped[int] = mapped_column(BigInteger)


class SequenceRow(Base):
    """The last file sequence number a carrier received for a layout."""

    __tablename__ = "billing_sequences"

    carrier_code: Mapped[str] = mapped_column(ForeignKey("billing_carriers.code"), primary_key=True)
    layout: Mapped[str] = mapped_column(String(32), primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger, default=0)


__all__ = [
    "AccountRow",
    "CarrierRow",
    "CdrRow",
    "ExportFileRow",
    "ExportJobRow",
    "ExportLineRow",
    "PlanRow",
    "SequenceRow",
    "TariffRow",
]
