"""Who may see what: the access policy the FHIR layer, imaging and jobs read.

A request's Bearer token becomes an access context (:mod:`.bearer`, :mod:`.context`); its SMART scopes
(:mod:`.scopes`), bounded by the user's role (:mod:`.roles`, :mod:`.user_scopes`) and patient context
(:mod:`.patient_context`), decide which interactions are allowed (:mod:`.enforcement`) and which rows are visible,
as SQL predicates (:mod:`.predicates`, over the clinic, the patient compartment of :mod:`.compartment` and the
search index). The OAuth/OpenID server in :mod:`fhir_server.auth` only issues what this package reads: it imports
from here the scopes, the role-bounded user scopes, the patient context and the digest tokens are stored under
(:mod:`.digests`), and nothing here imports it.
"""
