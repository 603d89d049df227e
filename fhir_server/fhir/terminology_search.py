"""Search over the published CodeSystems and ValueSets (:mod:`fhir_server.fhir.terminology`), in memory.

They are a fixed set of a few hundred files, the same for every clinic, so they are matched here rather than
indexed per clinic. The parameters follow http://hl7.org/fhir/R4/search.html for their types: ``string``
(``name``, ``title``, ``publisher``, ``description``: starts with, case- and accent-insensitively; ``:exact``,
``:contains``), ``token`` (``_id``, ``status``, ``version``, ``identifier``, ``code``, ``content-mode``: the code,
``system|code`` or ``|code``), ``uri`` (``url``, ``system``, ``reference``: equal; ``:below``: starts with).
Comma-separated values are alternatives; repeated parameters must all match. A parameter outside these (or a
modifier they do not take) leaves the published definitions out of the result, which :func:`matching` says.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from fhir_server.errors import Issue
from fhir_server.fhir import terminology

IGNORED = frozenset(
    {"_count", "_sort", "_total", "_summary", "_elements", "_include", "_revinclude", "_format", "_pretty", "_cursor"}
)
"""Result parameters: they shape the page, not which definitions match."""
Values = Callable[[dict[str, Any]], Iterator[Any]]


def _element(name: str) -> Values:
    def values(resource: dict[str, Any]) -> Iterator[Any]:
        if resource.get(name) is not None:
            yield resource[name]

    return values


def _codes(resource: dict[str, Any]) -> Iterator[Any]:
    if resource["resourceType"] == "CodeSystem":
        yield from (c.definition["code"] for c in terminology.concepts(resource))
    for include in (resource.get("compose") or {}).get("include", []):
        yield from (c.get("code") for c in include.get("concept", []))


def _included_systems(resource: dict[str, Any]) -> Iterator[Any]:
    yield from (i.get("system") for i in (resource.get("compose") or {}).get("include", []))


def _identifiers(resource: dict[str, Any]) -> Iterator[Any]:
    yield from ((i.get("system"), i.get("value")) for i in resource.get("identifier", []))


STRINGS: dict[str, Values] = {n: _element(n) for n in ("name", "title", "publisher", "description")}
TOKENS: dict[str, Values] = {
    "_id": _element("id"),
    "status": _element("status"),
    "version": _element("version"),
    "identifier": _identifiers,
    "code": _codes,
}
URIS: dict[str, Values] = {"url": _element("url")}
OWN: dict[str, tuple[dict[str, Values], dict[str, Values]]] = {
    "CodeSystem": ({"content-mode": _element("content")}, {"system": _element("url")}),
    "ValueSet": ({}, {"reference": _included_systems}),
}


def sort_values(resource: dict[str, Any], code: str) -> Iterator[Any]:
    """The values of a published definition for the search parameter ``code`` (none when not evaluated here)."""
    own_tokens, own_uris = OWN[resource["resourceType"]]
    values = {**STRINGS, **TOKENS, **URIS, **own_tokens, **own_uris}.get(code)
    return values(resource) if values is not None else iter(())


def matching(resource_type: str, pairs: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], list[Issue]]:
    """The published ``resource_type`` definitions matching every parameter of ``pairs``, in id order; when a
    parameter cannot be matched here, none, with a warning naming it."""
    found = sorted(terminology.catalogue().by_id[resource_type].values(), key=lambda r: str(r["id"]))
    for raw_name, raw in pairs:
        name, _, modifier = raw_name.partition(":")
        if name in IGNORED:
            continue
        test = _test(resource_type, name, modifier)
        if test is None:
            text = f"the server's own R4 {resource_type}s are not searched by {raw_name!r}: only the clinic's are"
            return [], [Issue("not-supported", text, (raw_name,), severity="warning")]
        wanted = raw.split(",")
        found = [r for r in found if any(test(value, r) for value in wanted)]
    return found, []


def _test(resource_type: str, name: str, modifier: str) -> Callable[[str, dict[str, Any]], bool] | None:
    own_tokens, own_uris = OWN[resource_type]
    tokens, uris = {**TOKENS, **own_tokens}, {**URIS, **own_uris}
    if name in STRINGS and modifier in ("", "exact", "contains"):
        strings = STRINGS[name]
        return lambda wanted, r: any(_string_match(modifier, wanted, v) for v in strings(r) if isinstance(v, str))
    if name in tokens and modifier == "":
        codes = tokens[name]
        return lambda wanted, r: any(_token_match(wanted, v) for v in codes(r))
    if name in uris and modifier in ("", "below"):
        found, below = uris[name], modifier == "below"
        return lambda wanted, r: any(v == wanted or (below and str(v).startswith(wanted)) for v in found(r))
    return None


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _string_match(modifier: str, wanted: str, value: str) -> bool:
    if modifier == "exact":
        return value == wanted
    if modifier == "contains":
        return _folded(wanted) in _folded(value)
    return _folded(value).startswith(_folded(wanted))


def _token_match(wanted: str, value: Any) -> bool:
    """``code``, ``system|code`` or ``|code`` against a plain code or an identifier's (system, value)."""
    system, bar, code = wanted.rpartition("|")
    if isinstance(value, tuple):
        return value[1] == code and (not bar or value[0] == (system or None))
    return value == code and (not bar or not system)
