"""Date criteria planned for the index (fhir_server.fhir.search.sql): repeated criteria on a single-valued date
parameter are tested on its one index row, and ``ge``/``gt`` bound the row's low end by the widest range a value
can cover (a year). Both are rewrites that must not change what a search finds
(http://hl7.org/fhir/R4/search.html#date): values at year, month and day precision, at the edges of the bounds."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of
from tests.fhir.search.search_support import create, ids, search

BIRTHS = {"year": "1980", "month": "1980-12", "day": "1980-06-15", "leap": "2024", "next": "1981-01-01"}


@pytest.fixture(scope="module")
def born(module_client: TestClient) -> dict[str, str]:
    """A patient per birth date of BIRTHS (family "Daterow"), by name -> id."""
    org = clinic_of(module_client)
    found = {}
    for name, birth in BIRTHS.items():
        body = {
            "resourceType": "Patient",
            "name": [{"family": "Daterow", "given": [name]}],
            "birthDate": birth,
            "managingOrganization": {"reference": f"Organization/{org['id']}"},
        }
        found[name] = create(module_client, body)["id"]
    return found


def _found(client: TestClient, born: dict[str, str], *criteria: str) -> set[str]:
    params = [("family", "Daterow"), *(("birthdate", c) for c in criteria), ("_count", "100")]
    by_id = {patient_id: name for name, patient_id in born.items()}
    return {by_id[i] for i in ids(search(client, "Patient", params))}


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (("ge1980-01-01", "lt1981-01-01"), {"year", "month", "day"}),
        (("ge1980-06-15", "lt1980-06-16"), {"year", "day"}),
        (("ge1980-07", "le1980-12-31"), {"year", "month"}),
        (("gt1980-06-15", "lt1981"), {"year", "month"}),
        (("ge1981", "lt1980"), set()),
        (("ge1980-12-30", "lt1982"), {"year", "month", "next"}),
        (("gt2024-12-30",), {"leap"}),
        (("gt2024-12-31T23:59:58Z",), {"leap"}),
        (("ge2024-12-30", "le2025"), {"leap"}),
        (("eb1980-12-01", "ge1900"), {"day"}),
        (("sa1980-06-15", "eb1981-01-01"), {"month"}),
        (("ge1980-06-15,ge2024", "lt1981,lt1980-06-16"), {"year", "month", "day"}),
    ],
)
def test_repeated_date_criteria_find_what_each_finds_alone(
    module_client: TestClient, born: dict[str, str], criteria: tuple[str, ...], expected: set[str]
) -> None:
    assert _found(module_client, born, *criteria) == expected
    each = [_found(module_client, born, c) for c in criteria]
    assert set.intersection(*each) == expected
