"""the resource store: every R4 resource type without a clinic table, as versioned FHIR JSON

Revision ID: 0007
Revises: 0006

``stored_resources`` holds the current version of each stored resource (its type, logical id unique within the
type, clinic, version, lastUpdated and JSON); its versions live in ``resource_history`` like every type's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fhir_server.db.types import JsonDocument, UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stored_resources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", UtcDateTime(), nullable=False),
        sa.Column("extra", JsonDocument, nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_stored_resources_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_resources")),
        sa.UniqueConstraint("resource_type", "fhir_id", name=op.f("uq_stored_resources_resource_type_fhir_id")),
    )
    with op.batch_alter_table("stored_resources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_resources_organization_id"), ["organization_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stored_resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_resources_organization_id"))
    op.drop_table("stored_resources")
