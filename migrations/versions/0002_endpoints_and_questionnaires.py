"""endpoints and questionnaires (FHIR Endpoint and Questionnaire)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fhir_server.db.types import JsonDocument, UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("connection_type", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=1000), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", UtcDateTime(), nullable=False),
        sa.Column("extra", JsonDocument, nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'entered-in-error', 'error', 'off', 'suspended', 'test')",
            name=op.f("ck_endpoints_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_endpoints_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endpoints")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_endpoints_fhir_id")),
    )
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_endpoints_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "questionnaires",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("publisher", sa.String(length=200), nullable=True),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", UtcDateTime(), nullable=False),
        sa.Column("extra", JsonDocument, nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'draft', 'retired', 'unknown')", name=op.f("ck_questionnaires_status_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_questionnaires_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaires")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_questionnaires_fhir_id")),
    )
    with op.batch_alter_table("questionnaires", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_questionnaires_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_questionnaires_url"), ["url"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("questionnaires", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionnaires_url"))
        batch_op.drop_index(batch_op.f("ix_questionnaires_organization_id"))

    op.drop_table("questionnaires")
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_endpoints_organization_id"))

    op.drop_table("endpoints")
