"""The audit trail of FHIR interactions and its read-only FHIR AuditEvent view."""
