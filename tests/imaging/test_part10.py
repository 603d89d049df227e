"""Reading the StudyInstanceUID from the first bytes of a Part-10 file, in every encoding a STOW may bring."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.sequence import Sequence

from fhir_server.imaging import part10, stow
from tests.imaging.conftest import dicom_file
from tests.imaging.multipart import stow_body

HEAD = 1 << 16


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",  # explicit VR little endian
        "MR_small_implicit.dcm",  # implicit VR little endian
        "MR_small_bigendian.dcm",  # explicit VR big endian (retired)
        "image_dfl.dcm",  # deflated
        "JPEG2000.dcm",  # encapsulated
        "rtplan.dcm",  # sequences before the UID
    ],
)
def test_the_study_uid_is_read_as_pydicom_reads_it(name: str) -> None:
    raw = dicom_file(name).read_bytes()
    expected = str(pydicom.dcmread(dicom_file(name), stop_before_pixels=True).StudyInstanceUID)
    assert part10.study_uid(raw[:HEAD]) == expected


def test_sequences_of_undefined_length_before_the_uid_are_skipped() -> None:
    dataset = pydicom.dcmread(dicom_file("CT_small.dcm"))
    inner = Dataset()
    inner.CodeValue, inner.CodingSchemeDesignator = "X", "99TEST"
    inner.add_new(0x00082228, "SQ", Sequence([Dataset()]))
    item = Dataset()
    item.add_new(0x00081032, "SQ", Sequence([inner]))
    dataset.ProcedureCodeSequence = Sequence([item, Dataset()])
    for element in (dataset["ProcedureCodeSequence"], item[0x00081032], inner[0x00082228]):
        element.is_undefined_length = True
        for each in element.value:
            each.is_undefined_length_sequence_item = True
    buffer = DicomBytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    raw = buffer.getvalue()
    assert raw.count(b"\xfe\xff\xdd\xe0") == 3 and raw.count(b"\xfe\xff\x0d\xe0") == 4  # delimiters, really
    assert part10.study_uid(raw) == dataset.StudyInstanceUID


def test_no_uid_is_made_up_from_a_cut_head_or_a_file_that_is_no_dicom() -> None:
    raw = dicom_file("CT_small.dcm").read_bytes()
    cut = raw.index(b"1.3.6.1.4.1.5962.1.2.1.20040119072730.12322")
    assert part10.study_uid(raw[: cut + 5]) is None
    assert part10.study_uid(raw[:300]) is None
    assert part10.study_uid(b"no DICOM here" * 100) is None


def test_the_sniffer_gives_each_parts_study_holding_one_head_at_a_time() -> None:
    files = [dicom_file(n).read_bytes() for n in ("CT_small.dcm", "MR_small.dcm")]
    body, _ = stow_body([*files, b"not dicom"], "bnd")
    sniffer = stow.PartSniffer(b"bnd")
    for i in range(0, len(body), 777):
        sniffer.feed(body[i : i + 777])
    studies = [p.study for p in sniffer.parts()]
    expected = [str(pydicom.dcmread(dicom_file(n)).StudyInstanceUID) for n in ("CT_small.dcm", "MR_small.dcm")]
    assert studies == [*expected, None]
    assert [p.dicom for p in sniffer.parts()] == [True, True, False]
