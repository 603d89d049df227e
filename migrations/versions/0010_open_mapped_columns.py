"""mapped types accept every valid R4 resource: the columns a valid resource may leave empty become nullable, and
a practitioner's NPI is no longer unique

Revision ID: 0010
Revises: 0009

A column that cannot hold a valid value (an Appointment without ``start``, a QuestionnaireResponse
``entered-in-error``, a Practitioner without a name, an ImagingStudy of a Device) stays empty and the value stays
in the resource JSON (``extra``). Two Practitioner resources may carry the same NPI (valid FHIR: the same person
described twice), so ``uq_practitioners_npi`` becomes a plain index. Existing rows keep every value.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fhir_server.db.types import UtcDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPENED: dict[str, dict[str, sa.types.TypeEngine[object]]] = {
    "patients": {"given_name": sa.String(100), "family_name": sa.String(100)},
    "practitioners": {"given_name": sa.String(100), "family_name": sa.String(100)},
    "appointments": {
        "patient_id": sa.Uuid(),
        "practitioner_id": sa.Uuid(),
        "start_at": UtcDateTime(),
        "end_at": UtcDateTime(),
        "duration_minutes": sa.Integer(),
        "visit_type": sa.String(16),
        "visit_category": sa.String(16),
    },
    "intake_forms": {"patient_id": sa.Uuid(), "questionnaire": sa.String(500), "status": sa.String(16)},
    "endpoints": {"connection_type": sa.String(64), "address": sa.String(1000)},
    "imaging_studies": {"patient_id": sa.Uuid(), "study_instance_uid": sa.String(64)},
}
"""Table -> the columns that become nullable, with their types."""


def _nullable(nullable: bool) -> None:
    for table, columns in OPENED.items():
        with op.batch_alter_table(table) as batch_op:
            for name, type_ in columns.items():
                batch_op.alter_column(name, existing_type=type_, nullable=nullable)


def upgrade() -> None:
    _nullable(True)
    with op.batch_alter_table("practitioners") as batch_op:
        batch_op.drop_constraint("uq_practitioners_npi", type_="unique")
        batch_op.create_index("ix_practitioners_npi", ["npi"], unique=False)


def downgrade() -> None:
    """Back to the closed columns: fails while a row leaves one of them empty, or two practitioners share an NPI."""
    with op.batch_alter_table("practitioners") as batch_op:
        batch_op.drop_index("ix_practitioners_npi")
        batch_op.create_unique_constraint("uq_practitioners_npi", ["npi"])
    _nullable(False)
