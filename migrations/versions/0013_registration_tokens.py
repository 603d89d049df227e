"""initial access tokens for dynamic client registration (RFC 7591)

Revision ID: 0013
Revises: 0012

``oauth_registration_tokens`` holds the SHA-256 of each initial access token an operator issues with
``fhir-server clients registration-token``: its clinic, the most its client may be registered with, its expiry, and
when and for which client it was used (each registers one client).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fhir_server.db.types import UtcDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_registration_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_oauth_registration_tokens_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_oauth_registration_tokens")),
    )
    with op.batch_alter_table("oauth_registration_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_registration_tokens_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_registration_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_registration_tokens_organization_id"))
    op.drop_table("oauth_registration_tokens")
