"""Search queries as a fuzzer writes them: parameter names of the type (its own, the common ones, chains, ``_has``,
result parameters, and nonsense), with or without modifiers, values of every kind with or without prefixes, and
nonsense: U+0000 and other control characters, any Unicode, very long values, dates that do not exist, numbers
beyond any range, broken tokens, references and composites."""

from __future__ import annotations

from hypothesis import strategies as st

from fhir_server.fhir.search.params import CONTROLS, MODIFIERS, PREFIXES
from fhir_server.fhir.search.registry import SearchParameter, parameters_for
from mappings.registry import MAPPINGS

LONG = 3_000
"""Characters of a very long value (the URL of the request stays within what servers take)."""
_ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_.:|$,\\ ", min_size=1, max_size=10)
_ODD = [
    "\x00",
    "a\x00b",
    "\x01",
    "\x7f",
    "\u0085",
    "\u2028",
    "\ufeff",
    "💉",
    "é",
    "ﬁ",
    "%00",
    "%",
    "'",
    '"',
    "--",
    ";",
    "*",
    "?",
    "&",
    "=",
    "\\",
    "\\,",
    "\\$",
    "|",
    "||",
    "|x|",
    "$",
    "$$",
    ",",
    ",,",
    "null",
    "true",
    "-",
    ".",
]
_DATES = [
    "2020",
    "2020-01",
    "2020-01-01",
    "2020-01-01T10:00:00Z",
    "2020-01-01T10:00:00+14:00",
    "2020-13-01",
    "2020-02-30",
    "0000",
    "9999-12-31T23:59:59Z",
    "99999",
    "2020-01-01T25:00",
    "2020-01-01T10:00",
    "2020-01-01T10:00:00.1234567890Z",
    "1-1-1",
    "T10:00",
    "2020-01-01T10:00:00-14:01",
    "now",
    "",
]
_NUMBERS = ["1", "-1", "0", "1e999", "-1e999", "1e-999", "NaN", "inf", "1.", ".5", "1e10", "99999999999999999999", ""]
_REFERENCES = [
    "Patient/rt-patient-1",
    "rt-patient-1",
    "Patient/",
    "/",
    "Patient/a/b",
    "http://x/fhir/Patient/1",
    "urn:uuid:1",
    "Patient/rt-patient-1/_history/1",
    "Unknown/1",
    "#x",
    "https://fhir.example.org/r4/Patient/rt-patient-1",
]


def _any_value() -> st.SearchStrategy[str]:
    """A value of any kind."""
    return st.one_of(
        _ANY_TEXT,
        _WORD,
        st.sampled_from(_ODD),
        st.sampled_from(_DATES),
        st.sampled_from(_NUMBERS),
        st.sampled_from(_REFERENCES),
        st.builds("{}|{}".format, _WORD, _WORD),
        st.builds("{}|{}|{}".format, st.sampled_from(_NUMBERS), _WORD, _WORD),
        st.builds("{}${}".format, _WORD, _WORD),
        st.sampled_from(["x" * LONG, "é" * (LONG // 2)]),
    )


def _texts() -> st.SearchStrategy[str]:
    """Text a string, token, uri or reference value may hold: anything, the odd characters most often."""
    odd = st.sampled_from(_ODD)
    return st.one_of(_ANY_TEXT, odd, st.builds(lambda a, b, c: a + b + c, _WORD, odd, _WORD), st.just("x" * LONG))


def _typed_value(param: SearchParameter) -> st.SearchStrategy[str]:
    """A value of the kind ``param`` takes, its text often odd."""
    prefix = st.sampled_from(["", "", *PREFIXES])
    if param.type == "date":
        return st.builds(lambda p, d: p + d, prefix, st.sampled_from(_DATES))
    if param.type == "number":
        return st.builds(lambda p, n: p + n, prefix, st.sampled_from(_NUMBERS))
    if param.type == "quantity":
        unit = st.one_of(st.just(""), st.builds("|{}|{}".format, _texts(), _texts()))
        return st.builds(lambda p, n, u: p + n + u, prefix, st.sampled_from(_NUMBERS), unit)
    if param.type == "token":
        return st.one_of(_texts(), st.builds("{}|{}".format, _texts(), _texts()))
    if param.type == "reference":
        return st.one_of(st.sampled_from(_REFERENCES), _texts().map(lambda t: f"Patient/{t}"), _texts())
    if param.components:
        return st.tuples(*(_typed_value(c) for c in param.components)).map("$".join)
    return _texts()


def values(param: SearchParameter | None = None) -> st.SearchStrategy[str]:
    """One value (of the kind ``param`` takes, mostly), or several comma-separated."""
    typed = _any_value() if param is None else st.one_of(_typed_value(param), _typed_value(param), _any_value())
    return st.one_of(typed, st.lists(typed, min_size=2, max_size=3).map(",".join))


def _modifier(param: SearchParameter) -> st.SearchStrategy[str]:
    """Mostly none or one ``param`` takes; now and then any."""
    own = sorted(MODIFIERS[param.type]) + [t for t in param.targets if t in MAPPINGS][:3]
    known = sorted({m for ms in MODIFIERS.values() for m in ms})
    return st.one_of(
        st.just(""),
        st.sampled_from(own).map(lambda m: f":{m}"),
        st.sampled_from(["", *(f":{m}" for m in known), ":Patient", ":", ":foo", "::"]),
    )


@st.composite
def pairs(draw: st.DrawFn, resource_type: str) -> tuple[str, str]:
    """One (name, value): mostly a parameter of ``resource_type`` with a modifier and a value of its kind; else a
    chain, ``_has``, a result parameter or nonsense, with a value of any kind."""
    own = parameters_for(resource_type)
    param = own[draw(st.sampled_from(sorted(own)))]
    kind = draw(st.integers(0, 9))
    if kind <= 5:
        modifier = draw(_modifier(param))
        return param.code + modifier, draw(st.just("true") if modifier == ":missing" else values(param))
    if kind == 6 and param.type == "reference":
        chained = draw(st.sampled_from(["name", "identifier", "_id", "birthdate", "x", "subject.name", "status"]))
        target = draw(st.sampled_from(["", *(f":{t}" for t in param.targets if t in MAPPINGS)]))
        return f"{param.code}{target}.{chained}", draw(values())
    if kind == 7:
        source = draw(st.sampled_from(["Observation", "Appointment", "Encounter", "Patient", "Nope"]))
        inner = draw(st.sampled_from(["code", "status", "_id", "date", "x", "_has:Observation:subject:code"]))
        reference = draw(st.sampled_from(["subject", "patient", "actor", "x"]))
        return f"_has:{source}:{reference}:{inner}", draw(values())
    if kind == 8:
        return draw(st.sampled_from(sorted(CONTROLS))), draw(st.one_of(values(), st.sampled_from(sorted(own))))
    return draw(st.one_of(_ANY_TEXT, st.sampled_from(_ODD))), draw(values())


@st.composite
def queries(draw: st.DrawFn, resource_type: str) -> list[tuple[str, str]]:
    """One to three (name, value) pairs."""
    return draw(st.lists(pairs(resource_type), min_size=1, max_size=3))
