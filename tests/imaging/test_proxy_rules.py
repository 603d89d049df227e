"""The proxy's rules that need no Orthanc: paths, query strings, Accept, URL rewriting, STOW accounting, dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhir_server.errors import FhirError
from fhir_server.imaging import media, stow
from fhir_server.imaging.dicomweb_paths import parse
from fhir_server.imaging.patients import person_name
from fhir_server.imaging.qido_query import (
    capped,
    forced_patient_id,
    retrieve_query,
    upstream_query,
    within_studies,
)
from fhir_server.imaging.rewrite import PrefixRewriter
from fhir_server.imaging.study_values import dicom_instant
from tests.imaging.conftest import CT, dicom_bytes
from tests.imaging.multipart import stow_body


def test_paths_name_the_action_and_the_uids() -> None:
    frames = parse("studies/1.2/series/3.4/instances/5.6/frames/1,2", "GET")
    assert (frames.kind, frames.study, frames.series, frames.instance, frames.view) == (
        "retrieve",
        "1.2",
        "3.4",
        "5.6",
        "frames",
    )
    assert parse("studies", "GET").kind == "search"
    assert parse("studies/1.2/series", "GET").kind == "search"
    assert parse("studies/1.2/metadata", "GET").view == "metadata"
    assert parse("studies/1.2/series/3/instances/4/bulk/7fe00010", "GET").view == "bulk"
    assert parse("studies", "POST").kind == parse("studies/1.2", "POST").kind == "store"


@pytest.mark.parametrize(
    ("path", "status", "expression"),
    [
        ("studies/1.2.x", 400, "study"),
        ("studies/1.2/series/../../x", 400, "series"),
        ("patients", 400, "path"),
        ("studies/1/series/2/instances/3/frames/0", 400, "frames"),
    ],
)
def test_bad_paths_answer_400_naming_the_part(path: str, status: int, expression: str) -> None:
    with pytest.raises(FhirError) as raised:
        parse(path, "GET")
    assert raised.value.status == status
    assert raised.value.issues[0].expression == (expression,)


def test_post_is_only_for_stow() -> None:
    with pytest.raises(FhirError) as raised:
        parse("studies/1.2/series/3.4", "POST")
    assert raised.value.status == 405


def test_query_sends_matching_characters_raw_and_spaces_as_one_character_wildcards() -> None:
    query = upstream_query([("PatientName", "Doe^J* Ann"), ("StudyDate", "20040101-20041231"), ("limit", "5")])
    assert query == "PatientName=Doe^J*?Ann&StudyDate=20040101-20041231&limit=5"


def test_a_patient_scope_replaces_every_patient_id_filter() -> None:
    query = upstream_query([("PatientID", "*"), ("00100020", "other"), ("ModalitiesInStudy", "CT")], "MRN-1")
    assert query == "ModalitiesInStudy=CT&PatientID=MRN-1"


@pytest.mark.parametrize(
    ("key", "value"),
    [("PatientID", "a&b"), ("PatientID", "50%"), ("Patient ID", "x"), ("limit", "-1"), ("includefield", "a b")],
)
def test_query_values_that_cannot_be_sent_answer_400(key: str, value: str) -> None:
    with pytest.raises(FhirError) as raised:
        upstream_query([(key, value)])
    assert raised.value.status == 400
    assert raised.value.issues[0].expression == (key,)


def test_an_mrn_with_wildcards_is_never_a_patient_filter() -> None:
    assert forced_patient_id("CLI-2024-00001") == "CLI-2024-00001"
    assert forced_patient_id("A*") is None
    assert forced_patient_id("A,B") is None


def test_retrieve_query_takes_rendering_parameters_only() -> None:
    assert retrieve_query([("viewport", "64,64"), ("quality", "80")]) == "viewport=64,64&quality=80"
    with pytest.raises(FhirError):
        retrieve_query([("PatientID", "x")])


def test_retrieves_ask_for_the_stored_transfer_syntax_unless_the_client_names_one() -> None:
    assert media.retrieve_accept(None, "") == 'multipart/related; type="application/dicom"; transfer-syntax=*'
    named = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
    assert media.retrieve_accept(named, "") == named
    assert media.retrieve_accept('multipart/related; type="*/*"', "frames") == (
        'multipart/related; type="application/octet-stream"; transfer-syntax=*'
    )
    assert media.retrieve_accept("image/png", "rendered") == "image/png"


def test_rewriter_replaces_urls_split_across_chunks() -> None:
    rewriter = PrefixRewriter(b"http://h/dicom-web/", b"https://pub/dicomweb/")
    text = b'{"a":"http://h/dicom-web/studies/1","b":"http://h/dicom-web/studies/2"}'
    out = b"".join(rewriter.feed(text[i : i + 5]) for i in range(0, len(text), 5)) + rewriter.flush()
    assert out == text.replace(b"http://h/dicom-web/", b"https://pub/dicomweb/")


def test_stow_accounting_reports_every_part_orthanc_kept_quiet_about() -> None:
    body, _ = stow_body([dicom_bytes(CT), b"not dicom"], "bnd")
    sniffer = stow.PartSniffer(b"bnd")
    for i in range(0, len(body), 1000):
        sniffer.feed(body[i : i + 1000])
    parts = sniffer.parts()
    assert len(parts) == 2 and parts[0].sop_instance and parts[1].sop_instance is None
    stored = {"00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [parts[0].sop_instance]}}]}}
    answer, status = stow.account(stored, parts, 400)
    assert status == 202
    assert answer["00081198"]["Value"] == [{"00081197": {"vr": "US", "Value": [stow.CANNOT_UNDERSTAND]}}]
    assert stow.account({}, parts[1:], 400)[1] == 400


def test_study_date_and_time_become_an_instant_in_the_studys_zone_else_the_clinics() -> None:
    assert dicom_instant("20040119", "072730", "-0500", "UTC") == datetime(2004, 1, 19, 12, 27, 30, tzinfo=UTC)
    assert dicom_instant("20040119", "0727", None, "Europe/Berlin") == datetime(2004, 1, 19, 6, 27, tzinfo=UTC)
    assert dicom_instant("20040119", "", None, "UTC") is None
    assert dicom_instant("2004", "0727", None, "UTC") is None


def test_dicom_person_names_give_family_and_given() -> None:
    assert person_name("CompressedSamples^CT1") == ("CompressedSamples", "CT1")
    assert person_name("") == ("Unknown", "Unknown")


def test_a_patients_study_filter_becomes_the_list_of_its_own_studies_named() -> None:
    allowed = ["1.2", "1.3"]
    assert within_studies([("StudyInstanceUID", "1.3,9.9"), ("limit", "5")], allowed) == ([("limit", "5")], ["1.3"])
    assert within_studies([("PatientName", "A*")], allowed) == ([("PatientName", "A*")], ["1.2", "1.3"])
    assert within_studies([("0020000D", "")], allowed) == ([], ["1.2", "1.3"])
    assert within_studies([("StudyInstanceUID", "9.9")], allowed) == ([], [])
    assert within_studies([("studyinstanceuid", "1.*")], allowed) is None


def test_a_search_read_whole_asks_for_at_most_the_cap_and_says_when_the_cap_bites() -> None:
    assert capped([("PatientID", "1")], 50) == ([("PatientID", "1"), ("limit", "50")], True)
    assert capped([("limit", "10"), ("offset", "20")], 50) == ([("offset", "20"), ("limit", "10")], False)
    assert capped([("limit", "500")], 50) == ([("limit", "50")], True)
    assert capped([("limit", "0")], 50) == ([("limit", "50")], True)
