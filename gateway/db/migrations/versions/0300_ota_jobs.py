"""OTA job engine: jobs, attempts, top-ups, card OTA state, balance reports, alerts, STK
requests.

Revision ID: 0300_ota_jobs
Revises: 0200_sms_outbox
Create Date: 2026-11-25

Tables of ``gateway.db.models_ota``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0300_ota_jobs"
down_revision: str | None = "0200_sms_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ota_balance_reports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("reported_fen", sa.BigInteger(), nullable=False),
        sa.Column("ledger_fen", sa.BigInteger(), nullable=False),
        sa.Column("difference_fen", sa.BigInteger(), nullable=False),
        sa.Column("load_counter", sa.Integer(), nullable=True),
        sa.Column("ledger_loads", sa.Integer(), nullable=True),
        sa.Column("explanation", sa.String(length=300), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_ota_balance_reports_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_ota_balance_reports_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ota_balance_reports")),
    )
    with op.batch_alter_table("ota_balance_reports", schema=None) as batch_op:
        batch_op.create_index("ix_ota_balance_reports_card_id_id", ["card_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ota_balance_reports_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "ota_card_state",
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mo_counter", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_ota_card_state_card_id_cards")
        ),
        sa.PrimaryKeyConstraint("card_id", name=op.f("pk_ota_card_state")),
    )
    op.create_table(
        "ota_jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("iccid", sa.String(length=20), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "issue",
                "topup",
                "delete",
                "lock",
                "unlock",
                "menu",
                name="jobkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "sent",
                "confirmed",
                "failed",
                "reversed",
                name="jobstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "progress",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column("failure", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], name=op.f("fk_ota_jobs_card_id_cards")),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_ota_jobs_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_ota_jobs_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ota_jobs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_ota_jobs_dedupe_key")),
    )
    with op.batch_alter_table("ota_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_ota_jobs_card_state", ["card_id", "state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ota_jobs_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index("ix_ota_jobs_state_not_before", ["state", "not_before"], unique=False)

    op.create_table(
        "ota_alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_ota_alerts_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_ota_alerts_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["ota_jobs.id"], name=op.f("fk_ota_alerts_job_id_ota_jobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ota_alerts")),
    )
    with op.batch_alter_table("ota_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ota_alerts_enterprise_id_id", ["enterprise_id", "id"], unique=False
        )

    op.create_table(
        "ota_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("tar", sa.String(length=6), nullable=False),
        sa.Column("spi", sa.String(length=4), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column(
            "ops",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("por_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("por_status", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_ota_attempts_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["ota_jobs.id"], name=op.f("fk_ota_attempts_job_id_ota_jobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ota_attempts")),
        sa.UniqueConstraint("card_id", "counter", name=op.f("uq_ota_attempts_card_id_counter")),
    )
    with op.batch_alter_table("ota_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ota_attempts_job_id"), ["job_id"], unique=False)
        batch_op.create_index("ix_ota_attempts_msisdn_card_id", ["msisdn", "card_id"], unique=False)

    op.create_table(
        "ota_topups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("iccid", sa.String(length=20), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "sent",
                "confirmed",
                "failed",
                "reversed",
                name="jobstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("posting_ref", sa.String(length=128), nullable=False),
        sa.Column("hold_ref", sa.String(length=128), nullable=False),
        sa.Column("card_balance_fen", sa.BigInteger(), nullable=True),
        sa.Column("load_counter", sa.Integer(), nullable=True),
        sa.Column("replayed", sa.Boolean(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_ota_topups_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_ota_topups_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["ota_jobs.id"], name=op.f("fk_ota_topups_job_id_ota_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_ota_topups_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ota_topups")),
        sa.UniqueConstraint("job_id", name=op.f("uq_ota_topups_job_id")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_ota_topups_transaction_id")),
    )
    with op.batch_alter_table("ota_topups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ota_topups_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ota_topups_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "stk_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("mo_counter", sa.BigInteger(), nullable=False),
        sa.Column("app", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_stk_requests_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_stk_requests_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["ota_jobs.id"], name=op.f("fk_stk_requests_job_id_ota_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_stk_requests_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stk_requests")),
        sa.UniqueConstraint(
            "card_id", "mo_counter", name=op.f("uq_stk_requests_card_id_mo_counter")
        ),
    )
    with op.batch_alter_table("stk_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stk_requests_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stk_requests_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stk_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stk_requests_job_id"))
        batch_op.drop_index(batch_op.f("ix_stk_requests_enterprise_id"))

    op.drop_table("stk_requests")
    with op.batch_alter_table("ota_topups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ota_topups_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_ota_topups_card_id"))

    op.drop_table("ota_topups")
    with op.batch_alter_table("ota_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_ota_attempts_msisdn_card_id")
        batch_op.drop_index(batch_op.f("ix_ota_attempts_job_id"))

    op.drop_table("ota_attempts")
    with op.batch_alter_table("ota_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_ota_alerts_enterprise_id_id")

    op.drop_table("ota_alerts")
    with op.batch_alter_table("ota_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_ota_jobs_state_not_before")
        batch_op.drop_index(batch_op.f("ix_ota_jobs_enterprise_id"))
        batch_op.drop_index("ix_ota_jobs_card_state")

    op.drop_table("ota_jobs")
    op.drop_table("ota_card_state")
    with op.batch_alter_table("ota_balance_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ota_balance_reports_enterprise_id"))
        batch_op.drop_index("ix_ota_balance_reports_card_id_id")

    op.drop_table("ota_balance_reports")
