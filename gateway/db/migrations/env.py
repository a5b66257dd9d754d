"""Alembic environment: always given a live connection by ``gateway.db.migrate``."""

from __future__ import annotations

from alembic import context

# billing's tables, bills/notices/opt-outs, the OTA job engine and the SMS outbox share the
# metadata; autogenerate sees them once they are imported
import billing.models  # noqa: F401
from gateway.db import models_bills, models_ota, models_outbox  # noqa: F401
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
