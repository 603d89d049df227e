"""fhirpy (beda-software/fhir-py) and fhirclient (smart-on-fhir/client-py) against a running server with a bearer
token (tests/clients/conftest.py): read, search with paging and count, create, update, patch and transaction, each
through the client's own API, as its users call it."""

from __future__ import annotations

from typing import Any

import pytest
from fhirclient.auth import FHIROAuth2Auth  # type: ignore[import-untyped]
from fhirclient.models.bundle import Bundle  # type: ignore[import-untyped]
from fhirclient.models.fhirsearch import FHIRSearch  # type: ignore[import-untyped]
from fhirclient.models.patient import Patient  # type: ignore[import-untyped]
from fhirclient.server import FHIRServer  # type: ignore[import-untyped]
from fhirpy import SyncFHIRClient

from tests.clients.conftest import Server

pytestmark = [pytest.mark.slow, pytest.mark.auth_enabled]
PAGED = 5  # patients made for a paged search, read 2 a page


def _transaction(family: str) -> dict[str, Any]:
    """A transaction creating a patient and an Observation about it (a reference to the patient's fullUrl)."""
    patient = {"resourceType": "Patient", "name": [{"family": family}]}
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "body weight"},
        "subject": {"reference": "urn:uuid:7d2bc0c1-55e5-4c5a-9f3b-2a9a1ad0c001"},
        "valueQuantity": {"value": 70, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:7d2bc0c1-55e5-4c5a-9f3b-2a9a1ad0c001",
                "resource": patient,
                "request": {"method": "POST", "url": "Patient"},
            },
            {"resource": observation, "request": {"method": "POST", "url": "Observation"}},
        ],
    }


# --- fhirpy -------------------------------------------------------------------------------------------------------


@pytest.fixture
def fhirpy(server: Server) -> SyncFHIRClient:
    return SyncFHIRClient(server.base, authorization=f"Bearer {server.token}")


def test_fhirpy_creates_and_reads(fhirpy: SyncFHIRClient) -> None:
    patient = fhirpy.resource("Patient", name=[{"family": "Fhirpy-read"}], gender="female")
    patient.save()
    assert patient.id and patient["meta"]["versionId"] == "1"
    read = fhirpy.reference("Patient", patient.id).to_resource()
    assert read["gender"] == "female" and read["name"][0]["family"] == "Fhirpy-read"


def test_fhirpy_searches_page_by_page_and_counts(fhirpy: SyncFHIRClient) -> None:
    made = {
        fhirpy.resource("Patient", name=[{"family": "Fhirpy-paged", "given": [f"P{i}"]}]).save().id
        for i in range(PAGED)
    }
    search = fhirpy.resources("Patient").search(family="Fhirpy-paged").limit(2)
    assert len(search.fetch()) == 2  # one page
    assert {patient.id for patient in search} == made  # iterating follows the next links
    assert search.count() == PAGED  # _count=0&_totalMethod=count


def test_fhirpy_updates(fhirpy: SyncFHIRClient) -> None:
    patient = fhirpy.resource("Patient", name=[{"family": "Fhirpy-update"}]).save()
    patient["birthDate"] = "1980-05-06"
    patient.save()
    assert patient["meta"]["versionId"] == "2"
    assert fhirpy.get("Patient", patient.id)["birthDate"] == "1980-05-06"


def test_fhirpy_patches(fhirpy: SyncFHIRClient) -> None:
    patient = fhirpy.resource("Patient", name=[{"family": "Fhirpy-patch"}], gender="male").save()
    patient.patch(active=True)  # the changed elements as application/json: a merge patch
    assert patient["active"] is True and patient["meta"]["versionId"] == "2"
    patched = fhirpy.patch("Patient", patient.id, gender=None, birthDate="1970-01-01")
    assert "gender" not in patched and patched["birthDate"] == "1970-01-01"
    assert patched["name"] == [{"family": "Fhirpy-patch"}]
    assert fhirpy.get("Patient", patient.id)["meta"]["versionId"] == "3"


def test_fhirpy_posts_a_transaction(fhirpy: SyncFHIRClient) -> None:
    response = fhirpy.execute("", method="post", data=_transaction("Fhirpy-transaction"))
    assert response["type"] == "transaction-response"
    assert [entry["response"]["status"][:3] for entry in response["entry"]] == ["201", "201"]
    observation = fhirpy.resources("Observation").search(subject__Patient__family="Fhirpy-transaction").first()
    assert observation is not None and observation["valueQuantity"]["value"] == 70


# --- fhirclient (client-py) ---------------------------------------------------------------------------------------


@pytest.fixture
def smart(server: Server) -> Any:
    """A fhirclient server with the bearer token (what a SMART launch leaves in ``FHIRClient.server``)."""
    fhir = FHIRServer(None, base_uri=server.base)
    fhir.auth = FHIROAuth2Auth()
    fhir.auth.access_token = server.token
    return fhir


def _created(smart: Any, family: str, **elements: Any) -> Any:
    answer = Patient({"name": [{"family": family}], **elements}).create(smart)
    return Patient(answer)


def test_fhirclient_creates_and_reads(smart: Any) -> None:
    created = _created(smart, "Client-py-read", gender="female")
    read = Patient.read(created.id, smart)
    assert read.gender == "female" and read.name[0].family == "Client-py-read"


def test_fhirclient_searches_page_by_page(smart: Any) -> None:
    made = {_created(smart, "Client-py-paged").id for _ in range(PAGED)}
    search = FHIRSearch(Patient, {"family": "Client-py-paged", "_count": "2"})
    pages = list(search.perform_iter(smart))
    assert [len(page.entry or []) for page in pages] == [2, 2, 1]
    assert {entry.resource.id for page in pages for entry in page.entry} == made
    counted = FHIRSearch(Patient, {"family": "Client-py-paged", "_summary": "count"})
    assert next(counted.perform_iter(smart)).total == PAGED


def test_fhirclient_updates(smart: Any) -> None:
    patient = _created(smart, "Client-py-update")
    patient.birthDate = None
    patient.active = False
    updated = Patient(patient.update(smart))
    assert updated.active is False and updated.meta.versionId == "2"


def test_fhirclient_posts_a_transaction(smart: Any) -> None:
    answer = Bundle(_transaction("Client-py-transaction")).create(smart)
    assert answer["type"] == "transaction-response"
    assert [entry["response"]["status"][:3] for entry in answer["entry"]] == ["201", "201"]
