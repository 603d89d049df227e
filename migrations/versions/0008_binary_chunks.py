"""the content of Binary resources, in chunks beside their stored JSON

Revision ID: 0008
Revises: 0007

``binary_chunks`` holds the bytes of each version of a Binary (http://hl7.org/fhir/R4/binary.html) in chunks, keyed
by (Binary id, version, chunk number); the stored JSON of that version holds a marker instead of ``data``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "binary_chunks",
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_binary_chunks_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("resource_id", "version_id", "seq", name=op.f("pk_binary_chunks")),
    )
    with op.batch_alter_table("binary_chunks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_binary_chunks_organization_id"), ["organization_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("binary_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_binary_chunks_organization_id"))
    op.drop_table("binary_chunks")
