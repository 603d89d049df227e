"""The internal relational schema (SQLAlchemy 2 typed models) and how to reach the database.

Importing this package registers every table on ``Base.metadata``; Alembic's env.py relies on that.
"""

from fhir_server.db.audit import AuditEvent
from fhir_server.db.base import Base
from fhir_server.db.binary import BinaryChunk
from fhir_server.db.clinic import Organization
from fhir_server.db.directory import Endpoint, Questionnaire
from fhir_server.db.fhir import (
    ResourceHistory,
    SearchDate,
    SearchNumber,
    SearchQuantity,
    SearchReference,
    SearchString,
    SearchToken,
    SearchUri,
)
from fhir_server.db.imaging import ImagingStudy
from fhir_server.db.intake import AiIntakeSummary, IntakeForm
from fhir_server.db.jobs import Job
from fhir_server.db.oauth import (
    AccessToken,
    AuthorizationCode,
    AuthorizationRequest,
    BrowserSession,
    Grant,
    LaunchContext,
    LoginThrottle,
    OAuthClient,
    PasswordResetToken,
    RegistrationToken,
    SigningKey,
    UsedAssertion,
)
from fhir_server.db.people import MrnCounter, Patient, Practitioner, User
from fhir_server.db.scheduling import Appointment, Cancellation
from fhir_server.db.store import StoredResource

__all__ = [
    "AccessToken",
    "AiIntakeSummary",
    "Appointment",
    "AuditEvent",
    "AuthorizationCode",
    "AuthorizationRequest",
    "Base",
    "BinaryChunk",
    "BrowserSession",
    "Cancellation",
    "Endpoint",
    "Grant",
    "ImagingStudy",
    "IntakeForm",
    "Job",
    "LaunchContext",
    "LoginThrottle",
    "MrnCounter",
    "OAuthClient",
    "Organization",
    "PasswordResetToken",
    "Patient",
    "Practitioner",
    "Questionnaire",
    "RegistrationToken",
    "ResourceHistory",
    "SearchDate",
    "SearchNumber",
    "SearchQuantity",
    "SearchReference",
    "SearchString",
    "SearchToken",
    "SearchUri",
    "SigningKey",
    "StoredResource",
    "UsedAssertion",
    "User",
]
