"""Alembic environment: always given a live connection by ``gateway.db.migrate``."""

from __future__ import annotations

from alembic import context

import billing.models  # noqa: F401  (billing's tables share the metadata; autogenerate sees them)
import gateway.db.models_bills  # noqa: F401  (bills, notices, opt-outs, likewise)
import gateway.db.models_ota  # (the OTA job engine's tables, likewise)
import gateway.db.models_outbox  # noqa: F401  (the SMS outbox's tables, likewise)
from gateway.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations through gateway.db.migrate, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
