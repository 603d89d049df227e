"""Request bodies have a limit, enforced while they arrive: 413 with an OperationOutcome before anything parses them
(``FHIR_SERVER_MAX_BODY_BYTES`` for the FHIR API, 64 KiB for the authorization server's forms,
``FHIR_SERVER_MAX_STOW_BODY_BYTES`` for DICOMweb STOW-RS)."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.body_limit import AUTH_FORM_LIMIT
from fhir_server.settings import load_settings
from tests.servers import serving

LIMIT = 4096
FHIR_JSON = {"Content-Type": "application/fhir+json"}
# Each route that reads a body, with a body just over the limit that would answer 400 if it were parsed.
BODY_ROUTES = [
    ("POST", "/fhir/Patient", FHIR_JSON),
    ("PUT", "/fhir/Patient/p1", FHIR_JSON),
    ("PUT", "/fhir/Patient?identifier=x", FHIR_JSON),
    ("PATCH", "/fhir/Patient/p1", {"Content-Type": "application/json-patch+json"}),
    ("POST", "/fhir", FHIR_JSON),
    ("POST", "/fhir/Patient/$validate", FHIR_JSON),
    ("POST", "/fhir/QuestionnaireResponse/qr1/$summarize", FHIR_JSON),
    ("POST", "/fhir/Patient/_search", {"Content-Type": "application/x-www-form-urlencoded"}),
]


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = load_settings(database_url=database_url, max_body_bytes=LIMIT, max_stow_body_bytes=2 * LIMIT)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("declared", ["\u00b2", "9" * 5000, "12abc"], ids=["superscript-two", "5000-digits", "text"])
def test_a_content_length_that_is_no_number_is_counted_not_trusted(client: TestClient, declared: str) -> None:
    """A Content-Length ``int`` cannot read (``²``, 5,000 digits) must not crash the limit: the body is counted."""
    headers = {b"Content-Type": b"application/fhir+json", b"Content-Length": declared.encode("latin-1")}
    response = client.post("/fhir/Patient", content=b"{" * (LIMIT + 1), headers=headers)
    assert response.status_code in (400, 413), response.text
    assert response.json()["resourceType"] == "OperationOutcome"


def _assert_too_large(response: Any, limit: int) -> None:
    assert response.status_code == 413, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly"
    assert f"limit of {limit} bytes" in issue["diagnostics"]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize(("method", "path", "headers"), BODY_ROUTES)
def test_a_body_over_the_limit_answers_413_before_it_is_parsed(
    client: TestClient, method: str, path: str, headers: dict[str, str], declared: bool
) -> None:
    body = b"{" * (LIMIT + 1)
    content: bytes | Iterator[bytes] = body if declared else iter([body[:LIMIT], body[LIMIT:]])  # no Content-Length
    _assert_too_large(client.request(method, path, content=content, headers=headers), LIMIT)


def test_a_body_within_the_limit_is_served(client: TestClient) -> None:
    patient = {"resourceType": "Patient", "name": [{"text": "x" * (LIMIT - 100)}]}
    assert len(orjson.dumps(patient)) <= LIMIT
    assert client.post("/fhir/Patient/$validate", json=patient).status_code == 200


def test_the_authorization_server_takes_small_forms_only(database_url: str) -> None:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:  # the default FHIR limit
        form = {"grant_type": "client_credentials", "client_assertion": "x" * AUTH_FORM_LIMIT}
        _assert_too_large(client.post("/fhir/auth/token", data=form), AUTH_FORM_LIMIT)


def test_stow_has_its_own_limit_above_the_fhir_one(client: TestClient) -> None:
    headers = {"Content-Type": 'multipart/related; type="application/dicom"; boundary=b'}
    within = client.post("/dicomweb/studies", content=b"-" * (LIMIT + 1), headers=headers)
    assert within.status_code != 413  # over the FHIR limit, within STOW's: not refused for its size
    _assert_too_large(client.post("/dicomweb/studies", content=b"-" * (2 * LIMIT + 1), headers=headers), 2 * LIMIT)


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_is_refused_with_413_and_not_read_whole(
    database_url: str, tmp_path: Path
) -> None:
    """Without Content-Length the server cannot refuse up front: it stops reading at the limit and answers 413,
    while the client, which meant to send 64 MiB, has got only its socket buffers' worth past the limit away."""
    limit, total = 1 << 20, 64 << 20
    env = {
        "FHIR_SERVER_DATABASE_URL": database_url,
        "FHIR_SERVER_AUTH": "disabled",
        "FHIR_SERVER_MAX_BODY_BYTES": str(limit),
        "FHIR_SERVER_LOG_LEVEL": "warning",
    }
    with serving([], tmp_path, env) as root:
        sent, answer = _send_chunked(root, "/fhir/Patient/$validate", total)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"code":"too-costly"' in answer
    assert limit < sent < total // 4


def _send_chunked(root: str, path: str, total: int, chunk: int = 64 << 10) -> tuple[int, bytes]:
    """Send ``total`` bytes of whitespace to ``path`` with chunked transfer coding, stopping as soon as the server
    answers; (bytes sent, the answer)."""
    address = urlsplit(root)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: application/fhir+json\r\n"
        sock.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
        sent, piece = 0, b"%x\r\n" % chunk + b" " * chunk + b"\r\n"
        while sent < total and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(piece)
            except OSError:  # the server closed the connection after answering
                break
            sent += chunk
        return sent, _answer(sock)


def _answer(sock: socket.socket) -> bytes:
    answer = b""
    while b"}]}" not in answer:
        try:
            data = sock.recv(65536)
        except OSError:
            break
        if not data:
            break
        answer += data
    return answer
