"""Search parameters that well-known FHIR clients send although R4 does not define them, read as the standard
parameter they stand for (http://hl7.org/fhir/R4/search.html#errors leaves unknown parameters to the server; these
are accepted under ``Prefer: handling=strict`` too, since refusing them breaks the client's own call).

- ``_totalMethod`` (Aidbox's name for ``_total``; fhirpy's ``count()`` sends ``_count=0&_totalMethod=count``):
  ``count`` is ``_total=accurate``, ``estimate`` and ``none`` keep their names.
"""

from __future__ import annotations

from fhir_server.errors import bad_request

_TOTAL_METHODS = {"count": "accurate", "estimate": "estimate", "none": "none"}
NAMES = frozenset({"_totalMethod"})
"""The client parameters understood (result parameters, like ``_total``: never criteria)."""


def standard(name: str, raw: str) -> tuple[str, str]:
    """The standard ``(name, value)`` the pair ``name=raw`` stands for (itself when it is no client parameter); 400
    naming the parameter for a value it does not take."""
    if name != "_totalMethod":
        return name, raw
    if raw not in _TOTAL_METHODS:
        raise bad_request("_totalMethod takes count, estimate or none (read as _total)", "_totalMethod")
    return "_total", _TOTAL_METHODS[raw]
