"""The real ``dicomweb-client`` package (as viewers and pipelines use it) against the proxy, with bearer tokens."""

from __future__ import annotations

import pydicom
import pytest
import requests
from dicomweb_client import DICOMwebClient

from tests.imaging.conftest import CT, CT_STUDY, MR, MR_STUDY, NM, US, LiveServer, dicom_file

pytestmark = pytest.mark.slow


def client_for(server: LiveServer, token: str) -> DICOMwebClient:
    return DICOMwebClient(url=f"{server.root}/dicomweb", headers={"Authorization": f"Bearer {token}"})


def uids(matches: list[dict[str, dict[str, list[str]]]]) -> set[str]:
    return {m["0020000D"]["Value"][0] for m in matches}


@pytest.fixture
def stored(live_server: LiveServer) -> LiveServer:
    datasets = [pydicom.dcmread(dicom_file(name)) for name in (CT, MR, US)]
    result = client_for(live_server, "a-user").store_instances(datasets)
    assert len(result.ReferencedSOPSequence) == 3
    assert not result.get("FailedSOPSequence")
    client_for(live_server, "b-user").store_instances([pydicom.dcmread(dicom_file(NM))])
    return live_server


def test_store_then_search_with_the_stores_urls_on_the_proxy(stored: LiveServer) -> None:
    client = client_for(stored, "a-user")
    matches = client.search_for_studies(search_filters={"PatientID": "1CT1"})
    assert uids(matches) == {CT_STUDY}
    assert matches[0]["00081190"]["Value"][0].startswith(f"{stored.root}/dicomweb/studies/")
    series = client.search_for_series(CT_STUDY)
    assert series[0]["00080060"]["Value"] == ["CT"]
    paged = client.search_for_studies(limit=1, get_remaining=True)
    assert uids(paged) >= {CT_STUDY, MR_STUDY}


def test_retrieve_study_metadata_frames_and_rendered(stored: LiveServer) -> None:
    client = client_for(stored, "a-user")
    [instance] = client.retrieve_study(CT_STUDY)
    assert instance.PatientID == "1CT1" and instance.pixel_array.shape == (128, 128)
    [metadata] = client.retrieve_study_metadata(CT_STUDY)
    series, sop = metadata["0020000E"]["Value"][0], metadata["00080018"]["Value"][0]
    [frame] = client.retrieve_instance_frames(CT_STUDY, series, sop, frame_numbers=[1])  # its default Accept
    assert len(frame) == 128 * 128 * 2
    rendered = client.retrieve_instance_rendered(CT_STUDY, series, sop, media_types=("image/png",))
    assert rendered.startswith(b"\x89PNG")
    bulk = client.retrieve_bulkdata(metadata["7FE00010"]["BulkDataURI"])
    assert len(bulk[0]) == 128 * 128 * 2


def test_compressed_frames_come_as_stored(stored: LiveServer) -> None:
    client = client_for(stored, "a-user")
    [match] = client.search_for_studies(search_filters={"PatientID": "204"})
    study = match["0020000D"]["Value"][0]
    [instance_match] = client.search_for_instances(study)
    series, sop = instance_match["0020000E"]["Value"][0], instance_match["00080018"]["Value"][0]
    frames = client.retrieve_instance_frames(study, series, sop, frame_numbers=[1, 2])
    assert len(frames) == 2 and all(f.startswith(b"\xff\xd8") for f in frames)  # JPEG, not decoded


def _status(refused: pytest.ExceptionInfo[requests.HTTPError]) -> int:
    """The HTTP status of the response a DICOMweb call was refused with."""
    response = refused.value.response
    assert response is not None
    return response.status_code


def test_a_patient_token_sees_only_its_patients_studies(stored: LiveServer) -> None:
    client = client_for(stored, "ct-patient")
    assert uids(client.search_for_studies()) == {CT_STUDY}
    assert uids(client.search_for_studies(search_filters={"PatientID": "4MR1"})) == {CT_STUDY}
    with pytest.raises(requests.HTTPError) as refused:
        client.retrieve_study(MR_STUDY)
    assert _status(refused) == 404
    with pytest.raises(requests.HTTPError) as forbidden:
        client.store_instances([pydicom.dcmread(dicom_file(CT))])
    assert _status(forbidden) == 403


def test_a_wrong_token_is_401(stored: LiveServer) -> None:
    with pytest.raises(requests.HTTPError) as refused:
        client_for(stored, "stolen").search_for_studies()
    assert _status(refused) == 401
