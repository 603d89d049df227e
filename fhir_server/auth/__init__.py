"""SMART-on-FHIR authorization: the server as its own OAuth2 / OpenID Connect authorization server."""
