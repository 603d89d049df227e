"""DICOMweb through the proxy to a real Orthanc: store, search, retrieve, authorization, errors."""

from __future__ import annotations

from typing import Any

import pydicom
import pytest
from fastapi.testclient import TestClient
from pydicom.filebase import DicomBytesIO

from tests.imaging.conftest import CT, CT_STUDY, MR, MR_STUDY, NM, NM_STUDY, US, Clinics, bearer, dicom_bytes
from tests.imaging.multipart import split_parts, stow_body

pytestmark = pytest.mark.slow
DICOM_JSON = "application/dicom+json"


def store(client: TestClient, token: str, *files: str, parts: list[bytes] | None = None) -> Any:
    body, content_type = stow_body(parts if parts is not None else [dicom_bytes(f) for f in files])
    return client.post("/dicomweb/studies", content=body, headers={"Content-Type": content_type, **bearer(token)})


def study_uids(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {m["0020000D"]["Value"][0] for m in response.json()}


def issue(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    first: dict[str, Any] = body["issue"][0]
    return first


@pytest.fixture
def stored(proxy: TestClient) -> TestClient:
    """CT and MR stored by clinic A's user, NM by clinic B's."""
    assert store(proxy, "a-user", CT, MR).status_code == 200
    assert store(proxy, "b-user", NM).status_code == 200
    return proxy


def test_stow_answers_per_instance_with_urls_on_the_proxy(proxy: TestClient) -> None:
    response = store(proxy, "a-user", CT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(DICOM_JSON)
    [item] = response.json()["00081199"]["Value"]
    assert item["00081190"]["Value"][0].startswith(f"http://testserver/dicomweb/studies/{CT_STUDY}/series/")
    assert "dicom-web" not in response.text


def test_the_imaging_study_exists_when_the_stow_answer_returns(proxy: TestClient, clinics: Clinics) -> None:
    assert store(proxy, "a-user", CT).status_code == 200
    bundle = proxy.get("/fhir/ImagingStudy", headers=bearer("a-user")).json()
    [study] = [e["resource"] for e in bundle["entry"]]
    assert study["identifier"] == [{"system": "urn:dicom:uid", "value": f"urn:oid:{CT_STUDY}"}]
    assert study["status"] == "available"
    assert study["modality"] == [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}]
    assert study["subject"] == {"reference": f"Patient/{clinics.patients['1CT1']}"}
    assert study["started"] == "2004-01-19T12:27:30.000Z"  # 07:27:30 at -0500 (TimezoneOffsetFromUTC)
    assert study["numberOfSeries"] == study["numberOfInstances"] == 1
    [series] = study["series"]
    assert series["modality"]["code"] == "CT" and series["number"] == 1
    assert series["instance"][0]["sopClass"] == {
        "system": "urn:ietf:rfc:3986",
        "code": "urn:oid:1.2.840.10008.5.1.4.1.1.2",
    }
    endpoint_id = study["endpoint"][0]["reference"].split("/")[1]
    endpoint = proxy.get(f"/fhir/Endpoint/{endpoint_id}", headers=bearer("a-user")).json()
    assert endpoint["status"] == "active"
    assert endpoint["connectionType"]["code"] == "dicom-wado-rs"
    assert endpoint["address"] == "http://testserver/dicomweb"
    assert endpoint["payloadType"] == [{"text": "DICOM WADO-RS"}]


def test_an_unknown_patient_id_creates_the_patient_from_the_dicom_demographics(proxy: TestClient) -> None:
    assert store(proxy, "a-user", "rtdose.dcm").status_code == 200
    bundle = proxy.get("/fhir/Patient", params={"family": "Lastname"}, headers=bearer("a-user")).json()
    [patient] = [e["resource"] for e in bundle["entry"]]
    assert patient["name"][0]["family"] == "Lastname" and patient["name"][0]["given"] == ["Firstname"]
    assert patient["gender"] == "other"
    assert any(i["value"] == "id11111" for i in patient["identifier"])


def test_a_partial_stow_failure_is_reported_per_instance(proxy: TestClient) -> None:
    response = store(proxy, "a-user", parts=[dicom_bytes(CT), b"this is no DICOM file"])
    assert response.status_code == 202
    body = response.json()
    assert len(body["00081199"]["Value"]) == 1
    assert body["00081198"]["Value"] == [{"00081197": {"vr": "US", "Value": [0xC000]}}]


def test_a_stow_of_nothing_storable_keeps_orthancs_client_error(proxy: TestClient) -> None:
    response = store(proxy, "a-user", parts=[b"garbage"])
    assert response.status_code == 400
    assert issue(response)["code"] == "invalid"


def test_search_finds_studies_with_retrieve_urls_on_the_proxy(stored: TestClient) -> None:
    response = stored.get("/dicomweb/studies", params={"PatientID": "1CT1"}, headers=bearer("unbound"))
    assert study_uids(response) == {CT_STUDY}
    assert response.json()[0]["00081190"]["Value"] == [f"http://testserver/dicomweb/studies/{CT_STUDY}"]


def test_search_matches_wildcards_and_names_as_dicom_means_them(stored: TestClient) -> None:
    headers = bearer("unbound")
    assert study_uids(
        stored.get("/dicomweb/studies", params={"PatientName": "CompressedSamples^CT1"}, headers=headers)
    ) == {CT_STUDY}
    assert study_uids(stored.get("/dicomweb/studies", params={"PatientName": "Compressed*"}, headers=headers)) == {
        CT_STUDY,
        MR_STUDY,
        NM_STUDY,
    }
    assert study_uids(stored.get("/dicomweb/studies", params={"PatientID": "1CT1,8NM1"}, headers=headers)) == {
        CT_STUDY,
        NM_STUDY,
    }
    assert study_uids(stored.get("/dicomweb/studies", params={"StudyDate": "20040801-20041231"}, headers=headers)) == {
        MR_STUDY,
        NM_STUDY,
    }


def test_search_levels_series_and_instances(stored: TestClient) -> None:
    headers = bearer("a-user")
    series = stored.get(f"/dicomweb/studies/{CT_STUDY}/series", headers=headers)
    assert series.status_code == 200 and series.json()[0]["00080060"]["Value"] == ["CT"]
    instances = stored.get(f"/dicomweb/studies/{CT_STUDY}/instances", headers=headers)
    assert instances.json()[0]["00080016"]["Value"] == ["1.2.840.10008.5.1.4.1.1.2"]


def test_a_patient_token_sees_only_its_patients_studies(stored: TestClient) -> None:
    headers = bearer("ct-patient")
    assert study_uids(stored.get("/dicomweb/studies", headers=headers)) == {CT_STUDY}
    assert study_uids(stored.get("/dicomweb/studies", params={"PatientID": "4MR1"}, headers=headers)) == {CT_STUDY}
    assert study_uids(stored.get("/dicomweb/studies", params={"PatientID": "*"}, headers=headers)) == {CT_STUDY}
    other = stored.get(f"/dicomweb/studies/{MR_STUDY}/metadata", headers=headers)
    assert other.status_code == 404 and issue(other)["code"] == "not-found"
    assert stored.get(f"/dicomweb/studies/{MR_STUDY}/series", headers=headers).status_code == 404
    assert stored.get(f"/dicomweb/studies/{CT_STUDY}/metadata", headers=headers).status_code == 200


def test_a_clinic_user_sees_only_its_clinics_studies(stored: TestClient) -> None:
    assert study_uids(stored.get("/dicomweb/studies", headers=bearer("a-user"))) == {CT_STUDY, MR_STUDY}
    assert study_uids(stored.get("/dicomweb/studies", headers=bearer("b-user"))) == {NM_STUDY}
    assert stored.get(f"/dicomweb/studies/{NM_STUDY}", headers=bearer("a-user")).status_code == 404


def test_stow_with_a_patient_token_is_refused(proxy: TestClient) -> None:
    response = store(proxy, "ct-patient", CT)
    assert response.status_code == 403 and issue(response)["code"] == "forbidden"
    assert proxy.get("/dicomweb/studies", headers=bearer("unbound")).json() == []


def test_no_token_is_401_and_a_token_without_imaging_scopes_403(stored: TestClient) -> None:
    missing = stored.get("/dicomweb/studies")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert issue(stored.get("/dicomweb/studies", headers=bearer("no-imaging")))["code"] == "forbidden"
    assert store(stored, "a-reader", CT).status_code == 403
    assert stored.get(f"/dicomweb/studies/{CT_STUDY}/metadata", headers=bearer("a-reader")).status_code == 200


def test_wado_retrieves_instances_as_stored(proxy: TestClient) -> None:
    assert store(proxy, "a-user", US).status_code == 200
    headers = bearer("a-user")
    study = next(m for m in proxy.get("/dicomweb/studies", headers=headers).json())["0020000D"]["Value"][0]
    response = proxy.get(f"/dicomweb/studies/{study}", headers=headers)
    assert response.status_code == 200
    [(_, content)] = split_parts(response.content, response.headers["content-type"])
    dataset = pydicom.dcmread(DicomBytesIO(content))
    assert dataset.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"  # JPEG, not transcoded
    assert len(content) < 2 * len(dicom_bytes(US))


def test_metadata_bulk_data_frames_and_rendered_images(proxy: TestClient) -> None:
    assert store(proxy, "a-user", CT).status_code == 200
    headers = bearer("a-user")
    [metadata] = proxy.get(f"/dicomweb/studies/{CT_STUDY}/metadata", headers=headers).json()
    bulk = metadata["7FE00010"]["BulkDataURI"]
    assert bulk.startswith(f"http://testserver/dicomweb/studies/{CT_STUDY}/series/")
    series, instance = metadata["0020000E"]["Value"][0], metadata["00080018"]["Value"][0]
    assert proxy.get(bulk.removeprefix("http://testserver"), headers=headers).status_code == 200
    base = f"/dicomweb/studies/{CT_STUDY}/series/{series}/instances/{instance}"
    frames = proxy.get(f"{base}/frames/1", headers=headers)
    assert frames.status_code == 200
    [(_, pixels)] = split_parts(frames.content, frames.headers["content-type"])
    assert len(pixels) == 128 * 128 * 2
    rendered = proxy.get(f"{base}/rendered", headers={**headers, "Accept": "image/png"})
    assert rendered.status_code == 200 and rendered.content.startswith(b"\x89PNG")
    viewport = proxy.get(f"{base}/rendered", params={"viewport": "64,64"}, headers=headers)
    assert viewport.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "expression"),
    [
        ("GET", "/dicomweb/studies/not-a-uid", {}, 400, "study"),
        ("GET", "/dicomweb/studies", {"params": {"Patient ID": "x"}}, 400, "Patient ID"),
        ("GET", "/dicomweb/studies", {"params": {"limit": "many"}}, 400, "limit"),
        (
            "POST",
            "/dicomweb/studies",
            {"content": b"{}", "headers": {"Content-Type": "application/json"}},
            415,
            "Content-Type",
        ),
        ("POST", f"/dicomweb/studies/{CT_STUDY}/series/1.2", {}, 405, None),
        ("GET", "/dicomweb/studies", {"headers": {"Accept": "application/dicom+xml"}}, 406, None),
    ],
)
def test_client_mistakes_are_4xx_operation_outcomes(
    proxy: TestClient, method: str, path: str, kwargs: dict[str, Any], status: int, expression: str | None
) -> None:
    options = dict(kwargs)
    headers = {**bearer("a-user"), **options.pop("headers", {})}
    response = proxy.request(method, path, headers=headers, **options)
    assert response.status_code == status, response.text
    if expression is not None:
        assert issue(response)["expression"] == [expression]


def test_orthancs_own_refusals_keep_their_status(stored: TestClient) -> None:
    headers = bearer("unbound")
    missing = stored.get("/dicomweb/studies/1.2.3/metadata", headers=headers)
    assert missing.status_code == 404 and "inexistent" in issue(missing)["diagnostics"]
    [match] = stored.get(f"/dicomweb/studies/{CT_STUDY}/instances", headers=headers).json()
    series, instance = match["0020000E"]["Value"][0], match["00080018"]["Value"][0]
    frame = stored.get(f"/dicomweb/studies/{CT_STUDY}/series/{series}/instances/{instance}/frames/9", headers=headers)
    assert frame.status_code == 400 and issue(frame)["code"] == "invalid"


def test_a_stored_study_no_clinic_claims_is_kept_in_orthanc_with_a_warning(proxy: TestClient) -> None:
    response = store(proxy, "unbound", US)  # no clinic on the token, PatientID 204 known to none of two clinics
    assert response.status_code == 200
    assert response.headers["warning"].startswith('299 - "study ')
    assert "FHIR_SERVER_IMAGING_ORGANIZATION" in response.headers["warning"]
    assert proxy.get("/fhir/ImagingStudy", headers=bearer("unbound")).json()["total"] == 0
