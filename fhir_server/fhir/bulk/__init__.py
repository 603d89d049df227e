"""Bulk Data Access (https://hl7.org/fhir/uv/bulkdata/STU2/export.html): the ``$export`` kick-off, status and file
routes (:mod:`.routes`), the export job's registration (:mod:`.job`) and its runner writing the NDJSON files
(:mod:`.runner`)."""
