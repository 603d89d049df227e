"""STOW-RS to bare /studies by a clinic-bound user: every part's study is checked before Orthanc gets a byte."""

from __future__ import annotations

from typing import Any

import httpx
import pydicom
import pytest
from fastapi.testclient import TestClient
from pydicom.filebase import DicomBytesIO
from pydicom.uid import generate_uid

from tests.imaging.conftest import CT, CT_STUDY, NM, NM_STUDY, bearer, dicom_file
from tests.imaging.multipart import stow_body
from tests.imaging.orthanc_process import OrthancProcess

pytestmark = pytest.mark.slow


def clone(name: str, padding: int = 0) -> bytes:
    """A new instance of the file's study (a fresh SOP Instance UID); ``padding`` bytes of a private element are put
    before the StudyInstanceUID."""
    dataset = pydicom.dcmread(dicom_file(name))
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    if padding:
        dataset.add_new(0x00090010, "LO", "PADDING")
        dataset.add_new(0x00091001, "OB", b"\0" * padding)
    buffer = DicomBytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def stow(client: TestClient, token: str, parts: list[bytes], path: str = "/dicomweb/studies") -> Any:
    body, content_type = stow_body(parts)
    return client.post(path, content=body, headers={"Content-Type": content_type, **bearer(token)})


def instances_in_orthanc(orthanc: OrthancProcess, study: str) -> int:
    with httpx.Client(base_url=orthanc.url, auth=orthanc.auth) as rest:
        found = rest.post("/tools/find", json={"Level": "Instance", "Query": {"StudyInstanceUID": study}})
    return len(found.json())


def test_a_clinic_user_cannot_add_instances_to_another_clinics_study(
    proxy: TestClient, empty_orthanc: OrthancProcess
) -> None:
    assert stow(proxy, "b-user", [dicom_file(NM).read_bytes()]).status_code == 200
    for path in ("/dicomweb/studies", f"/dicomweb/studies/{NM_STUDY}"):
        refused = stow(proxy, "a-user", [clone(CT), clone(NM)], path)
        assert refused.status_code == 403, refused.text
        outcome = refused.json()
        assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "forbidden"
        assert NM_STUDY in outcome["issue"][0]["diagnostics"]
    assert instances_in_orthanc(empty_orthanc, NM_STUDY) == 1
    assert instances_in_orthanc(empty_orthanc, CT_STUDY) == 0  # nothing of the refused request was stored


def test_a_clinic_user_adds_to_new_studies_and_its_own(proxy: TestClient, empty_orthanc: OrthancProcess) -> None:
    assert stow(proxy, "a-user", [dicom_file(CT).read_bytes()]).status_code == 200
    added = stow(proxy, "a-user", [clone(CT), clone(CT)])
    assert added.status_code == 200, added.text
    assert len(added.json()["00081199"]["Value"]) == 2
    assert instances_in_orthanc(empty_orthanc, CT_STUDY) == 3


def test_a_part_whose_study_uid_lies_beyond_its_first_bytes_is_refused_to_a_clinic_user(
    proxy: TestClient, empty_orthanc: OrthancProcess
) -> None:
    padded = clone(CT, padding=100_000)
    refused = stow(proxy, "a-user", [padded])
    assert refused.status_code == 403
    assert "part 1" in refused.json()["issue"][0]["diagnostics"]
    assert instances_in_orthanc(empty_orthanc, CT_STUDY) == 0
    assert stow(proxy, "a-user", [padded], f"/dicomweb/studies/{CT_STUDY}").status_code == 200
