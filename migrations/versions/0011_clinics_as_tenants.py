"""clinics are tenants, Organizations are data: organizations.organization_id names each Organization's clinic

Revision ID: 0011
Revises: 0010

A clinic's own Organization is a clinic (``organization_id`` is its own id); any other Organization belongs to the
clinic that wrote it. Every Organization already stored was a clinic, so each becomes its own clinic: no id changes,
and every tenant row and reference keeps pointing at the same row. The history of each Organization now carries
its clinic (``resource_history.organization_id``), as every other type's does. An NPI is unique within a clinic
(its own Organization and the Organizations it works with), no longer across the whole server: two clinics may
each keep the same laboratory.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE organizations SET organization_id = id")
    op.execute(
        "UPDATE resource_history SET organization_id = "
        "(SELECT o.id FROM organizations o WHERE o.fhir_id = resource_history.resource_id) "
        "WHERE resource_type = 'Organization'"
    )
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.alter_column("organization_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_index(batch_op.f("ix_organizations_organization_id"), ["organization_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_organizations_organization_id_organizations"),
            "organizations",
            ["organization_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.drop_constraint("uq_organizations_npi", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_organizations_organization_id_npi"), ["organization_id", "npi"]
        )


def downgrade() -> None:
    """Only a database whose Organizations are all clinics can go back (the earlier schema knows nothing else)."""
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_organizations_organization_id_npi", type_="unique")
        batch_op.create_unique_constraint("uq_organizations_npi", ["npi"])
        batch_op.drop_constraint("fk_organizations_organization_id_organizations", type_="foreignkey")
        batch_op.drop_index("ix_organizations_organization_id")
        batch_op.drop_column("organization_id")
    op.execute("UPDATE resource_history SET organization_id = NULL WHERE resource_type = 'Organization'")
