"""Client-supplied FHIRPath (the where() criteria of a FHIRPath Patch path) is a safe subset, evaluated within a
bounded amount of work (issue 12, item 5): every hostile expression answers 400 (or 422 ``too-costly``) within the
request, and no expression at all makes the server answer 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhirpathpy.engine.invocations import invocation_registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_server.fhir.fhirpath_guard import ALLOWED_FUNCTIONS
from tests.fhir.interactions.conftest import MakePatient

REGEX_BOMB = "'aaaaaaaaaaaaaaaaaaaaaaaaa!'.matches('^(a+)+$')"

HOSTILE = [
    (REGEX_BOMB, "matches()"),
    ("family.replaceMatches('^(a+)+$', 'b') = 'b'", "replaceMatches()"),
    ("repeat(given).exists()", "repeat()"),
    ("descendants().exists()", "descendants()"),
    ("children().exists()", "children()"),
    ("select(given).exists()", "select()"),
    ("aggregate(1) = 1", "aggregate()"),
    ("family.replace('a', 'aaaaaaaaaa') = 'b'", "replace()"),
    ("trace('x').exists()", "trace()"),
    ("given.combine(given).exists()", "combine()"),
    ("(given | given).exists()", "union operator"),
    ("'x' in given", "membership"),
    ("given contains 'x'", "membership"),
    ("%resource.exists()", "environment variables"),
    ("(" * 40 + "true" + ")" * 40, "nest"),
    ("true and " * 130 + "true", "at most 1000 characters"),
    ("given" + ".a" * 300, "nested too deeply"),
]
"""(criteria, what the refusal names)."""

_OPERATOR_WORDS = {"and", "or", "xor", "implies", "div", "mod"}
REFUSED_FUNCTIONS = sorted(
    name
    for name in invocation_registry
    if name.isidentifier() and name not in ALLOWED_FUNCTIONS and name not in _OPERATOR_WORDS
)
"""Every function fhirpathpy knows outside the allowed subset."""


def _replace_family(client: TestClient, patient: dict[str, Any], criteria: str) -> Any:
    operation = {
        "name": "operation",
        "part": [
            {"name": "type", "valueCode": "replace"},
            {"name": "path", "valueString": f"Patient.name.where({criteria}).family"},
            {"name": "value", "valueString": "Changed"},
        ],
    }
    body = {"resourceType": "Parameters", "parameter": [operation]}
    return client.patch(f"/fhir/Patient/{patient['id']}", json=body)


def _refusal(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    assert issue["expression"] == ["Parameters.parameter[0]"]
    assert issue["code"] in ("not-supported", "too-costly")  # refused as such, not merely failing to evaluate
    return issue


@pytest.mark.parametrize(("criteria", "named"), HOSTILE)
def test_a_hostile_expression_is_refused_with_400_naming_what(
    client: TestClient, make_patient: MakePatient, criteria: str, named: str
) -> None:
    patient = make_patient()
    issue = _refusal(_replace_family(client, patient, criteria))
    assert named in issue["diagnostics"]
    assert client.get(f"/fhir/Patient/{patient['id']}").json()["meta"]["versionId"] == "1"


@pytest.mark.parametrize("function", REFUSED_FUNCTIONS)
def test_every_function_outside_the_allowed_subset_is_refused(
    client: TestClient, make_patient: MakePatient, function: str
) -> None:
    issue = _refusal(_replace_family(client, make_patient(), f"family.{function}().exists()"))
    assert f"the function {function}() may not be used" in issue["diagnostics"]


def test_allowed_criteria_still_select(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient(name=[{"family": "Doe", "given": ["Jane"]}, {"family": "Roe", "given": ["Q"]}])
    criteria = "given.where($this = 'Q').exists() and family.startsWith('R') and family.length() = 3"
    response = _replace_family(client, patient, criteria)
    assert response.status_code == 200, response.text
    assert [n["family"] for n in response.json()["name"]] == ["Doe", "Changed"]


def test_criteria_that_take_too_much_work_are_stopped_with_422(client: TestClient, make_patient: MakePatient) -> None:
    """Allowed functions only, but 100 names each tested by 25 clauses: about twice the work a patch may do."""
    patient = make_patient(name=[{"family": f"F{i}", "given": ["A", "B", "C"]} for i in range(100)])
    criteria = " and ".join(["given.where($this = 'Z').empty()"] * 25)
    response = _replace_family(client, patient, criteria)
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly" and issue["expression"] == ["Parameters.parameter[0]"]


_ATOMS = st.sampled_from(
    ["family", "given", "$this", "'a'", "1", "2.5", "true", "@2020-01-01", "{}", "use", "period.start", "%context"]
)
_FUNCTIONS = st.sampled_from(sorted(ALLOWED_FUNCTIONS | set(REFUSED_FUNCTIONS) | {"nosuch"}))
_OPERATORS = st.sampled_from([" = ", " != ", " and ", " or ", " + ", " - ", " * ", " / ", " | ", " in ", " < ", " ~ "])


def _expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        _ATOMS,
        lambda inner: st.one_of(
            st.tuples(inner, _OPERATORS, inner).map("".join),
            st.tuples(inner, _FUNCTIONS, st.lists(inner, max_size=2)).map(
                lambda t: f"{t[0]}.{t[1]}({', '.join(t[2])})"
            ),
            inner.map(lambda e: f"({e})"),
            inner.map(lambda e: f"{e}[0]"),
        ),
        max_leaves=12,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(criteria=st.one_of(_expressions(), st.text(max_size=60)))
def test_no_client_expression_makes_the_server_fail(
    client: TestClient, make_patient: MakePatient, criteria: str
) -> None:
    response = _replace_family(client, make_patient(), criteria)
    assert response.status_code < 500, (criteria, response.text)
    assert response.status_code in (200, 400, 422), (criteria, response.text)
