"""Binary over REST (http://hl7.org/fhir/R4/binary.html#rest): raw uploads stored byte-exact, downloads in the
content's own type unless FHIR is asked for, versions of the content, the size limit, and Binary as FHIR JSON
(a transaction, search, history)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.fhir import binary_content
from tests.authorized_client import fhir_client
from tests.clinics import make_clinic

PDF = "application/pdf"
FHIR_JSON = "application/fhir+json"


def pdf_like(size: int, seed: str = "report") -> bytes:
    """``size`` bytes that start as a PDF does and are not compressible into anything shorter (every byte value)."""
    body = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    block = 0
    while len(body) < size:
        body += hashlib.sha256(f"{seed}-{block}".encode()).digest()
        block += 1
    return bytes(body[:size])


def upload(client: TestClient, content: bytes, content_type: str = PDF, **headers: str) -> str:
    """POST ``content`` raw; the new Binary's id (from Location)."""
    response = client.post("/fhir/Binary", content=content, headers={"Content-Type": content_type, **headers})
    assert response.status_code == 201, response.text
    assert response.content == b""  # no body unless Prefer: return=representation
    return response.headers["location"].split("/Binary/")[1].split("/")[0]


def binaries(client: TestClient) -> list[dict[str, Any]]:
    bundle = client.get("/fhir/Binary", params={"_count": "100"})
    assert bundle.status_code == 200, bundle.text
    return [e["resource"] for e in bundle.json().get("entry", [])]


@pytest.fixture
def small_client(database_url: str, auth_mode: str, base_url: str) -> Iterator[TestClient]:
    """A client of a server whose Binary limit is 64 KiB."""
    with fhir_client(database_url, auth_mode, base_url=base_url, binary_max_bytes=64 * 1024) as client:
        yield client


def test_a_multi_megabyte_pdf_round_trips_byte_exact(client: TestClient, clinic: dict[str, Any]) -> None:
    content = pdf_like(3 * 1024 * 1024 + 17)  # several chunks and a short last one
    binary_id = upload(client, content)
    for accept in (None, "*/*", PDF, "application/*", "application/pdf, application/fhir+json;q=0.5"):
        headers = {"Accept": accept} if accept else {}
        download = client.get(f"/fhir/Binary/{binary_id}", headers=headers)
        assert download.status_code == 200, (accept, download.text[:200])
        assert download.headers["content-type"] == PDF
        assert download.headers["etag"] == 'W/"1"'
        assert download.content == content, accept


def test_the_fhir_form_carries_the_content_as_base64(client: TestClient, clinic: dict[str, Any]) -> None:
    content = pdf_like(1024 * 1024)
    binary_id = upload(client, content)
    asks: tuple[tuple[dict[str, str], dict[str, str]], ...] = (
        ({}, {"Accept": FHIR_JSON}),
        ({"_format": "json"}, {}),
        ({}, {"Accept": f"{PDF};q=0.9, application/json"}),
    )
    for params, headers in asks:
        response = client.get(f"/fhir/Binary/{binary_id}", params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(FHIR_JSON)
        body = response.json()
        assert {k: v for k, v in body.items() if k != "meta"} == {
            "resourceType": "Binary",
            "id": binary_id,
            "contentType": PDF,
            "data": base64.b64encode(content).decode(),
        }


def test_an_accept_covering_neither_the_content_nor_fhir_answers_406(
    client: TestClient, clinic: dict[str, Any]
) -> None:
    binary_id = upload(client, b"%PDF-1.7 tiny")
    response = client.get(f"/fhir/Binary/{binary_id}", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir/Binary/{binary_id}", headers={"Accept": "application/fhir+xml"}).status_code == 406


def test_each_version_keeps_its_own_bytes(client: TestClient, clinic: dict[str, Any]) -> None:
    first, second = pdf_like(900_000, "v1"), pdf_like(50_000, "v2")
    binary_id = upload(client, first)
    replaced = client.put(f"/fhir/Binary/{binary_id}", content=second, headers={"Content-Type": "text/plain"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] == 'W/"2"'
    assert client.get(f"/fhir/Binary/{binary_id}/_history/1").content == first
    older = client.get(f"/fhir/Binary/{binary_id}/_history/1", headers={"Accept": FHIR_JSON}).json()
    assert base64.b64decode(older["data"]) == first
    current = client.get(f"/fhir/Binary/{binary_id}")
    assert current.content == second
    assert current.headers["content-type"].startswith("text/plain")
    history = client.get(f"/fhir/Binary/{binary_id}/_history").json()
    shown = [(e["resource"]["contentType"], base64.b64decode(e["resource"]["data"])) for e in history["entry"]]
    assert shown == [("text/plain", second), (PDF, first)]
    assert all("_data" not in e["resource"] for e in history["entry"])  # the stored marker is never served


def test_the_same_content_again_makes_no_new_version(client: TestClient, clinic: dict[str, Any]) -> None:
    content = pdf_like(10_000)
    binary_id = upload(client, content)
    again = client.put(f"/fhir/Binary/{binary_id}", content=content, headers={"Content-Type": PDF})
    assert again.status_code == 200, again.text
    assert again.headers["etag"] == 'W/"1"'


def test_content_beyond_the_limit_answers_413_and_stores_nothing(
    small_client: TestClient, auth_mode: str, base_url: str
) -> None:
    client = small_client
    if "authorization" not in client.headers:
        make_clinic(client, "C")
    limit = 64 * 1024
    assert upload(client, pdf_like(limit))  # exactly the limit is fine
    refused = client.post("/fhir/Binary", content=pdf_like(limit + 1), headers={"Content-Type": PDF})
    assert refused.status_code == 413, refused.text
    assert refused.json()["issue"][0]["code"] == "too-costly"

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while it arrives
        for _ in range(3):
            yield pdf_like(limit // 2)

    streamed = client.post("/fhir/Binary", content=chunked(), headers={"Content-Type": PDF})
    assert streamed.status_code == 413, streamed.text
    as_json = {"resourceType": "Binary", "contentType": PDF, "data": base64.b64encode(pdf_like(3 * limit)).decode()}
    assert client.post("/fhir/Binary", json=as_json).status_code == 413
    assert len(binaries(client)) == 1


def test_a_fhir_json_binary_is_created_and_answered_with_its_data(client: TestClient, clinic: dict[str, Any]) -> None:
    data = base64.b64encode(b"hello, world").decode()
    for content_type in (FHIR_JSON, "application/json"):
        sent = {"resourceType": "Binary", "contentType": "text/plain", "data": data}
        created = client.post("/fhir/Binary", json=sent, headers={"Content-Type": content_type})
        assert created.status_code == 201, created.text
        assert {k: v for k, v in created.json().items() if k not in ("id", "meta")} == sent
        download = client.get(f"/fhir/Binary/{created.json()['id']}")
        assert download.content == b"hello, world"


@pytest.mark.unvalidated_answers(reason="downloads the Binary's own content: a JSON document that is no FHIR resource")
def test_a_json_document_that_is_no_binary_is_stored_as_content(client: TestClient, clinic: dict[str, Any]) -> None:
    document = b'{"resourceType": "Patient", "note": "a JSON file, not a resource to create"}'
    binary_id = upload(client, document, "application/json")
    download = client.get(f"/fhir/Binary/{binary_id}", headers={"Accept": "*/*"})
    assert download.content == document
    assert client.get("/fhir/Patient").json().get("total", 0) == 0


def test_prefer_representation_answers_the_binary_json(client: TestClient, clinic: dict[str, Any]) -> None:
    response = client.post(
        "/fhir/Binary", content=b"abc", headers={"Content-Type": "text/plain", "Prefer": "return=representation"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"] == base64.b64encode(b"abc").decode()


def test_a_transaction_carries_a_binary_and_the_document_pointing_at_it(
    client: TestClient, clinic: dict[str, Any], make_patient: Any
) -> None:
    patient = make_patient()
    content = pdf_like(200_000)
    binary_url, document_url = "urn:uuid:2d9b7a3e-0000-4000-8000-000000000001", "urn:uuid:2d9b7a3e-0000-4000-8000-2"
    binary = {
        "resourceType": "Binary",
        "contentType": PDF,
        "securityContext": {"reference": f"Patient/{patient['id']}"},
        "data": base64.b64encode(content).decode(),
    }
    document = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{patient['id']}"},
        "content": [{"attachment": {"contentType": PDF, "url": binary_url, "title": "Lab report"}}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": document_url, "resource": document, "request": {"method": "POST", "url": "DocumentReference"}},
            {"fullUrl": binary_url, "resource": binary, "request": {"method": "POST", "url": "Binary"}},
        ],
    }
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 200, response.text
    stored_document, stored_binary = (e["resource"] for e in response.json()["entry"])
    assert stored_binary["data"] == binary["data"]
    url = stored_document["content"][0]["attachment"]["url"]
    assert url == f"Binary/{stored_binary['id']}"
    assert client.get(f"/fhir/{url}", headers={"Accept": PDF}).content == content
    found = client.get("/fhir/Binary", params={"security-context": f"Patient/{patient['id']}"}).json()
    assert [base64.b64decode(e["resource"]["data"]) for e in found["entry"]] == [content]


def test_a_binary_reads_back_as_sent_with_the_clients_own_data_extension(
    client: TestClient, clinic: dict[str, Any]
) -> None:
    extension = {"url": "http://example.org/fhir/StructureDefinition/scan-quality", "valueCode": "good"}
    sent = {
        "resourceType": "Binary",
        "contentType": "image/png",
        "_data": {"extension": [extension]},
        "data": base64.b64encode(b"\x89PNG\r\n\x1a\nnot really").decode(),
    }
    created = client.post("/fhir/Binary", json=sent)
    assert created.status_code == 201, created.text
    read = client.get(f"/fhir/Binary/{created.json()['id']}", params={"_format": "json"}).json()
    assert {k: v for k, v in read.items() if k not in ("id", "meta")} == sent
    forged = {**sent, "_data": {"extension": [{"url": binary_content.MARKER_URL, "valueString": "99;sha256=00"}]}}
    del forged["data"]
    stored = client.post("/fhir/Binary", json=forged)
    assert stored.status_code == 201, stored.text
    assert client.get(f"/fhir/Binary/{stored.json()['id']}").content == b""  # a client's marker means nothing
    assert "_data" not in client.get(f"/fhir/Binary/{stored.json()['id']}", params={"_format": "json"}).json()


def test_an_empty_upload_is_a_binary_without_data(client: TestClient, clinic: dict[str, Any]) -> None:
    binary_id = upload(client, b"", "text/plain")
    assert client.get(f"/fhir/Binary/{binary_id}").content == b""
    shown = client.get(f"/fhir/Binary/{binary_id}", headers={"Accept": FHIR_JSON}).json()
    assert {k: v for k, v in shown.items() if k not in ("id", "meta")} == {
        "resourceType": "Binary",
        "contentType": "text/plain",
    }


def test_a_patch_of_the_content_type_keeps_the_bytes(client: TestClient, clinic: dict[str, Any]) -> None:
    content = pdf_like(100_000)
    binary_id = upload(client, content, "application/octet-stream")
    change = [{"op": "replace", "path": "/contentType", "value": PDF}]
    patched = client.patch(
        f"/fhir/Binary/{binary_id}", json=change, headers={"Content-Type": "application/json-patch+json"}
    )
    assert patched.status_code == 200, patched.text
    assert base64.b64decode(patched.json()["data"]) == content
    download = client.get(f"/fhir/Binary/{binary_id}")
    assert (download.headers["content-type"], download.headers["etag"], download.content) == (PDF, 'W/"2"', content)
