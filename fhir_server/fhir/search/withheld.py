"""What ``_include`` and ``_revinclude`` leave out for want of scope, said in the searchset's OperationOutcome entry
(search.mode ``outcome``, http://hl7.org/fhir/R4/search.html#errors): issue code ``suppressed``, never an id the
caller may not see.

* A type the access token does not permit searching (includes are part of the search, so they need ``s``): the
  references a page makes to it, or the resources of it referring to the page, are left out; said per include and
  type. The answer comes from the token alone (and, for ``_include``, from the references of the page, which the
  caller sees), so it reveals nothing of the data.
* A plain ``_include`` of permitted types: the page's references whose targets did not come back are counted, as
  "unknown here or beyond what the access token permits". The two are never told apart: a read answers 404 for
  both, and so does this (a ``_revinclude`` of a permitted type says nothing: counting what refers to a page would
  reveal other patients' data).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.errors import Issue
from fhir_server.fhir.search.includes import MAX_INCLUDED, local_targets, references, served_types
from fhir_server.fhir.search.params import Include, SearchQuery

SEARCHING = "search-type"
"""The interaction includes are checked for (the search's own: :meth:`AccessContext.search_restriction`)."""


def withheld(
    session: Session,
    access: AccessContext,
    query: SearchQuery,
    base_url: str,
    matches: list[dict[str, Any]],
    included: list[dict[str, Any]],
    quote: bool = True,
    count_missing: bool = True,
) -> list[Issue]:
    """The issues naming what ``query``'s includes left out of ``included`` for want of scope (none for a caller
    the rules do not restrict). ``quote``: each issue starts with the include parameter that asked for it (a
    search's; ``$everything`` includes on its own account). ``count_missing``: count the references whose targets
    are not in ``included`` (not for ``$everything``, whose referenced resources come once, on later pages)."""
    if access.search_restriction(SEARCHING) is None or not query.includes or not matches:
        return []
    present = {(r["resourceType"], r["id"]) for r in [*matches, *included]}
    complete = count_missing and len(included) < MAX_INCLUDED
    issues: list[Issue] = []
    for spec in query.includes:
        if spec.reverse:
            found = _unsearchable_sources(access, spec)
        else:
            frontier = [*matches, *included] if spec.iterate else matches
            sources = [r for r in frontier if spec.source_type in ("*", r["resourceType"])]
            found = _left_out_targets(session, access, spec, sources, base_url, present, complete)
        issues.extend(_issue(spec, text, quote) for text in found)
    return issues


def _left_out_targets(
    session: Session,
    access: AccessContext,
    spec: Include,
    sources: list[dict[str, Any]],
    base_url: str,
    present: set[tuple[str, str]],
    complete: bool,
) -> list[str]:
    """What an ``_include`` of ``sources`` left out: the referenced types the token may not search, and (a plain
    include whose results were not cut at :data:`MAX_INCLUDED`) how many other referenced resources are missing."""
    targets = local_targets(references(session, spec, sources), spec, base_url) if sources else set()
    denied = sorted({t for t, _ in targets if not access.may(t, SEARCHING)})
    texts = [_denied_text(t, "referenced by the results") for t in denied]
    if complete and not spec.iterate:
        missing = [k for k in targets if k[0] not in denied and k not in present]
        if missing:
            noun = "resource is" if len(missing) == 1 else "resources are"
            texts.append(
                f"{len(missing)} referenced {noun} not included: unknown here or beyond what the access token permits"
            )
    return texts


def _unsearchable_sources(access: AccessContext, spec: Include) -> list[str]:
    """What a ``_revinclude`` leaves out whatever the data: the source types the token may not search."""
    if spec.source_type != "*":
        allowed = access.may(spec.source_type, SEARCHING)
        return [] if allowed else [_denied_text(spec.source_type, "referring to the results")]
    if all(access.may(t, SEARCHING) for t in served_types()):
        return []
    return ["resources of the types the access token does not permit searching are not included"]


def _denied_text(resource_type: str, relation: str) -> str:
    return (
        f"{resource_type} resources {relation} are not included: "
        f"the access token does not permit searching {resource_type}"
    )


def include_text(spec: Include) -> str:
    """The ``_include``/``_revinclude`` parameter ``spec`` stands for, as a client writes it."""
    name = ("_revinclude" if spec.reverse else "_include") + (":iterate" if spec.iterate else "")
    if (spec.source_type, spec.param, spec.target_type) == ("*", "*", None):
        return f"{name}=*"
    parts = [spec.source_type, spec.param, *([spec.target_type] if spec.target_type else [])]
    return f"{name}={':'.join(parts)}"


def _issue(spec: Include, text: str, quote: bool) -> Issue:
    name = include_text(spec)
    if not quote:
        return Issue("suppressed", text, severity="warning")
    return Issue("suppressed", f"{name}: {text}", (name.partition("=")[0],), severity="warning")
