"""FHIR search (http://hl7.org/fhir/R4/search.html), driven by the official SearchParameter definitions."""
