"""Bulk Data Access (https://hl7.org/fhir/uv/bulkdata/STU2/export.html): ``$export`` kick-off, status, manifest and
the export job writing NDJSON files."""
