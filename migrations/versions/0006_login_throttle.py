"""login backoff per account name and source address, replacing the account lock anyone could trigger

Revision ID: 0006
Revises: 0005

``login_throttles`` counts failed logins per (SHA-256 of the normalized email, source address); the login pages
refuse further attempts from that source with a growing delay. ``users.failed_logins`` and ``users.locked_until``
stay (the CLI shows ``locked_until``) but nothing sets them any more; existing locks are lifted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fhir_server.db.types import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("account_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_hash", "source", name=op.f("pk_login_throttles")),
    )
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.create_index("ix_login_throttles_last_failure_at", ["last_failure_at"], unique=False)
    op.execute("UPDATE users SET failed_logins = 0, locked_until = NULL")


def downgrade() -> None:
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.drop_index("ix_login_throttles_last_failure_at")
    op.drop_table("login_throttles")
