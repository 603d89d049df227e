"""search indexes for searches at scale: search_string's resource index covers (param, normalized), its lookup
index compares prefixes on PostgreSQL whatever the database's collation; search_reference's target index orders
the referring versions

Revision ID: 0005
Revises: 0004

``ix_search_string_resource`` gains ``param`` and ``normalized``: a search walking matches in id order (its first
page) tests a name prefix inside the index, without reading the table's rows. ``ix_search_string_lookup`` uses
the ``varchar_pattern_ops`` operator class on PostgreSQL, so ``normalized LIKE 'prefix%'`` is an index range
under any collation (the default operator class serves LIKE only under the C collation).
``ix_search_reference_target`` gains the referring version and the parameter: the versions referring to a
resource come out in (type, id) order, so a page of them (``$everything``, ``_revinclude``) stops after the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESOURCE = ["resource_type", "resource_id", "version_id"]
LOOKUP = ["resource_type", "param", "normalized"]
TARGET = ["target_type", "target_id"]


def upgrade() -> None:
    with op.batch_alter_table("search_string") as batch_op:
        batch_op.drop_index("ix_search_string_resource")
        batch_op.create_index("ix_search_string_resource", [*RESOURCE, "param", "normalized"], unique=False)
        batch_op.drop_index("ix_search_string_lookup")
        batch_op.create_index(
            "ix_search_string_lookup", LOOKUP, unique=False, postgresql_ops={"normalized": "varchar_pattern_ops"}
        )
    with op.batch_alter_table("search_reference") as batch_op:
        batch_op.drop_index("ix_search_reference_target")
        batch_op.create_index("ix_search_reference_target", [*TARGET, *RESOURCE, "param"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("search_reference") as batch_op:
        batch_op.drop_index("ix_search_reference_target")
        batch_op.create_index("ix_search_reference_target", TARGET, unique=False)
    with op.batch_alter_table("search_string") as batch_op:
        batch_op.drop_index("ix_search_string_lookup")
        batch_op.create_index("ix_search_string_lookup", LOOKUP, unique=False)
        batch_op.drop_index("ix_search_string_resource")
        batch_op.create_index("ix_search_string_resource", RESOURCE, unique=False)
