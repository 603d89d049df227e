"""The variable segments of the FHIR routes' paths, matched by routing itself.

``{resource_type}`` matches only a type the generic interactions serve (:data:`mappings.registry.MAPPINGS`) and
``{resource_id}`` never a segment FHIR reserves (``_history``, ``_search``, ``$operation``: a leading ``_`` or
``$``). So the generic routes take no path of another route: ``DELETE /fhir/metadata`` or ``POST /fhir/AuditEvent``
reach the routes of ``metadata`` and AuditEvent, which do not take the method (405, with the methods they take);
an unknown type or reserved segment matches no route at all (404). The convertors are registered when this module
is imported, before any route using them is built.
"""

from __future__ import annotations

import re

from starlette.convertors import StringConvertor, register_url_convertor

from fhir_server.fhir.primitives import ID
from mappings.registry import MAPPINGS

TYPE = "{resource_type:served_type}"
"""A served resource type."""
INSTANCE = "{resource_id:instance_id}"
"""A resource id: any segment but a reserved one (an id of the wrong syntax still reaches the handler: 400)."""


def matching(regex: str) -> StringConvertor:
    """A path segment convertor matching ``regex`` only."""
    convertor: StringConvertor = type("Matching", (StringConvertor,), {"regex": regex})()
    return convertor


register_url_convertor("served_type", matching("|".join(re.escape(name) for name in sorted(MAPPINGS))))
register_url_convertor("instance_id", matching(r"[^/_$][^/]*"))
register_url_convertor("fhir_id", matching(ID))
register_url_convertor("version_id", matching(r"[0-9]{1,10}"))
