"""Internal tables <-> FHIR R4 JSON: one module per served resource type (see mappings.base for the contract)."""

CANONICAL_BASE = "http://fhir-server.dev/fhir"
"""Base of the canonical URLs this server defines: its extensions, code systems and identifier systems."""
