"""Who may see what: the access policy the FHIR layer, imaging and jobs read.

A request's Bearer token becomes an access context (:mod:`.bearer`, :mod:`.context`); its SMART scopes
(:mod:`.scopes`), bounded by the user's role (:mod:`.roles`, :mod:`.user_scopes`) and patient context
(:mod:`.patient_context`), decide which interactions are allowed (:mod:`.enforcement`) and which rows are visible,
as SQL predicates. The OAuth/OpenID server in :mod:`fhir_server.auth` only issues what this package reads.
"""
