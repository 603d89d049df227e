"""Mutations of valid resources: what a careless or hostile client sends instead of valid R4.

:func:`mutated` takes a valid resource (from the round-trip generator, tests.roundtrip.generator) and breaks it in
one to three places, each a random element at any depth: a wrong JSON type, ``null``, an empty string, array or
object, an unknown element, a bad date, an integer out of range, control characters, a huge string, deep nesting, a
reference to a type the element does not take, two types of one choice element, a bad id. Some mutations leave the
resource valid (a control character the grammar allows, say): the server may accept those, and the fuzz test hands
every accepted resource to the independent validator.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

HUGE = 70_000
"""Characters of a huge string: larger than any column, within the request body limit."""
NESTING = 40
"""Levels of a deeply nested value (bodies deeper than 64 levels are refused: tests/fhir/test_request_body.py)."""
CHOICE_TYPES = ("String", "Boolean", "Integer", "DateTime", "Quantity", "CodeableConcept", "Reference", "Period")
"""Type suffixes of choice elements (``valueString``, ``deceasedBoolean``...): a second one is a clash."""
OTHER_TYPES = ("Observation", "Practitioner", "Appointment", "Endpoint", "Questionnaire", "Binary", "Patient")
"""Targets of a wrong-typed reference (the clinic of tests.roundtrip.server holds one of most)."""
CONTROL = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u2028\ufeff"
"""Control and odd characters; U+0000 and most C0 ones are no part of a FHIR string (R4 datatypes.html#string)."""
BAD_DATES = (
    *("2020-13-01", "2020-02-30", "2021-02-29", "yesterday", "2020-1-1", "10000-01-01", "2020-01-01T25:00:00Z"),
    *("2020-01-01T10:00:00", "2020-01-01T10:00:00+15:00", "0000-01-01", "2020-01-01T10:00Z", "T"),
)
"""Dates, times and instants that are none (or not of the element's type)."""


def _plain_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.booleans(),
        st.integers(-(2**40), 2**40),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    )


def bad_values() -> st.SearchStrategy[Any]:
    """A value that most elements do not take."""
    return st.one_of(
        st.none(),
        st.sampled_from(["", " ", [], {}, [None], [[]], [{}], {"": ""}, {"x": None}]),
        _plain_scalars(),
        st.sampled_from([2**31, -(2**31) - 1, 10**30, -(10**30), 1.5, -0.0, 1e308, 0, -1]),
        st.sampled_from(BAD_DATES),
        st.text(alphabet=st.sampled_from(CONTROL + "ab "), min_size=1, max_size=6),
        st.sampled_from(["x" * HUGE, "é" * (HUGE // 2)]),
        st.integers(1, NESTING).map(_nested),
        st.lists(_plain_scalars(), min_size=1, max_size=3),
        st.dictionaries(st.text(max_size=6), _plain_scalars(), min_size=1, max_size=2),
    )


def _nested(levels: int) -> Any:
    value: Any = "deep"
    for level in range(levels):
        value = [value] if level % 2 else {"extension": value}
    return value


def _positions(node: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in ``node``, depth first."""
    if isinstance(node, dict):
        for key, child in node.items():
            found.append((node, key))
            _positions(child, found)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.append((node, index))
            _positions(child, found)
    return found


def _objects(node: Any) -> list[dict[str, Any]]:
    found = [node] if isinstance(node, dict) else []
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        found.extend(_objects(child))
    return found


Mutation = Callable[[st.DrawFn, dict[str, Any]], None]


def _replace_value(draw: st.DrawFn, resource: dict[str, Any]) -> None:
    positions = [(c, k) for c, k in _positions(resource, []) if k != "resourceType"]
    if positions:
        container, key = draw(st.sampled_from(positions))
        container[key] = draw(bad_values())


def _bad_text(draw: st.DrawFn, resource: dict[str, Any]) -> None:
    """A string value (the most common kind) made whitespace only, or given a control character."""
    positions = [(c, k) for c, k in _positions(resource, []) if isinstance(c[k], str) and k != "resourceType"]
    if positions:
        container, key = draw(st.sampled_from(positions))
        odd = draw(st.sampled_from(CONTROL + " \t\n\u00a0\u3000"))
        container[key] = draw(st.sampled_from([odd, odd * 3, f"{container[key]}{odd}", f"{odd}{container[key]}"]))


def _unknown_element(draw: st.DrawFn, resource: dict[str, Any]) -> None:
    holder = draw(st.sampled_from(_objects(resource)))
    name = draw(st.sampled_from(["unknownElement", "_unknown", "valueFoo", "fhir_comments", "Name", "_", "", "id "]))
    holder[name] = draw(st.one_of(bad_values(), st.just("x")))


def _wrong_reference(draw: st.DrawFn, resource: dict[str, Any]) -> None:
    holders = [o for o in _objects(resource) if isinstance(o.get("reference"), str)]
    holder = draw(st.sampled_from(holders)) if holders else resource
    target = draw(st.sampled_from(OTHER_TYPES))
    reference = draw(st.sampled_from([f"{target}/rt-{target.lower()}-1", f"{target}/unknown-1", "Patient/", "#x", "/"]))
    holder["reference"] = reference


def _choice_clash(draw: st.DrawFn, resource: dict[str, Any]) -> None:
    for holder in _objects(resource):
        for key in list(holder):
            suffix = next((t for t in CHOICE_TYPES if key.endswith(t) and len(key) > len(t)), None)
            if suffix is not None:
                other = draw(st.sampled_from([t for t in CHOICE_TYPES if t != suffix]))
                holder[key[: -len(suffix)] + other] = draw(st.sampled_from(["x", True, 1, {"text": "x"}]))
                return
    resource["deceasedBoolean" if resource["resourceType"] == "Patient" else "valueString"] = "x"


def _bad_identity(draw: st.DrawFn, resource: dict[str, Any]) -> None:
    key = draw(st.sampled_from(["id", "resourceType", "meta"]))
    resource[key] = draw(
        st.one_of(bad_values(), st.sampled_from(["a b", "a" * 65, "Patient", "Bundle", "a\x00", "ünïcode", "1/2"]))
    )


MUTATIONS: tuple[Mutation, ...] = (
    _replace_value,
    _replace_value,
    _replace_value,
    _bad_text,
    _unknown_element,
    _wrong_reference,
    _choice_clash,
    _bad_identity,
)


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A resource of ``valid`` broken by one to three mutations."""
    resource = copy.deepcopy(draw(valid))
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)):
        mutation(draw, resource)
    return resource
