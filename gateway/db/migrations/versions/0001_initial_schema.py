"""Initial schema: tenants, admins, members, cards, ledger, terminals, blacklist, audit.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enterprises",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("sms_signature", sa.String(length=24), nullable=False),
        sa.Column(
            "modules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("active", "suspended", name="enterprisestatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("monthly_fee_fen", sa.Integer(), nullable=False),
        sa.Column("balance_expiry_days", sa.Integer(), nullable=True),
        sa.Column("master_key_ref", sa.String(length=64), nullable=False),
        sa.Column("master_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("blacklist_version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprises")),
        sa.UniqueConstraint("code", name=op.f("uq_enterprises_code")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotency_keys_scope_key")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "admins",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "role",
            sa.Enum(
                "operator",
                "enterprise_admin",
                "terminal",
                "system",
                name="role",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_admins_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admins")),
        sa.UniqueConstraint("login", name=op.f("uq_admins_login")),
    )
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_admins_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "operator",
                "enterprise_admin",
                "terminal",
                "system",
                name="role",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_audit_log_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_log_enterprise_id_id", ["enterprise_id", "id"], unique=False
        )

    op.create_table(
        "domain_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_domain_events_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_events")),
    )
    with op.batch_alter_table("domain_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_domain_events_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "ledger_postings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "topup",
                "purchase",
                "undo",
                "transfer",
                "refund",
                "reversal",
                "adjustment",
                name="postingkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("memo", sa.String(length=200), nullable=True),
        sa.Column(
            "reverses_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_ledger_postings_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["ledger_postings.id"],
            name=op.f("fk_ledger_postings_reverses_id_ledger_postings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
        sa.UniqueConstraint("reference", name=op.f("uq_ledger_postings_reference")),
    )
    with op.batch_alter_table("ledger_postings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_postings_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "members",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("employee_no", sa.String(length=32), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "left", name="memberstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("sms_opt_out", sa.Boolean(), nullable=False),
        sa.Column("service_password_hash", sa.String(length=200), nullable=True),
        sa.Column("service_password_attempts", sa.Integer(), nullable=False),
        sa.Column("service_password_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_members_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_members_enterprise_employee", ["enterprise_id", "employee_no"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_members_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(
            "uq_members_present_msisdn",
            ["msisdn"],
            unique=True,
            sqlite_where=sa.text("status <> 'left'"),
            postgresql_where=sa.text("status <> 'left'"),
        )

    op.create_table(
        "terminals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "door",
                "attendance",
                "pos",
                "topup",
                "issuing",
                name="terminalkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=128), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "disabled", name="terminalstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("high_seq", sa.BigInteger(), nullable=False),
        sa.Column("blacklist_version", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_terminals_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terminals")),
        sa.UniqueConstraint("code", name=op.f("uq_terminals_code")),
    )
    with op.batch_alter_table("terminals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_terminals_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "api_tokens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("admin_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admins.id"], name=op.f("fk_api_tokens_admin_id_admins")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_admin_id"), ["admin_id"], unique=False)

    op.create_table(
        "cards",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("iccid", sa.String(length=20), nullable=False),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "state",
            sa.Enum(
                "active",
                "lost",
                "replaced",
                "deregistered",
                name="cardstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("keys_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("keys_source", sa.String(length=16), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ota_counter", sa.BigInteger(), nullable=False),
        sa.Column("personalised", sa.Boolean(), nullable=False),
        sa.Column(
            "replaced_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_cards_enterprise_id_enterprises")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_cards_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"], ["cards.id"], name=op.f("fk_cards_replaced_by_id_cards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("iccid", name=op.f("uq_cards_iccid")),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cards_enterprise_id"), ["enterprise_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cards_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            "uq_cards_live_member",
            ["member_id"],
            unique=True,
            sqlite_where=sa.text("state IN ('active', 'lost')"),
            postgresql_where=sa.text("state IN ('active', 'lost')"),
        )

    op.create_table(
        "terminal_gaps",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "terminal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["terminal_id"], ["terminals.id"], name=op.f("fk_terminal_gaps_terminal_id_terminals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terminal_gaps")),
    )
    with op.batch_alter_table("terminal_gaps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_terminal_gaps_terminal_id"), ["terminal_id"], unique=False
        )

    op.create_table(
        "blacklist_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("iccid", sa.String(length=20), nullable=False),
        sa.Column(
            "app",
            sa.Enum("door", "attendance", "purse", name="appkind", native_enum=False, length=24),
            nullable=True,
        ),
        sa.Column(
            "action",
            sa.Enum("add", "remove", name="blacklistaction", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "reason",
            sa.Enum(
                "lost",
                "unfrozen",
                "replaced",
                "deregistered",
                "app_deleted",
                name="blacklistreason",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_blacklist_entries_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_blacklist_entries_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blacklist_entries")),
        sa.UniqueConstraint(
            "enterprise_id", "version", name=op.f("uq_blacklist_entries_enterprise_id_version")
        ),
    )
    with op.batch_alter_table("blacklist_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blacklist_entries_iccid"), ["iccid"], unique=False)

    op.create_table(
        "card_apps",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "app",
            sa.Enum("door", "attendance", "purse", name="appkind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum("pending", "active", "removed", name="appstate", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], name=op.f("fk_card_apps_card_id_cards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_apps")),
        sa.UniqueConstraint("card_id", "app", name=op.f("uq_card_apps_card_id_app")),
    )
    with op.batch_alter_table("card_apps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_apps_card_id"), ["card_id"], unique=False)

    op.create_table(
        "ledger_accounts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "purse",
                "cash",
                "revenue",
                "refund",
                "suspense",
                name="accountkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_ledger_accounts_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_ledger_accounts_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_ledger_accounts_code")),
    )
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_accounts_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_accounts_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "terminal_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "terminal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "door",
                "attendance",
                "purchase",
                "topup",
                "undo",
                name="recordkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("iccid", sa.String(length=20), nullable=False),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("card_balance_fen", sa.BigInteger(), nullable=True),
        sa.Column("undo_seq", sa.BigInteger(), nullable=True),
        sa.Column(
            "flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column(
            "posting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_terminal_records_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_terminal_records_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_terminal_records_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["ledger_postings.id"],
            name=op.f("fk_terminal_records_posting_id_ledger_postings"),
        ),
        sa.ForeignKeyConstraint(
            ["terminal_id"],
            ["terminals.id"],
            name=op.f("fk_terminal_records_terminal_id_terminals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terminal_records")),
        sa.UniqueConstraint("terminal_id", "seq", name=op.f("uq_terminal_records_terminal_id_seq")),
    )
    with op.batch_alter_table("terminal_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_terminal_records_card_time", ["card_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_terminal_records_enterprise_time", ["enterprise_id", "occurred_at"], unique=False
        )

    op.create_table(
        "ledger_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "posting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_entries_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["ledger_postings.id"],
            name=op.f("fk_ledger_entries_posting_id_ledger_postings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_posting_id"), ["posting_id"], unique=False
        )

    op.create_table(
        "ledger_holds",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("held", "captured", "released", name="holdstate", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "posting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_holds_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["ledger_postings.id"],
            name=op.f("fk_ledger_holds_posting_id_ledger_postings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
        sa.UniqueConstraint("reference", name=op.f("uq_ledger_holds_reference")),
    )
    with op.batch_alter_table("ledger_holds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_holds_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_holds_account_id"))

    op.drop_table("ledger_holds")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_posting_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_account_id"))

    op.drop_table("ledger_entries")
    with op.batch_alter_table("terminal_records", schema=None) as batch_op:
        batch_op.drop_index("ix_terminal_records_enterprise_time")
        batch_op.drop_index("ix_terminal_records_card_time")

    op.drop_table("terminal_records")
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_accounts_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_accounts_card_id"))

    op.drop_table("ledger_accounts")
    with op.batch_alter_table("card_apps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_apps_card_id"))

    op.drop_table("card_apps")
    with op.batch_alter_table("blacklist_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blacklist_entries_iccid"))

    op.drop_table("blacklist_entries")
    with op.batch_alter_table("terminal_gaps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_terminal_gaps_terminal_id"))

    op.drop_table("terminal_gaps")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_cards_live_member",
            sqlite_where=sa.text("state IN ('active', 'lost')"),
            postgresql_where=sa.text("state IN ('active', 'lost')"),
        )
        batch_op.drop_index(batch_op.f("ix_cards_member_id"))
        batch_op.drop_index(batch_op.f("ix_cards_enterprise_id"))

    op.drop_table("cards")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_admin_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("terminals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_terminals_enterprise_id"))

    op.drop_table("terminals")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_members_present_msisdn",
            sqlite_where=sa.text("status <> 'left'"),
            postgresql_where=sa.text("status <> 'left'"),
        )
        batch_op.drop_index(batch_op.f("ix_members_enterprise_id"))
        batch_op.drop_index("ix_members_enterprise_employee")

    op.drop_table("members")
    with op.batch_alter_table("ledger_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_postings_enterprise_id"))

    op.drop_table("ledger_postings")
    with op.batch_alter_table("domain_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_domain_events_enterprise_id"))

    op.drop_table("domain_events")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_enterprise_id_id")

    op.drop_table("audit_log")
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admins_enterprise_id"))

    op.drop_table("admins")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
    op.drop_table("enterprises")
