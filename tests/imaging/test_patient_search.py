"""QIDO-RS with a patient's token: the search is narrowed upstream to the patient's own studies."""

from __future__ import annotations

from typing import Any

import pydicom
import pytest
from fastapi.testclient import TestClient
from pydicom.filebase import DicomBytesIO
from pydicom.uid import generate_uid

from fhir_server.imaging import dicomweb_proxy
from tests.imaging.conftest import CT, CT_STUDY, MR, MR_STUDY, bearer, dicom_bytes, dicom_file
from tests.imaging.multipart import stow_body

pytestmark = pytest.mark.slow


def second_ct_study() -> tuple[str, bytes]:
    """Another study of patient 1CT1 (new study, series and instance UIDs)."""
    dataset = pydicom.dcmread(dicom_file(CT))
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    buffer = DicomBytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return str(dataset.StudyInstanceUID), buffer.getvalue()


@pytest.fixture
def two_ct_studies(proxy: TestClient) -> tuple[TestClient, str]:
    """Patient 1CT1 has CT_STUDY and a second study; patient 4MR1 (same clinic) has MR_STUDY."""
    other, blob = second_ct_study()
    body, content_type = stow_body([dicom_bytes(CT), blob, dicom_bytes(MR)])
    stored = proxy.post("/dicomweb/studies", content=body, headers={"Content-Type": content_type, **bearer("a-user")})
    assert stored.status_code == 200, stored.text
    return proxy, other


def uids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["0020000D"]["Value"][0] for m in response.json()]


def test_a_patients_search_pages_over_its_own_studies(two_ct_studies: tuple[TestClient, str]) -> None:
    proxy, other = two_ct_studies
    patient = bearer("ct-patient")
    assert sorted(uids(proxy.get("/dicomweb/studies", headers=patient))) == sorted([CT_STUDY, other])
    pages = [uids(proxy.get("/dicomweb/studies", params={"limit": 1, "offset": n}, headers=patient)) for n in (0, 1)]
    assert sorted([*pages[0], *pages[1]]) == sorted([CT_STUDY, other])
    assert sorted(uids(proxy.get("/dicomweb/series", headers=patient))) == sorted([CT_STUDY, other])


def test_a_patients_study_filter_is_kept_within_its_studies(two_ct_studies: tuple[TestClient, str]) -> None:
    proxy, other = two_ct_studies
    patient = bearer("ct-patient")
    assert uids(proxy.get("/dicomweb/studies", params={"StudyInstanceUID": CT_STUDY}, headers=patient)) == [CT_STUDY]
    assert uids(proxy.get("/dicomweb/studies", params={"StudyInstanceUID": MR_STUDY}, headers=patient)) == []
    both = proxy.get("/dicomweb/studies", params={"0020000D": f"{MR_STUDY},{other}"}, headers=patient)
    assert uids(both) == [other]
    wildcard = proxy.get("/dicomweb/studies", params={"StudyInstanceUID": "1.3.6.1.4.1.5962.*"}, headers=patient)
    assert wildcard.status_code == 400  # UIDs match whole or by list only (PS3.4 C.2.2.2.2): Orthanc refuses it
    assert sorted(uids(proxy.get("/dicomweb/studies", headers=bearer("a-user")))) == sorted([CT_STUDY, MR_STUDY, other])


def test_a_clinic_search_cut_by_the_servers_maximum_says_so(
    two_ct_studies: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, _ = two_ct_studies
    monkeypatch.setattr(dicomweb_proxy, "FILTERED_LIMIT", 2)
    cut = proxy.get("/dicomweb/studies", headers=bearer("a-user"))
    assert len(uids(cut)) == 2 and "exceeded the maximum" in cut.headers["warning"]
    whole = proxy.get("/dicomweb/studies", params={"limit": 1}, headers=bearer("a-user"))
    assert len(uids(whole)) == 1 and "warning" not in whole.headers
