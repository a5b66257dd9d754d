"""Billing: CDRs, carriers, plans and tariff history, accounts, export jobs, files, lines.

Revision ID: 0100_billing
Revises: 0001_initial
Create Date: 2026-11-25

Tables of ``billing.models``; numbered 0100 so that gateway revisions keep the low numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0100_billing"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_carriers",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=32), nullable=False),
        sa.Column("node_address", sa.String(length=45), nullable=False),
        sa.Column(
            "layouts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("name_pattern", sa.String(length=128), nullable=False),
        sa.Column("template_dir", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_billing_carriers")),
    )
    op.create_table(
        "billing_plans",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_billing_plans")),
    )
    op.create_table(
        "billing_accounts",
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("carrier_code", sa.String(length=32), nullable=False),
        sa.Column("plan_code", sa.String(length=32), nullable=False),
        sa.Column("group_account", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier_code"],
            ["billing_carriers.code"],
            name=op.f("fk_billing_accounts_carrier_code_billing_carriers"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_billing_accounts_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_code"],
            ["billing_plans.code"],
            name=op.f("fk_billing_accounts_plan_code_billing_plans"),
        ),
        sa.PrimaryKeyConstraint("enterprise_id", name=op.f("pk_billing_accounts")),
    )
    with op.batch_alter_table("billing_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_accounts_carrier_code"), ["carrier_code"], unique=False
        )

    op.create_table(
        "billing_export_jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("carrier_code", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("node_id", sa.String(length=32), nullable=False),
        sa.Column("node_address", sa.String(length=45), nullable=False),
        sa.Column("template_dir", sa.String(length=255), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tariffs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "enterprises",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("directory", sa.String(length=255), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["carrier_code"],
            ["billing_carriers.code"],
            name=op.f("fk_billing_export_jobs_carrier_code_billing_carriers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_export_jobs")),
        sa.UniqueConstraint(
            "carrier_code", "period", name=op.f("uq_billing_export_jobs_carrier_code_period")
        ),
    )
    op.create_table(
        "billing_sequences",
        sa.Column("carrier_code", sa.String(length=32), nullable=False),
        sa.Column("layout", sa.String(length=32), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier_code"],
            ["billing_carriers.code"],
            name=op.f("fk_billing_sequences_carrier_code_billing_carriers"),
        ),
        sa.PrimaryKeyConstraint("carrier_code", "layout", name=op.f("pk_billing_sequences")),
    )
    op.create_table(
        "billing_tariffs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("plan_code", sa.String(length=32), nullable=False),
        sa.Column("effective_from", sa.String(length=7), nullable=False),
        sa.Column(
            "prices",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_code"],
            ["billing_plans.code"],
            name=op.f("fk_billing_tariffs_plan_code_billing_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_tariffs")),
        sa.UniqueConstraint(
            "plan_code", "effective_from", name=op.f("uq_billing_tariffs_plan_code_effective_from")
        ),
    )
    op.create_table(
        "billing_cdrs",
        sa.Column("cdr_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("iccid", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "export_job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_billing_cdrs_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["export_job_id"],
            ["billing_export_jobs.id"],
            name=op.f("fk_billing_cdrs_export_job_id_billing_export_jobs"),
        ),
        sa.PrimaryKeyConstraint("cdr_id", name=op.f("pk_billing_cdrs")),
    )
    with op.batch_alter_table("billing_cdrs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_cdrs_export_job_id"), ["export_job_id"], unique=False
        )
        batch_op.create_index(
            "ix_billing_cdrs_kind_enterprise_time",
            ["kind", "enterprise_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_billing_cdrs_period_enterprise_time",
            ["period", "enterprise_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index("ix_billing_cdrs_reference", ["reference"], unique=False)

    op.create_table(
        "billing_export_files",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("carrier_code", sa.String(length=32), nullable=False),
        sa.Column("layout", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.BigInteger(), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["billing_export_jobs.id"],
            name=op.f("fk_billing_export_files_job_id_billing_export_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_export_files")),
        sa.UniqueConstraint(
            "carrier_code",
            "layout",
            "sequence",
            name=op.f("uq_billing_export_files_carrier_code_layout_sequence"),
        ),
        sa.UniqueConstraint("job_id", "layout", name=op.f("uq_billing_export_files_job_id_layout")),
    )
    with op.batch_alter_table("billing_export_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_export_files_job_id"), ["job_id"], unique=False
        )

    op.create_table(
        "billing_export_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("item", sa.SmallInteger(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.String(length=40), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_billing_export_lines_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["billing_export_jobs.id"],
            name=op.f("fk_billing_export_lines_job_id_billing_export_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_export_lines")),
        sa.UniqueConstraint(
            "job_id",
            "enterprise_id",
            "item",
            "reference",
            name=op.f("uq_billing_export_lines_job_id_enterprise_id_item_reference"),
        ),
    )
    with op.batch_alter_table("billing_export_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_export_lines_job_id"), ["job_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("billing_export_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_export_lines_job_id"))

    op.drop_table("billing_export_lines")
    with op.batch_alter_table("billing_export_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_export_files_job_id"))

    op.drop_table("billing_export_files")
    with op.batch_alter_table("billing_cdrs", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_cdrs_reference")
        batch_op.drop_index("ix_billing_cdrs_period_enterprise_time")
        batch_op.drop_index("ix_billing_cdrs_kind_enterprise_time")
        batch_op.drop_index(batch_op.f("ix_billing_cdrs_export_job_id"))

    op.drop_table("billing_cdrs")
    op.drop_table("billing_tariffs")
    op.drop_table("billing_sequences")
    op.drop_table("billing_export_jobs")
    with op.batch_alter_table("billing_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_accounts_carrier_code"))

    op.drop_table("billing_accounts")
    op.drop_table("billing_plans")
    op.drop_table("billing_carriers")
