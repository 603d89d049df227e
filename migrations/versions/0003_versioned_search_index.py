"""versioned search index: index rows per version, superseded_at on history

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fhir_server.db.types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX_TABLES = ("string", "token", "date", "reference", "number", "quantity", "uri")


def upgrade() -> None:
    with op.batch_alter_table("resource_history") as batch_op:
        batch_op.add_column(sa.Column("superseded_at", UtcDateTime(), nullable=True))
    op.execute(
        "UPDATE resource_history SET superseded_at = (SELECT MIN(n.last_updated) FROM resource_history n "
        "WHERE n.resource_type = resource_history.resource_type AND n.resource_id = resource_history.resource_id "
        "AND n.version_id > resource_history.version_id)"
    )
    for kind in INDEX_TABLES:
        table = f"search_{kind}"
        op.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names; `fhir-server reindex` rebuilds
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_resource")
            batch_op.add_column(sa.Column("version_id", sa.Integer(), nullable=False))
            batch_op.create_index(f"ix_{table}_resource", ["resource_type", "resource_id", "version_id"], unique=False)


def downgrade() -> None:
    for kind in INDEX_TABLES:
        table = f"search_{kind}"
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_resource")
            batch_op.drop_column("version_id")
            batch_op.create_index(f"ix_{table}_resource", ["resource_type", "resource_id"], unique=False)
    with op.batch_alter_table("resource_history") as batch_op:
        batch_op.drop_column("superseded_at")
