"""A real FHIR client library (fhirpy) against the running server: the interactions a client app uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

from tests.servers import serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fhir(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncFHIRClient]:
    tmp_path = tmp_path_factory.mktemp("server")
    env = {
        "FHIR_SERVER_DATABASE_URL": module_database_url,
        "FHIR_SERVER_LOG_LEVEL": "warning",
        "FHIR_SERVER_AUTH": "disabled",
    }
    with serving(["--demo"], tmp_path, env) as root:
        yield SyncFHIRClient(f"{root}/fhir")


def test_create_read_update_delete(fhir: SyncFHIRClient) -> None:
    patient = fhir.resource("Patient", name=[{"family": "Client", "given": ["Fhirpy"]}], gender="other")
    patient.save()
    assert patient.id and patient["meta"]["versionId"] == "1"
    fetched = fhir.reference("Patient", patient.id).to_resource()
    assert fetched["name"][0]["family"] == "Client"
    fetched["birthDate"] = "1999-09-09"
    fetched.save()
    assert fhir.reference("Patient", patient.id).to_resource()["meta"]["versionId"] == "2"
    fetched.delete()  # type: ignore[no-untyped-call]
    with pytest.raises((ResourceNotFound, OperationOutcome)):
        fhir.reference("Patient", patient.id).to_resource()


def test_search_with_include_and_paging(fhir: SyncFHIRClient) -> None:
    appointments = fhir.resources("Appointment").search(status="booked").include("Appointment", "patient").limit(5)
    page = appointments.fetch_raw()
    modes = {entry["search"]["mode"] for entry in page["entry"]}
    assert modes == {"match", "include"}
    everyone = fhir.resources("Patient").limit(7).fetch_all()  # follows the next links to the end
    assert len(everyone) == 50
    assert len({p.id for p in everyone}) == 50


def test_search_by_name_and_identifier(fhir: SyncFHIRClient) -> None:
    first = fhir.resources("Patient").sort("family").first()
    assert first is not None
    mrn = next(i["value"] for i in first["identifier"] if i["type"]["coding"][0]["code"] == "MR")
    found = fhir.resources("Patient").search(identifier=mrn).fetch()
    assert [p.id for p in found] == [first.id]
    family = first["name"][0]["family"]
    namesakes = fhir.resources("Patient").search(family=family[:3]).fetch_all()
    assert first.id in {p.id for p in namesakes}
    assert all(p["name"][0]["family"].startswith(family[:3]) for p in namesakes)


def test_server_errors_reach_the_client_as_operation_outcomes(fhir: SyncFHIRClient) -> None:
    with pytest.raises(OperationOutcome) as caught:
        fhir.resource("Appointment", status="confirmed").save()
    assert "Appointment" in str(caught.value)
