"""One module per FHIR interaction of http://hl7.org/fhir/R4/http.html, each with its thin router."""
