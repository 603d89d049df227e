"""How much work one search may ask for, checked on the raw query before anything is parsed or planned.

A search's cost grows with what it asks, not with what it finds: each criterion is a subquery, each ORed value a
predicate, each chain link and ``_has`` level a nested subquery. Unbounded, one request of a few KB makes
PostgreSQL's planner run for minutes and SQLite fail ("Expression tree is too large", "parser stack overflow").
Every search (GET and POST ``_search``, compartment searches, a batch or transaction entry's GET, conditional
create/update/delete criteria) is checked here first; beyond a limit it is refused with 400 ``too-costly`` whose
expression names the parameter. The limits are settings (``FHIR_SERVER_SEARCH_MAX_*``) and published in the
CapabilityStatement (:func:`describe`).

The page size ``_count`` of every searchset and history Bundle (search, history, $everything, AuditEvent) is read by
:func:`page_size`: :data:`DEFAULT_COUNT` when absent, capped at :data:`MAX_COUNT` as HAPI FHIR and most servers do
(the Bundle's ``self`` link shows the count used), 400 when it is not a whole number.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from fhir_server.errors import FhirError, Issue, bad_request
from fhir_server.settings import Settings

DEFAULT_COUNT = 20
"""Entries per page when ``_count`` is not given."""
MAX_COUNT = 1000
"""The most entries per page; a larger ``_count`` is served as this."""


def page_size(raw: str | None) -> int:
    """The page size ``_count`` asks for (http://hl7.org/fhir/R4/search.html#count): :data:`DEFAULT_COUNT` when
    ``raw`` is None, at most :data:`MAX_COUNT`; 400 naming ``_count`` when ``raw`` is not a whole number."""
    if raw is None:
        return DEFAULT_COUNT
    if not (raw.isascii() and raw.isdigit()):
        raise bad_request(f"_count must be a whole number, not {raw!r}", "_count")
    digits = raw.lstrip("0")
    return MAX_COUNT if len(digits) > len(str(MAX_COUNT)) else min(int(digits or "0"), MAX_COUNT)


def count_notes(raw: str) -> list[Issue]:
    """What to say about ``_count=raw``: that it was served as :data:`MAX_COUNT` when it asks for more (nothing is
    cut: the rest follows on the next pages), else nothing."""
    if page_size(raw) < MAX_COUNT or raw.lstrip("0") == str(MAX_COUNT):
        return []
    text = (
        f"_count asks for more than {MAX_COUNT}, the most entries a page holds here: pages hold {MAX_COUNT}; "
        "follow the Bundle's next links for the rest"
    )
    return [Issue("informational", text, ("_count",), severity="information")]


@dataclass(frozen=True)
class SearchLimits:
    """The most a search may hold (see the settings ``search_max_*``, which hold the defaults)."""

    parameters: int
    repeats: int
    or_values: int
    or_values_total: int
    chain_depth: int
    has_depth: int
    includes: int

    @classmethod
    def defaults(cls) -> SearchLimits:
        """The limits of a server configured with the settings' defaults."""
        return cls.of(Settings.model_construct())

    @classmethod
    def of(cls, settings: Settings) -> SearchLimits:
        """The limits ``settings`` configure."""
        return cls(
            parameters=settings.search_max_parameters,
            repeats=settings.search_max_repeats,
            or_values=settings.search_max_or_values,
            or_values_total=settings.search_max_or_values_total,
            chain_depth=settings.search_max_chain_depth,
            has_depth=settings.search_max_has_depth,
            includes=settings.search_max_includes,
        )


def too_costly(diagnostics: str, expression: str) -> FhirError:
    """The 400 of a search beyond a limit: issue code ``too-costly``, ``expression`` the parameter."""
    return bad_request(diagnostics, expression, code="too-costly")


def check(criteria: list[tuple[str, list[str]]], includes: list[str], limits: SearchLimits) -> None:
    """Refuse a search of ``criteria`` (each parameter name with its ORed values) and ``includes`` (the
    ``_include``/``_revinclude`` values) beyond ``limits``; the first limit passed is named."""
    if len(criteria) > limits.parameters:
        message = f"a search may hold at most {limits.parameters} parameters (got {len(criteria)})"
        raise too_costly(message, criteria[limits.parameters][0])
    _check_repeats(criteria, limits)
    total = 0
    for name, values in criteria:
        _check_depth(name, limits)
        if len(values) > limits.or_values:
            raise too_costly(f"{name} may list at most {limits.or_values} values (got {len(values)})", name)
        total += len(values)
        if total > limits.or_values_total:
            raise too_costly(f"a search may list at most {limits.or_values_total} values in all parameters", name)
    if len(includes) > limits.includes:
        raise too_costly(f"a search may hold at most {limits.includes} _include and _revinclude values", "_include")


def _check_repeats(criteria: list[tuple[str, list[str]]], limits: SearchLimits) -> None:
    counts = Counter(name for name, _ in criteria)
    for name, count in counts.items():
        if count > limits.repeats:
            raise too_costly(f"{name} may be repeated at most {limits.repeats} times (got {count})", name)


def _check_depth(name: str, limits: SearchLimits) -> None:
    chain = name.count(".")
    if chain > limits.chain_depth:
        raise too_costly(f"{name}: a chain may follow at most {limits.chain_depth} references (got {chain})", name)
    has = name.count("_has:")
    if has > limits.has_depth:
        raise too_costly(f"{name}: _has may be nested at most {limits.has_depth} deep (got {has})", name)


def describe(limits: SearchLimits, iterate_rounds: int) -> str:
    """The limits as the CapabilityStatement's documentation says them (markdown); ``:iterate`` follows at most
    ``iterate_rounds`` rounds."""
    return (
        "Search limits (each beyond: 400 OperationOutcome `too-costly` naming the parameter): "
        f"at most {limits.parameters} search parameters per search, each repeated at most {limits.repeats} times; "
        f"at most {limits.or_values} comma-separated values per parameter and {limits.or_values_total} in all; "
        f"chains at most {limits.chain_depth} references long; `_has` nested at most {limits.has_depth} deep; "
        f"at most {limits.includes} `_include`/`_revinclude` values, `:iterate` following at most {iterate_rounds} "
        "rounds."
    )
