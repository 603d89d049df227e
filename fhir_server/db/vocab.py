"""The closed vocabularies of the clinic's own tables (each kept closed by a CHECK constraint)."""

from __future__ import annotations

ORGANIZATION_TYPES = ("clinic", "hospital", "imaging-center", "laboratory", "practice")
USER_ROLES = (
    "admin",
    "owner",
    "physician",
    "nurse",
    "front_desk",
    "case_manager",
    "compliance_officer",
    "readonly",
    "patient",
)
GENDERS = ("male", "female", "other", "unknown")
VISIT_TYPES = ("in-clinic", "virtual")
VISIT_CATEGORIES = ("new-patient", "follow-up")
APPOINTMENT_STATUSES = ("unconfirmed", "confirmed", "arrived", "completed", "cancelled", "no-show")
INTAKE_STATUSES = ("missing", "sent", "completed")
CANCELLATION_TYPES = ("patient-cancelled", "no-show", "rescheduled-externally", "clinic-cancelled", "other")
INTAKE_FORM_STATUSES = ("pending", "submitted", "reviewed")
AI_SUMMARY_STATUSES = ("generating", "generated", "failed", "edited")
IMAGING_STUDY_STATUSES = ("registered", "available", "cancelled", "entered-in-error", "unknown")
AUDIT_OUTCOMES = ("success", "minor-failure", "serious-failure", "major-failure")
