"""Orthanc down, slow, or killed in the middle of an answer: 503/504 OperationOutcomes, never a 500."""

from __future__ import annotations

import os
import signal
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.db.engine import Database
from fhir_server.settings import load_settings
from tests.imaging.conftest import (
    CT,
    CT_STUDY,
    Clinics,
    bearer,
    dicom_file,
    imaging_settings,
    install_tokens,
)
from tests.imaging.multipart import stow_body
from tests.imaging.orthanc_process import OrthancProcess, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def client(
    database_url: str, database: Database, empty_orthanc: OrthancProcess, clinics: Clinics
) -> Iterator[TestClient]:
    settings = imaging_settings(database_url, empty_orthanc, "http://testserver/fhir", orthanc_timeout=1.0)
    app = create_app(settings, database)
    install_tokens(app, clinics)
    with TestClient(app) as http:
        yield http


def outcome_code(response: Any) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["code"])


def test_orthanc_down_answers_503_and_readiness_says_so(client: TestClient, empty_orthanc: OrthancProcess) -> None:
    empty_orthanc.kill()
    search = client.get("/dicomweb/studies", headers=bearer("a-user"))
    assert search.status_code == 503 and outcome_code(search) == "transient"
    retrieve = client.get(f"/dicomweb/studies/{CT_STUDY}", headers=bearer("unbound"))
    assert retrieve.status_code == 503
    body, content_type = stow_body([dicom_file(CT).read_bytes()])
    stored = client.post("/dicomweb/studies", content=body, headers={"Content-Type": content_type, **bearer("a-user")})
    assert stored.status_code == 503 and outcome_code(stored) == "transient"
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert "not reachable" in ready.json()["checks"]["orthanc"]["detail"]
    empty_orthanc.start()
    assert client.get("/dicomweb/studies", headers=bearer("a-user")).status_code == 200
    assert client.get("/health/ready").status_code == 200


def test_orthanc_too_slow_answers_504(client: TestClient, empty_orthanc: OrthancProcess) -> None:
    assert empty_orthanc.process is not None
    os.kill(empty_orthanc.process.pid, signal.SIGSTOP)  # accepts connections (the kernel does), answers nothing
    try:
        response = client.get("/dicomweb/studies", headers=bearer("a-user"))
    finally:
        os.kill(empty_orthanc.process.pid, signal.SIGCONT)
    assert response.status_code == 504 and outcome_code(response) == "timeout"


class DyingUpstream(socketserver.BaseRequestHandler):
    """An HTTP server that starts a chunked DICOM answer and dies half-way (as Orthanc does when killed while its
    answer is still being written; a real kill cannot be timed on loopback, whose buffers hold 32 MB)."""

    def handle(self) -> None:
        self.request.recv(65536)
        head = (
            b'HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type="application/dicom"; boundary=b\r\n'
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        self.request.sendall(head + b"10000\r\n" + b"x" * 0x8000)  # half of a 64 KB chunk, then the end
        self.request.shutdown(socket.SHUT_RDWR)


class ClosingUpstream(socketserver.BaseRequestHandler):
    """An HTTP server that sends a multipart answer delimited by closing the connection, as Orthanc sends a study,
    and closes it before the closing delimiter: to the client that would look like a whole answer."""

    def handle(self) -> None:
        self.request.recv(65536)
        head = (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
            b'Content-Type: multipart/related; type="application/dicom"; boundary=b\r\n\r\n'
        )
        self.request.sendall(head + b"--b\r\nContent-Type: application/dicom\r\n\r\n" + b"x" * 0x8000)
        self.request.shutdown(socket.SHUT_RDWR)


@pytest.fixture(params=[DyingUpstream, ClosingUpstream], ids=["chunked", "close-delimited"])
def dying_upstream(request: pytest.FixtureRequest) -> Iterator[str]:
    server = socketserver.TCPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_broken_off_upstream_is_broken_off_downstream_not_ended(
    database_url: str, database: Database, dying_upstream: str, clinics: Clinics
) -> None:
    port = free_port()
    settings = load_settings(
        database_url=database_url, orthanc_url=dying_upstream, base_url=f"http://127.0.0.1:{port}/fhir",
        imaging_watch=False,
    )  # fmt: skip
    app = create_app(settings, database)
    install_tokens(app, clinics)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}/dicomweb/studies/{CT_STUDY}"
        with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url, headers=bearer("unbound")) as answer:
            assert answer.status_code == 200
            answer.read()  # the client must see a broken answer, never a complete-looking one
    finally:
        server.should_exit = True
        thread.join(timeout=20)
