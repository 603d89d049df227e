"""The FHIR R4 REST API: interactions, search, validation, operations."""
