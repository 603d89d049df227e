"""FHIR operations (http://hl7.org/fhir/R4/operations.html): one module per ``$operation``, each with its router."""
