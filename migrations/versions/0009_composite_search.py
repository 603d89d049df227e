"""composite search parameters: a repetition key on every search index table

Revision ID: 0009
Revises: 0008

A composite parameter (``Observation?code-value-quantity=http://loinc.org|8480-6$gt120``) indexes each component's
values in the table of the component's type, under the parameter name ``<composite>$<n>``, with ``repetition``
numbering the element they came from (the Observation itself or one of its ``component``), so a search matches
components of one repetition only (http://hl7.org/fhir/R4/search.html#composite). Other rows keep it NULL. Existing
databases get their composite rows from ``fhir-server reindex``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX_TABLES = (
    "search_string",
    "search_token",
    "search_date",
    "search_reference",
    "search_number",
    "search_quantity",
    "search_uri",
)


def upgrade() -> None:
    for table in INDEX_TABLES:
        op.add_column(table, sa.Column("repetition", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in INDEX_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("repetition")
