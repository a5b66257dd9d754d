"""SMS outbox: outgoing messages, their segments as the SMSC accepted them, inbound SMS kept.

Revision ID: 0200_sms_outbox
Revises: 0100_billing
Create Date: 2026-11-25

Tables of ``gateway.db.models_outbox``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0200_sms_outbox"
down_revision: str | None = "0100_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum("mo", "receipt", name="inboundkind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("destination", sa.String(length=24), nullable=False),
        sa.Column("protocol_id", sa.SmallInteger(), nullable=False),
        sa.Column("data_coding", sa.SmallInteger(), nullable=False),
        sa.Column("esm_class", sa.SmallInteger(), nullable=False),
        sa.Column("udh", sa.LargeBinary(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("smsc_id", sa.String(length=64), nullable=True),
        sa.Column("receipt_state", sa.String(length=16), nullable=True),
        sa.Column("parts", sa.SmallInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_inbound_messages_smsc_id"), ["smsc_id"], unique=False)

    op.create_table(
        "sms_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("msisdn", sa.String(length=24), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("service", "notice", "bill", name="smskind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "submitted",
                "delivered",
                "failed",
                "expired",
                "opted_out",
                name="smsstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("segments", sa.SmallInteger(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=160), nullable=True),
        sa.Column("batch_id", sa.String(length=64), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_sms_outbox_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_sms_outbox_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_sms_outbox_dedupe_key")),
    )
    with op.batch_alter_table("sms_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_outbox_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            "ix_sms_outbox_enterprise_id_id", ["enterprise_id", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sms_outbox_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_outbox_msisdn"), ["msisdn"], unique=False)
        batch_op.create_index("ix_sms_outbox_state_due", ["state", "due_at"], unique=False)

    op.create_table(
        "sms_outbox_parts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("smsc_id", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "submitted",
                "delivered",
                "failed",
                "expired",
                name="partstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("error", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["sms_outbox.id"],
            name=op.f("fk_sms_outbox_parts_message_id_sms_outbox"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox_parts")),
        sa.UniqueConstraint("message_id", "seq", name=op.f("uq_sms_outbox_parts_message_id_seq")),
    )
    with op.batch_alter_table("sms_outbox_parts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_outbox_parts_smsc_id"), ["smsc_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_outbox_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_outbox_parts_smsc_id"))

    op.drop_table("sms_outbox_parts")
    with op.batch_alter_table("sms_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_sms_outbox_state_due")
        batch_op.drop_index(batch_op.f("ix_sms_outbox_msisdn"))
        batch_op.drop_index(batch_op.f("ix_sms_outbox_member_id"))
        batch_op.drop_index("ix_sms_outbox_enterprise_id_id")
        batch_op.drop_index(batch_op.f("ix_sms_outbox_batch_id"))

    op.drop_table("sms_outbox")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_smsc_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_messages_received_at"))

    op.drop_table("inbound_messages")
