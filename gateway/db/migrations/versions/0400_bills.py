"""Bills, notices, opt-outs: settings, templates, schedules, bill runs and their members, opt-out
list, notice batches and items; an index on terminal records by member and time (bill runs
read records a batch of members at a time).

Revision ID: 0400_bills
Revises: 0300_ota_jobs
Create Date: 2026-11-25

Tables of ``gateway.db.models_bills``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0400_bills"
down_revision: str | None = "0300_ota_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bill_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column(
            "kinds",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "trigger",
            sa.Enum("api", "cli", "schedule", name="runtrigger", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("schedule_key", sa.String(length=48), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "running",
                "done",
                "cancelled",
                "failed",
                name="runstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("opted_out", sa.Integer(), nullable=False),
        sa.Column("too_long", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_bill_runs_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_runs")),
        sa.UniqueConstraint("schedule_key", name=op.f("uq_bill_runs_schedule_key")),
    )
    with op.batch_alter_table("bill_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bill_runs_enterprise_id_id", ["enterprise_id", "id"], unique=False
        )
        batch_op.create_index("ix_bill_runs_state_id", ["state", "id"], unique=False)

    op.create_table(
        "bill_schedules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "cadence",
            sa.Enum("daily", "weekly", "monthly", name="cadence", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "kinds",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("send_at", sa.String(length=5), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_bill_schedules_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_schedules")),
        sa.UniqueConstraint(
            "enterprise_id", "cadence", name=op.f("uq_bill_schedules_enterprise_id_cadence")
        ),
    )
    op.create_table(
        "bill_settings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "shift_rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("quiet_hours", sa.String(length=11), nullable=True),
        sa.Column("rate_per_s", sa.Float(), nullable=True),
        sa.Column("max_segments", sa.SmallInteger(), nullable=False),
        sa.Column("opt_out_text", sa.String(length=24), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_bill_settings_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_settings")),
        sa.UniqueConstraint("enterprise_id", name=op.f("uq_bill_settings_enterprise_id")),
    )
    op.create_table(
        "bill_templates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_bill_templates_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_templates")),
        sa.UniqueConstraint(
            "enterprise_id", "kind", name=op.f("uq_bill_templates_enterprise_id_kind")
        ),
    )
    op.create_table(
        "notice_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "validated", "sent", "discarded", name="noticestate", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_valid", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column(
            "errors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("send_mode", sa.String(length=8), nullable=True),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_notice_batches_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_batches")),
    )
    with op.batch_alter_table("notice_batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notice_batches_enterprise_id_id", ["enterprise_id", "id"], unique=False
        )

    op.create_table(
        "sms_opt_outs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("msisdn", sa.String(length=24), nullable=False),
        sa.Column(
            "source",
            sa.Enum("mo", "api", name="optoutsource", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("keyword", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_sms_opt_outs_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_sms_opt_outs_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_opt_outs")),
        sa.UniqueConstraint("member_id", name=op.f("uq_sms_opt_outs_member_id")),
    )
    with op.batch_alter_table("sms_opt_outs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sms_opt_outs_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "bill_run_members",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "queued", "opted_out", "too_long", name="outcome", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("sms_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("segments", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_bill_run_members_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["bill_runs.id"], name=op.f("fk_bill_run_members_run_id_bill_runs")
        ),
        sa.ForeignKeyConstraint(
            ["sms_id"], ["sms_outbox.id"], name=op.f("fk_bill_run_members_sms_id_sms_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_run_members")),
        sa.UniqueConstraint(
            "run_id", "member_id", "kind", name=op.f("uq_bill_run_members_run_id_member_id_kind")
        ),
    )
    op.create_table(
        "notice_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("msisdn", sa.String(length=24), nullable=False),
        sa.Column(
            "rows",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("segments", sa.SmallInteger(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("sms_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["notice_batches.id"],
            name=op.f("fk_notice_items_batch_id_notice_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_notice_items_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["sms_id"], ["sms_outbox.id"], name=op.f("fk_notice_items_sms_id_sms_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_items")),
        sa.UniqueConstraint(
            "batch_id", "member_id", name=op.f("uq_notice_items_batch_id_member_id")
        ),
    )
    with op.batch_alter_table("terminal_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_terminal_records_member_time", ["member_id", "occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("terminal_records", schema=None) as batch_op:
        batch_op.drop_index("ix_terminal_records_member_time")

    op.drop_table("notice_items")
    op.drop_table("bill_run_members")
    with op.batch_alter_table("sms_opt_outs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_opt_outs_enterprise_id"))

    op.drop_table("sms_opt_outs")
    with op.batch_alter_table("notice_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_batches_enterprise_id_id")

    op.drop_table("notice_batches")
    op.drop_table("bill_templates")
    op.drop_table("bill_settings")
    op.drop_table("bill_schedules")
    with op.batch_alter_table("bill_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_bill_runs_state_id")
        batch_op.drop_index("ix_bill_runs_enterprise_id_id")

    op.drop_table("bill_runs")
