"""Who may see what: the access policy read by the FHIR layer (today the user roles; the token's access context
still lives in :mod:`fhir_server.auth.context`)."""
