"""The role -> permission table: the most a token of a user of each role can ever be granted.

Letters as in SMART v2 scopes (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): ``c`` create,
``r`` read (and vread, instance history), ``u`` update (and patch), ``d`` delete, ``s`` search (and type/system
history). A role grants its ``default`` letters on every resource type it does not list, and exactly the listed
letters on a listed type, so the table speaks of every R4 type, served today or not.

The table is applied twice: at consent, the scopes a user is offered are narrowed to it
(:func:`fhir_server.access.user_scopes.grantable`); and at every request, the access context intersects the token's
scopes with the current role of its user (:meth:`fhir_server.access.context.AccessContext.scopes_allowing`), so a
token issued before a role change, or refreshed after it, never exceeds the role. Backend services (tokens without
a user) are capped by their client's registered scopes only. Which rows a permitted token reaches (the clinic, a
portal patient's own compartment) is decided elsewhere, by the access context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ALL = "cruds"
READ = "rs"
EDIT = "crus"
NONE = ""

SCHEDULING = ("Appointment", "AppointmentResponse", "Schedule", "Slot")
DIRECTORY = ("Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService", "Endpoint")
MEDICATIONS = (
    "Medication",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "MedicationDispense",
)
NOTES = ("DocumentReference", "Composition", "ClinicalImpression", "Binary")
CARE_COORDINATION = (
    "CarePlan",
    "CareTeam",
    "Task",
    "Communication",
    "CommunicationRequest",
    "Goal",
    "ServiceRequest",
    "EpisodeOfCare",
)
AUDIT_TRAIL = ("AuditEvent",)
FORMS = ("Questionnaire",)


def _each(types: Iterable[str], letters: str) -> dict[str, str]:
    return dict.fromkeys(types, letters)


@dataclass(frozen=True)
class RolePermissions:
    """What one role may do: ``default`` letters on every type, except the types of ``types`` (exactly theirs)."""

    default: str
    types: Mapping[str, str] = field(default_factory=dict)

    def letters(self, resource_type: str) -> frozenset[str]:
        """The letters the role allows on ``resource_type`` (``*``: its default)."""
        return frozenset(self.types.get(resource_type, self.default))


ROLE_PERMISSIONS: dict[str, RolePermissions] = {
    # Everything, including deleting patients (users are managed with the CLI); the audit trail is read-only.
    "admin": RolePermissions(ALL, _each(AUDIT_TRAIL, READ)),
    "owner": RolePermissions(ALL, _each(AUDIT_TRAIL, READ)),
    # Views and edits the chart (never deletes a patient), prescribes, writes notes, books appointments; reads the
    # clinic's directory and forms without changing them.
    "physician": RolePermissions(
        EDIT,
        {
            "Patient": EDIT,
            **_each(MEDICATIONS + NOTES + SCHEDULING, ALL),
            **_each((*DIRECTORY, *FORMS), READ),
            **_each(AUDIT_TRAIL, NONE),
        },
    ),
    # Views patients and their chart; records observations and notes.
    "nurse": RolePermissions(READ, {**_each(("Observation", *NOTES), EDIT), **_each(AUDIT_TRAIL, NONE)}),
    # Patient demographics and scheduling only: no clinical type at all.
    "front_desk": RolePermissions(
        NONE, {"Patient": EDIT, "RelatedPerson": EDIT, **_each(SCHEDULING, ALL), **_each(DIRECTORY, READ)}
    ),
    # The clinic's patients and their care coordination (the clinic bound is the access context's).
    "case_manager": RolePermissions(
        NONE, {"Patient": READ, **_each(CARE_COORDINATION + SCHEDULING, EDIT), **_each(DIRECTORY, READ)}
    ),
    # Reads everything, the audit trail included; writes nothing.
    "compliance_officer": RolePermissions(READ),
    "readonly": RolePermissions(READ, _each(AUDIT_TRAIL, NONE)),
    # Their own record (the access context confines them to their compartment): reads it, updates their
    # demographics, fills in intake questionnaires.
    "patient": RolePermissions(READ, {"Patient": "rus", "QuestionnaireResponse": EDIT, **_each(AUDIT_TRAIL, NONE)}),
}
"""Role -> what its users' tokens may ever do (the README publishes this table)."""

_NOTHING = RolePermissions(NONE)


def permissions_of(role: str) -> RolePermissions:
    """The permissions of ``role`` (an unknown role: none)."""
    return ROLE_PERMISSIONS.get(role, _NOTHING)


def role_allows(role: str | None, resource_type: str, letter: str) -> bool:
    """True when a user of ``role`` may ever do ``letter`` on ``resource_type``; None (no user: a backend service)
    is not capped here."""
    return role is None or letter in permissions_of(role).letters(resource_type)
