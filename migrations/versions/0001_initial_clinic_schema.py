"""initial clinic schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fhir_server.db.types import JsonDocument, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("address", JsonDocument, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", UtcDateTime(), nullable=False),
        sa.Column("extra", JsonDocument, nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "type IN ('clinic', 'hospital', 'imaging-center', 'laboratory', 'practice')",
            name=op.f("ck_organizations_type_allowed"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_organizations_fhir_id")),
        sa.UniqueConstraint("npi", name=op.f("uq_organizations_npi")),
    )
    op.create_table(
        "resource_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("last_updated", UtcDateTime(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("resource", JsonDocument, nullable=True),
        sa.CheckConstraint("method IN ('create', 'delete', 'update')", name=op.f("ck_resource_history_method_allowed")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_history")),
        sa.UniqueConstraint(
            "resource_type",
            "resource_id",
            "version_id",
            name=op.f("uq_resource_history_resource_type_resource_id_version_id"),
        ),
    )
    with op.batch_alter_table("resource_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_history_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index("ix_resource_history_type_updated", ["resource_type", "last_updated"], unique=False)
        batch_op.create_index("ix_resource_history_updated", ["last_updated"], unique=False)

    op.create_table(
        "search_date",
        sa.Column("low", UtcDateTime(), nullable=False),
        sa.Column("high", UtcDateTime(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_date")),
    )
    with op.batch_alter_table("search_date", schema=None) as batch_op:
        batch_op.create_index("ix_search_date_lookup", ["resource_type", "param", "low", "high"], unique=False)
        batch_op.create_index("ix_search_date_resource", ["resource_type", "resource_id"], unique=False)

    op.create_table(
        "search_number",
        sa.Column("value", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_number")),
    )
    with op.batch_alter_table("search_number", schema=None) as batch_op:
        batch_op.create_index("ix_search_number_lookup", ["resource_type", "param", "value"], unique=False)
        batch_op.create_index("ix_search_number_resource", ["resource_type", "resource_id"], unique=False)

    op.create_table(
        "search_quantity",
        sa.Column("value", sa.Numeric(precision=38, scale=10), nullable=False),
        sa.Column("system", sa.String(length=500), nullable=True),
        sa.Column("code", sa.String(length=100), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_quantity")),
    )
    with op.batch_alter_table("search_quantity", schema=None) as batch_op:
        batch_op.create_index("ix_search_quantity_lookup", ["resource_type", "param", "value"], unique=False)
        batch_op.create_index("ix_search_quantity_resource", ["resource_type", "resource_id"], unique=False)

    op.create_table(
        "search_reference",
        sa.Column("target_type", sa.String(length=64), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_reference")),
    )
    with op.batch_alter_table("search_reference", schema=None) as batch_op:
        batch_op.create_index(
            "ix_search_reference_lookup", ["resource_type", "param", "target_id", "target_type"], unique=False
        )
        batch_op.create_index("ix_search_reference_resource", ["resource_type", "resource_id"], unique=False)
        batch_op.create_index("ix_search_reference_target", ["target_type", "target_id"], unique=False)

    op.create_table(
        "search_string",
        sa.Column("normalized", sa.String(length=255), nullable=False),
        sa.Column("exact", sa.String(length=1000), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_string")),
    )
    with op.batch_alter_table("search_string", schema=None) as batch_op:
        batch_op.create_index("ix_search_string_lookup", ["resource_type", "param", "normalized"], unique=False)
        batch_op.create_index("ix_search_string_resource", ["resource_type", "resource_id"], unique=False)

    op.create_table(
        "search_token",
        sa.Column("system", sa.String(length=500), nullable=True),
        sa.Column("code", sa.String(length=500), nullable=True),
        sa.Column("text", sa.String(length=1000), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_token")),
    )
    with op.batch_alter_table("search_token", schema=None) as batch_op:
        batch_op.create_index("ix_search_token_lookup", ["resource_type", "param", "code", "system"], unique=False)
        batch_op.create_index("ix_search_token_resource", ["resource_type", "resource_id"], unique=False)

    op.create_table(
        "search_uri",
        sa.Column("uri", sa.String(length=1000), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_uri")),
    )
    with op.batch_alter_table("search_uri", schema=None) as batch_op:
        batch_op.create_index("ix_search_uri_lookup", ["resource_type", "param", "uri"], unique=False)
        batch_op.create_index("ix_search_uri_resource", ["resource_type", "resource_id"], unique=False)

    op.create_table(
        "mrn_counters",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.CheckConstraint("last_value > 0", name=op.f("ck_mrn_counters_last_value_positive")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_mrn_counters_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "year", name=op.f("pk_mrn_counters")),
    )
    op.create_table(
        "practitioners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=True),
        sa.Column("suffix", sa.String(length=40), nullable=True),
        sa.Column("initials", sa.String(length=8), nullable=True),
        sa.Column("specialty", sa.String(length=100), nullable=True),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.Column("identifiers", JsonDocument, nullable=False),
        sa.Column("calendar_color", sa.String(length=7), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", UtcDateTime(), nullable=False),
        sa.Column("extra", JsonDocument, nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_practitioners_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioners")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_practitioners_fhir_id")),
        sa.UniqueConstraint("npi", name=op.f("uq_practitioners_npi")),
    )
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practitioners_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "patients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("mrn", sa.String(length=32), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("gender", sa.String(length=16), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("address", JsonDocument, nullable=True),
        sa.Column("preferred_language", sa.String(length=35), nullable=True),
        sa.Column("general_practitioner_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deceased", sa.Boolean(), nullable=False),
        sa.Column("deceased_at", UtcDateTime(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", UtcDateTime(), nullable=False),
        sa.Column("extra", JsonDocument, nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint("gender IN ('female', 'male', 'other', 'unknown')", name=op.f("ck_patients_gender_allowed")),
        sa.ForeignKeyConstraint(
            ["general_practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_patients_general_practitioner_id_practitioners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_patients_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_patients_fhir_id")),
        sa.UniqueConstraint("organization_id", "mrn", name=op.f("uq_patients_organization_id_mrn")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patients_general_practitioner_id"), ["general_practitioner_id"], unique=False
        )
        batch_op.create_index(
            "ix_patients_org_family_given", ["organization_id", "family_name", "given_name"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_patients_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("start_at", UtcDateTime(), nullable=False),
        sa.Column("end_at", UtcDateTime(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("visit_type", sa.String(length=16), nullable=False),
        sa.Column("visit_category", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("intake_status", sa.String(length=16), nullable=False),
        sa.Column("arrived_at", UtcDateTime(), nullable=True),
        sa.Column("meeting_url", sa.String(length=500), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", UtcDateTime(), nullable=False),
        sa.Column("extra", JsonDocument, nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "intake_status IN ('completed', 'missing', 'sent')",
            name=op.f("ck_appointments_intake_status_allowed"),
        ),
        sa.CheckConstraint(
            "status IN ('arrived', 'cancelled', 'completed', 'confirmed', 'no-show', 'unconfirmed')",
            name=op.f("ck_appointments_status_allowed"),
        ),
        sa.CheckConstraint(
            "visit_category IN ('follow-up', 'new-patient')",
            name=op.f("ck_appointments_visit_category_allowed"),
        ),
        sa.CheckConstraint("visit_type IN ('in-clinic', 'virtual')", name=op.f("ck_appointments_visit_type_allowed")),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_appointments_duration_positive")),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_appointments_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_appointments_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_appointments_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_appointments_practitioner_id_practitioners"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_appointments_fhir_id")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index("ix_appointments_org_start", ["organization_id", "start_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointments_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index("ix_appointments_patient_start", ["patient_id", "start_at"], unique=False)
        batch_op.create_index("ix_appointments_practitioner_start", ["practitioner_id", "start_at"], unique=False)

    op.create_table(
        "imaging_studies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("accession_number", sa.String(length=64), nullable=True),
        sa.Column("modalities", JsonDocument, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("series_count", sa.Integer(), nullable=False),
        sa.Column("instance_count", sa.Integer(), nullable=False),
        sa.Column("series", JsonDocument, nullable=False),
        sa.Column("orthanc_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", UtcDateTime(), nullable=False),
        sa.Column("extra", JsonDocument, nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('available', 'cancelled', 'entered-in-error', 'registered', 'unknown')",
            name=op.f("ck_imaging_studies_status_allowed"),
        ),
        sa.CheckConstraint(
            "series_count >= 0 AND instance_count >= 0", name=op.f("ck_imaging_studies_counts_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_imaging_studies_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_imaging_studies_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_studies")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_imaging_studies_fhir_id")),
        sa.UniqueConstraint("orthanc_id", name=op.f("uq_imaging_studies_orthanc_id")),
        sa.UniqueConstraint("study_instance_uid", name=op.f("uq_imaging_studies_study_instance_uid")),
    )
    with op.batch_alter_table("imaging_studies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_imaging_studies_accession_number"), ["accession_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_imaging_studies_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_imaging_studies_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("last_login_at", UtcDateTime(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'case_manager', 'compliance_officer', 'front_desk', 'nurse', 'owner', 'patient', 'physician', 'readonly')",
            name=op.f("ck_users_role_allowed"),
        ),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lowercase")),
        sa.CheckConstraint("failed_logins >= 0", name=op.f("ck_users_failed_logins_nonnegative")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_users_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_users_patient_id_patients"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_users_practitioner_id_practitioners"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_users_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_users_practitioner_id"), ["practitioner_id"], unique=False)

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=True),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("outcome_detail", sa.String(length=500), nullable=True),
        sa.Column("source_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", JsonDocument, nullable=False),
        sa.CheckConstraint(
            "outcome IN ('major-failure', 'minor-failure', 'serious-failure', 'success')",
            name=op.f("ck_audit_events_outcome_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_audit_events_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_audit_events_patient_id_patients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_events_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_client_id"), ["client_id"], unique=False)
        batch_op.create_index("ix_audit_events_org_recorded", ["organization_id", "recorded_at"], unique=False)
        batch_op.create_index("ix_audit_events_patient_recorded", ["patient_id", "recorded_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_user_id"), ["user_id"], unique=False)

    op.create_table(
        "cancellations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("cancelled_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("cancelled_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "type IN ('clinic-cancelled', 'no-show', 'other', 'patient-cancelled', 'rescheduled-externally')",
            name=op.f("ck_cancellations_type_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_cancellations_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["cancelled_by_user_id"],
            ["users.id"],
            name=op.f("fk_cancellations_cancelled_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancellations")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_cancellations_appointment_id")),
    )
    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cancellations_cancelled_by_user_id"), ["cancelled_by_user_id"], unique=False
        )

    op.create_table(
        "intake_forms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("questionnaire", sa.String(length=500), nullable=False),
        sa.Column("answers", JsonDocument, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", UtcDateTime(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", UtcDateTime(), nullable=False),
        sa.Column("extra", JsonDocument, nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'reviewed', 'submitted')", name=op.f("ck_intake_forms_status_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_intake_forms_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_intake_forms_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_intake_forms_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_forms")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_intake_forms_fhir_id")),
    )
    with op.batch_alter_table("intake_forms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_forms_appointment_id"), ["appointment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_intake_forms_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index("ix_intake_forms_patient", ["patient_id"], unique=False)

    op.create_table(
        "ai_intake_summaries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("intake_form_id", sa.Uuid(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("concerns", JsonDocument, nullable=False),
        sa.Column("medications", JsonDocument, nullable=False),
        sa.Column("allergies", JsonDocument, nullable=False),
        sa.Column("key_notes", JsonDocument, nullable=False),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("generated_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('edited', 'failed', 'generated', 'generating')",
            name=op.f("ck_ai_intake_summaries_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["intake_form_id"],
            ["intake_forms.id"],
            name=op.f("fk_ai_intake_summaries_intake_form_id_intake_forms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_intake_summaries")),
        sa.UniqueConstraint("intake_form_id", name=op.f("uq_ai_intake_summaries_intake_form_id")),
    )


def downgrade() -> None:
    op.drop_table("ai_intake_summaries")
    with op.batch_alter_table("intake_forms", schema=None) as batch_op:
        batch_op.drop_index("ix_intake_forms_patient")
        batch_op.drop_index(batch_op.f("ix_intake_forms_organization_id"))
        batch_op.drop_index(batch_op.f("ix_intake_forms_appointment_id"))

    op.drop_table("intake_forms")
    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cancellations_cancelled_by_user_id"))

    op.drop_table("cancellations")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_request_id"))
        batch_op.drop_index("ix_audit_events_patient_recorded")
        batch_op.drop_index("ix_audit_events_org_recorded")
        batch_op.drop_index(batch_op.f("ix_audit_events_client_id"))

    op.drop_table("audit_events")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_practitioner_id"))
        batch_op.drop_index(batch_op.f("ix_users_patient_id"))
        batch_op.drop_index(batch_op.f("ix_users_organization_id"))

    op.drop_table("users")
    with op.batch_alter_table("imaging_studies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_imaging_studies_patient_id"))
        batch_op.drop_index(batch_op.f("ix_imaging_studies_organization_id"))
        batch_op.drop_index(batch_op.f("ix_imaging_studies_accession_number"))

    op.drop_table("imaging_studies")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_practitioner_start")
        batch_op.drop_index("ix_appointments_patient_start")
        batch_op.drop_index(batch_op.f("ix_appointments_organization_id"))
        batch_op.drop_index("ix_appointments_org_start")

    op.drop_table("appointments")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_organization_id"))
        batch_op.drop_index("ix_patients_org_family_given")
        batch_op.drop_index(batch_op.f("ix_patients_general_practitioner_id"))

    op.drop_table("patients")
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioners_organization_id"))

    op.drop_table("practitioners")
    op.drop_table("mrn_counters")
    with op.batch_alter_table("search_uri", schema=None) as batch_op:
        batch_op.drop_index("ix_search_uri_resource")
        batch_op.drop_index("ix_search_uri_lookup")

    op.drop_table("search_uri")
    with op.batch_alter_table("search_token", schema=None) as batch_op:
        batch_op.drop_index("ix_search_token_resource")
        batch_op.drop_index("ix_search_token_lookup")

    op.drop_table("search_token")
    with op.batch_alter_table("search_string", schema=None) as batch_op:
        batch_op.drop_index("ix_search_string_resource")
        batch_op.drop_index("ix_search_string_lookup")

    op.drop_table("search_string")
    with op.batch_alter_table("search_reference", schema=None) as batch_op:
        batch_op.drop_index("ix_search_reference_target")
        batch_op.drop_index("ix_search_reference_resource")
        batch_op.drop_index("ix_search_reference_lookup")

    op.drop_table("search_reference")
    with op.batch_alter_table("search_quantity", schema=None) as batch_op:
        batch_op.drop_index("ix_search_quantity_resource")
        batch_op.drop_index("ix_search_quantity_lookup")

    op.drop_table("search_quantity")
    with op.batch_alter_table("search_number", schema=None) as batch_op:
        batch_op.drop_index("ix_search_number_resource")
        batch_op.drop_index("ix_search_number_lookup")

    op.drop_table("search_number")
    with op.batch_alter_table("search_date", schema=None) as batch_op:
        batch_op.drop_index("ix_search_date_resource")
        batch_op.drop_index("ix_search_date_lookup")

    op.drop_table("search_date")
    with op.batch_alter_table("resource_history", schema=None) as batch_op:
        batch_op.drop_index("ix_resource_history_updated")
        batch_op.drop_index("ix_resource_history_type_updated")
        batch_op.drop_index(batch_op.f("ix_resource_history_organization_id"))

    op.drop_table("resource_history")
    op.drop_table("organizations")
